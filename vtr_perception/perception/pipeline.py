"""PerceptionPipeline: one call per camera frame -> updated per-object estimates in the world frame.

    segment (depth table-top or instance mask) -> track (world frame) -> view buffer (virtual
    object-centred crops) -> backend (only for tracks that gained a new useful view) -> pose,
    scale and mesh (object_pose)

Bad frames never corrupt a track: a frame is skipped and counted (``skip_counts``) when the
camera pose is not a finite rigid transform, when depth has too few valid pixels, when no
support plane is found, or when the camera pose jumps and the detections disagree with the
confirmed tracks. Border-cut objects are associated (their tracks stay alive) but add no view
and no geometry; partly occluded ones (a neighbour in front hides some of the track's points)
add geometry but no view.

RGB only (no depth): needs an instance mask and ``known_object_size_m``. From one view the
distance comes from the mask's pixel extent (d = f * L / extent_px): only as good as the size
prior and the silhouette (an oblique box looks bigger than its longest side, so it is placed too
close). Once a track has views from directions more than a few degrees apart, its centre is
triangulated from the rays through the mask centres instead; the scale stays the size prior,
and there is no ICP refinement (no observed points).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from vtr_perception.geometry.cameras import Intrinsics, invert
from vtr_perception.infer.base import Backend
from vtr_perception.perception.config import PerceptionConfig
from vtr_perception.perception.evidence import EvidenceGrid, clean_depth, make_frame
from vtr_perception.perception.object_pose import ObjectEstimate, estimate_object
from vtr_perception.perception.reference_frame import Cube, object_axes_cube, resample_cube, yaw_matrix
from vtr_perception.perception.segmentation import (
    Detection,
    Segmentation,
    segment_depth,
    segment_mask,
    segmentation_stride,
)
from vtr_perception.perception.tracking import Track, Tracker, visible_footprint
from vtr_perception.perception.view_buffer import View


@dataclass
class ModelInputs:
    """A track's views as the backend sees them (PerceptionPipeline.model_inputs)."""

    images: np.ndarray  # (V, 3, S, S) float32 crops, made in cubes[0]
    rotations: np.ndarray  # (V, 3, 3) R_world_virtual of each crop's virtual camera
    cubes: list[Cube]  # the reference frames the model runs in (one per batch row)
    world_cube: Cube  # the world-aligned cube of the track, where the predictions are resampled


@dataclass
class NetworkResult:
    """A track's latest network answer in its world-aligned cube, kept so new evidence can be fused without a rerun."""

    outputs: dict[str, np.ndarray]
    cube: Cube
    rotations: np.ndarray
    num_views: int


@dataclass
class FrameResult:
    updated: list[int]  # ids whose estimate changed in this frame
    estimates: dict[int, ObjectEstimate]  # every confirmed track with an estimate
    skipped: str | None  # why the frame was skipped, None when it was used
    timings: dict[str, float] = field(default_factory=dict)  # ms: segmentation, tracking, views, evidence, ...


def _valid_pose(T: np.ndarray) -> bool:
    if T.shape != (4, 4) or not np.isfinite(T).all():
        return False
    R = T[:3, :3]
    return bool(np.allclose(R.T @ R, np.eye(3), atol=1e-3) and np.linalg.det(R) > 0)


def size_prior_detection(
    detection: Detection, intrinsics: Intrinsics, T_world_camera: np.ndarray, size: float
) -> Detection:
    """RGB only: place the object along the ray through its mask centre at d = f * size / extent_px."""
    x0, y0, x1, y1 = detection.bbox_px
    extent_px = max(x1 - x0, y1 - y0)
    distance = intrinsics.fx * size / max(extent_px, 1)
    u, v = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    ray = np.array([(u - intrinsics.cx) / intrinsics.fx, (v - intrinsics.cy) / intrinsics.fy, 1.0])
    ray /= np.linalg.norm(ray)
    center = T_world_camera[:3, :3] @ (distance * ray) + T_world_camera[:3, 3]
    detection.center, detection.extent = center, np.full(3, float(size))
    detection.ray = (T_world_camera[:3, 3].copy(), T_world_camera[:3, :3] @ ray)
    return detection


_log = logging.getLogger(__name__)

# Fusing new evidence alone re-meshes and republishes an object (marching cubes, decimation and a marker of
# thousands of points: ~100 ms of CPU on the 2-core machine); between frames at camera rate the evidence
# changes little, so an estimate takes new evidence without a new view at most this often (seconds).
REFUSION_INTERVAL_S = 1.0


class PerceptionPipeline:
    """Frames in, posed metric object reconstructions out (plain class; the ROS node wraps it)."""

    def __init__(self, config: PerceptionConfig, backend: Backend) -> None:
        self.config = config
        self.backend = backend
        self.tracker = Tracker(config)
        self.skip_counts: Counter[str] = Counter()
        self.event_counts: Counter[str] = Counter()  # not skips: border-cut views, reconstructions, ...
        self.max_model_views = min(config.max_views, backend.info.max_views)
        # The last depth frame's support plane (world): the next frame refits it instead of searching (support.py).
        self.plane_hint: np.ndarray | None = None

    def reset(self) -> list[int]:
        """Start over: forget every object and its views (returns the ids forgotten); counters stay."""
        self.plane_hint = None
        return self.tracker.reset()

    @property
    def frames_skipped(self) -> int:
        return int(sum(self.skip_counts.values()))

    def _skip(self, reason: str, timings: dict[str, float]) -> FrameResult:
        self.skip_counts[reason] += 1
        return FrameResult([], self.estimates(), reason, timings)

    def estimates(self) -> dict[int, ObjectEstimate]:
        out = {}
        for t in self.tracker.confirmed():
            if t.estimate is not None:
                t.estimate.frames_skipped = self.frames_skipped
                t.estimate.skip_reasons = dict(self.skip_counts)
                out[t.id] = t.estimate
        return out

    def tracked_footprints(self) -> np.ndarray:
        """(M, 2, 3) world boxes (lo, hi) of the confirmed tracks: segmentation keeps what stands there."""
        boxes = [(t.center - t.extent / 2, t.center + t.extent / 2) for t in self.tracker.confirmed()]
        return np.asarray(boxes, dtype=np.float64).reshape(-1, 2, 3)

    def _segment(self, rgb, depth, intrinsics, T, mask, jumped: bool = False) -> Segmentation | str:
        cfg = self.config
        if mask is not None:
            seg = segment_mask(mask, depth, intrinsics, T, cfg)
        elif depth is not None:
            # No hint used or kept across a camera pose jump: that pose, and the world plane it gives, may be off.
            seg = segment_depth(depth, intrinsics, T, cfg, plane_hint=None if jumped else self.plane_hint,
                                known_footprints=self.tracked_footprints())  # fmt: skip
            if not jumped:
                self.plane_hint = seg.plane_world
        else:
            return "no_depth_and_no_mask"
        if seg.reason is not None:
            return seg.reason
        if depth is None:
            if cfg.known_object_size_m <= 0:
                return "rgb_only_needs_known_object_size"
            seg.detections = [size_prior_detection(d, intrinsics, T, cfg.known_object_size_m) for d in seg.detections]
        seg.detections = [d for d in seg.detections if np.isfinite(d.center).all() and d.size > 1e-3]
        return seg

    def process(
        self,
        rgb: np.ndarray,
        depth: np.ndarray | None,
        intrinsics: Intrinsics,
        T_world_camera: np.ndarray,
        stamp: float,
        mask: np.ndarray | None = None,
        *,
        reconstruct: bool = True,
    ) -> FrameResult:
        """Use one frame. ``rgb`` (H, W, 3) uint8; ``depth`` (H, W) metres or None; ``mask`` instance ids.

        ``reconstruct`` false: the frame's views and evidence are kept, and the tracks due for a
        reconstruction wait for a later frame (a node that has fallen behind its camera catches up).
        """
        t0 = time.perf_counter()
        rgb = np.asarray(rgb)
        if rgb.shape != (intrinsics.height, intrinsics.width, 3) or rgb.dtype != np.uint8:
            raise ValueError(
                f"rgb must be ({intrinsics.height}, {intrinsics.width}, 3) uint8 to match the "
                f"intrinsics, got {rgb.shape} {rgb.dtype}"
            )
        T = np.asarray(T_world_camera, dtype=np.float64)
        timings: dict[str, float] = {}
        if not _valid_pose(T):
            return self._skip("invalid_camera_pose", timings)
        if depth is not None and np.shape(depth) != (intrinsics.height, intrinsics.width):
            return self._skip("depth_size_mismatch", timings)
        jumped = self.tracker.pose_jumped(T)
        seg = self._segment(rgb, depth, intrinsics, T, mask, jumped)
        t1 = time.perf_counter()
        timings["segmentation"] = 1e3 * (t1 - t0)
        if isinstance(seg, str):
            return self._skip(seg, timings)

        step = self.tracker.step(seg.detections, intrinsics, T, stamp, depth, seg.plane_world)
        t2 = time.perf_counter()
        timings["tracking"] = 1e3 * (t2 - t1)
        if step.skipped:
            return self._skip(step.skipped, timings)

        T_camera_world = invert(T)
        for track, det in step.matches:
            if det.cut_by_border:
                self.event_counts["border_cut_view_dropped"] += 1
                continue
            if self._occluded(track, depth, intrinsics, T_camera_world):
                self.event_counts["occluded_view_dropped"] += 1
                continue
            view = View.from_frame(rgb, det.mask, intrinsics, T, stamp, track.center)
            if track.buffer.consider(view):
                track.needs_reconstruction = True
        t3 = time.perf_counter()
        timings["views"] = 1e3 * (t3 - t2)
        if self.config.evidence_fusion:
            self._integrate_evidence(step.matches, depth, intrinsics, T, jumped)
        timings["evidence"] = 1e3 * (time.perf_counter() - t3)

        updated, network_ms, pose_ms = [], 0.0, 0.0
        for track in self._due_for_reconstruction(stamp) if reconstruct else []:
            before = track.estimate
            if track.needs_reconstruction:
                n_ms, p_ms = self._reconstruct(track, stamp)
            else:  # new evidence, no new view: fuse again without the network
                t4 = time.perf_counter()
                self._place(track, stamp)
                n_ms, p_ms = 0.0, 1e3 * (time.perf_counter() - t4)
                self.event_counts["evidence_refusions"] += 1
            network_ms, pose_ms = network_ms + n_ms, pose_ms + p_ms
            if track.estimate is not before:
                updated.append(track.id)
        timings["network"], timings["pose"] = network_ms, pose_ms
        timings["total"] = 1e3 * (time.perf_counter() - t0)
        timings["pipeline"] = timings["total"] - network_ms
        return FrameResult(updated, self.estimates(), None, timings)

    def _integrate_evidence(self, matches, depth, intrinsics: Intrinsics, T: np.ndarray, jumped: bool) -> None:
        """Add this frame's measured space to every matched track and, with depth, to the confirmed tracks it
        did not match (free space only: an object taken away is measured gone). Invalid depth pixels add
        nothing; a frame without any valid depth is counted and adds nothing."""
        cfg = self.config
        clean = None if depth is None else clean_depth(depth, cfg)
        if clean is not None and not np.isfinite(clean).any():
            self.event_counts["evidence_skipped_invalid_depth"] += 1
            return
        masks = {t.id: d.mask for t, d in matches}
        for track in list(self.tracker.tracks.values()):
            if track.id not in masks and (clean is None or not track.confirmed):
                continue
            if track.evidence is None:
                track.evidence = EvidenceGrid(cfg, self.backend.info.resolution)
            grid = track.evidence
            if grid.follow(track.center, track.size):
                self.event_counts["evidence_reintegrations"] += 1
            own = masks.get(track.id)
            own = np.zeros((intrinsics.height, intrinsics.width), dtype=bool) if own is None else own
            frame = make_frame(clean, own, intrinsics, T, track.center, track.size, grid.resolution, cfg)
            if frame is None:
                continue
            # After a camera pose jump (which the tracker accepted) the pose itself may be wrong: a frame that
            # then contradicts the measured shape is dropped instead of resetting it.
            result = grid.integrate(frame, may_reset=not jumped)
            if result.rejected:
                self.event_counts["evidence_rejected_after_pose_jump"] += 1
                continue
            self.event_counts["evidence_frames"] += 1
            if result.reset:
                self.event_counts["evidence_reset"] += 1
                _log.info("object %d: new depth contradicts %.0f%% of its measured occupied voxels (moved?): "
                          "its evidence was reset", track.id, 100 * result.contradicted)  # fmt: skip

    def _evidence_moved_on(self, track: Track) -> bool:
        grid = track.evidence
        return self.config.evidence_fusion and grid is not None and grid.version != track.fused_version

    def _occluded(
        self, track: Track, depth: np.ndarray | None, intrinsics: Intrinsics, T_camera_world: np.ndarray
    ) -> bool:
        """Whether something in front hides too much of the track for its silhouette to be a view."""
        cfg = self.config
        if depth is None or cfg.view_min_visible_fraction <= 0 or len(track.points) == 0:
            return False
        visible, _ = visible_footprint(track.points, depth, intrinsics, T_camera_world, cfg.occlusion_margin_m,
                                       segmentation_stride(cfg, intrinsics))  # fmt: skip
        return visible < cfg.view_min_visible_fraction

    def _due_for_reconstruction(self, stamp: float) -> list[Track]:
        """Tracks with new views to reconstruct or new evidence to fuse, those whose estimate is oldest first.

        Fusing new evidence into the last network answer takes a turn as a reconstruction does (it meshes
        again), so ``max_reconstructions_per_frame`` bounds both. New evidence alone is fused into an estimate
        at least ``REFUSION_INTERVAL_S`` (frame stamps) old: a new view is reconstructed at once.
        """

        def evidence_due(t: Track) -> bool:
            fresh = t.estimate is not None and stamp - t.estimate.last_update < REFUSION_INTERVAL_S
            return t.network is not None and self._evidence_moved_on(t) and not fresh

        due = [t for t in self.tracker.confirmed()
               if (t.needs_reconstruction and len(t.buffer) >= self.config.min_views_to_reconstruct)
               or evidence_due(t)]  # fmt: skip
        due.sort(key=lambda t: -np.inf if t.estimate is None else t.estimate.last_update)
        limit = self.config.max_reconstructions_per_frame
        return due[:limit] if limit > 0 else due

    def model_inputs(self, track: Track) -> ModelInputs:
        """What the backend is given for ``track``: crops of its views and the reference frames they are in.

        Pose-aware models run in the object's own axes (``reference_frame`` object_axes) and, with
        ``reference_turns`` > 1, in frames turned about z from them; the model's rotations for frame
        ``k`` are ``cubes[k].rotation.T @ rotations``.
        """
        info = self.backend.info
        world_cube = Cube(np.asarray(track.center, dtype=np.float64), track.size, np.eye(3))
        cube = world_cube
        if info.needs_rotations and self.config.reference_frame == "object_axes":
            cube = object_axes_cube(track.points, track.floor_z, world_cube)
        images, rotations = track.buffer.model_inputs(
            cube.center, cube.side, info.image_size, max_views=self.max_model_views
        )
        cubes = [cube]
        if info.needs_rotations:
            turns = self.config.reference_turns
            cubes += [Cube(cube.center, cube.side, cube.rotation @ yaw_matrix(2.0 * np.pi * k / turns))
                      for k in range(1, turns)]  # fmt: skip
        return ModelInputs(images, rotations, cubes, world_cube)

    def _reconstruct(self, track: Track, stamp: float) -> tuple[float, float]:
        """Run the backend on the track's views and place the result; returns (network ms, rest ms)."""
        t0 = time.perf_counter()
        inputs = self.model_inputs(track)
        images, rotations, cubes, world_cube = inputs.images, inputs.rotations, inputs.cubes, inputs.world_cube
        t1 = time.perf_counter()
        if self.backend.info.needs_rotations:
            model_rotations = np.stack([c.rotation.T @ rotations for c in cubes]).astype(np.float32)  # R_ref_virtual
            outputs = self.backend.run(np.repeat(images[None], len(cubes), axis=0), model_rotations)
        else:
            outputs = self.backend.run(images[None], None)
        t2 = time.perf_counter()
        if len(cubes) > 1 or cubes[0] is not world_cube:
            # Each prediction back in the world-aligned cube, averaged over the turns; other outputs: the first.
            raw, outputs = outputs, {key: np.asarray(value)[:1] for key, value in outputs.items()}
            keys = [key for key in ("occupancy", "error") if key in raw]
            grids = np.stack([np.asarray(raw[key]) for key in keys], axis=1)  # (turns, keys, R, R, R)
            fused = np.mean([resample_cube(grids[i], c, world_cube) for i, c in enumerate(cubes)], axis=0)
            outputs.update({key: fused[j][None] for j, key in enumerate(keys)})
        track.needs_reconstruction = False
        occupancy = np.asarray(outputs.get("occupancy", np.empty(0)))
        if occupancy.ndim != 4 or not np.isfinite(occupancy).all():
            # A broken backend answer never replaces a good estimate; it is counted, not raised.
            self.event_counts["reconstruction_rejected_non_finite"] += 1
            return 1e3 * (t2 - t1), 1e3 * (t1 - t0)
        track.network = NetworkResult(outputs, world_cube, rotations, len(images))
        self._place(track, stamp)
        self.event_counts["reconstructions"] += 1
        return 1e3 * (t2 - t1), 1e3 * ((t1 - t0) + (time.perf_counter() - t2))

    def _place(self, track: Track, stamp: float) -> None:
        """The track's estimate from its latest network answer, fused with its evidence as it is now."""
        net: NetworkResult = track.network
        evidence = None
        grid: EvidenceGrid | None = track.evidence
        if self.config.evidence_fusion and grid is not None and len(grid):
            evidence = grid.logodds
            if not (np.allclose(grid.center, net.cube.center) and np.isclose(grid.side, net.cube.side)):
                evidence = resample_cube(grid.logodds, Cube(grid.center, grid.side, np.eye(3)), net.cube)
            track.fused_version = grid.version
        track.estimate = estimate_object(
            track_id=track.id,
            outputs=net.outputs,
            mode=self.backend.info.mode,
            center=net.cube.center,
            size=net.cube.side,
            observed_points=track.points,
            R_world_cameras=net.rotations,
            num_views=net.num_views,
            stamp=stamp,
            config=self.config,
            evidence=evidence,
            floor_z=track.floor_z,
        )
