"""Object tracks in the world frame: association (Hungarian), life cycle, camera-pose-jump guard.

A detection matches a track only inside the gates (centre distance and size ratio), so a blob
of two touching objects never updates either object's track. A track counts a miss only when
its centre is in front of the camera and inside the image and, where there is depth, enough
of its fused points are not hidden behind something nearer and they cover enough pixels for
segmentation to keep it: objects out of view, occluded by a neighbour or too small from here
are kept. Detections that lie in one confirmed track's box are first joined into one
(``merge_fragments``: an object depth clustering split into pieces from this side), and two
tracks stacked on one footprint are one object (``stacked_pair``: a lamp's shade and base,
split in the frames that made them): the younger joins the older, whose id stays. A frame
whose camera pose jumps and whose detections then disagree with the confirmed tracks is
skipped as a whole, leaving every track untouched.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import open3d as o3d
from scipy.optimize import linear_sum_assignment
from scipy.spatial import ConvexHull, Delaunay, QhullError

from vtr_perception.geometry.cameras import Intrinsics, invert, rotation_angle_deg, transform_points
from vtr_perception.perception.config import PerceptionConfig
from vtr_perception.perception.segmentation import Detection, segmentation_stride
from vtr_perception.perception.support import height_above, noise_threshold
from vtr_perception.perception.view_buffer import ViewBuffer

_GATED = 1e6
# Two tracks stand on one footprint when the convex hull of one's fused points in world xy covers at least
# STACKED_OVERLAP of the other's and their xy box centres are at most STACKED_CENTRE_FRACTION of the larger box's
# longest side (or cluster_eps_m) apart: separate objects on a table stand side by side, more than cluster_eps_m
# apart, and segmentation makes a piece over a standing one part of it (a lamp's shade over its base). A piece
# near the edge of a track's box is left alone: it may be a neighbour the track's box reaches over. A mug seen from
# 1.5 m splits into its near wall and the inside of its far wall (the rim between them too sparse), whose track
# boxes lie 3.4 cm apart for an 11.5 cm mug: 0.35 holds that, and a piece at a box's corner stays apart.
STACKED_OVERLAP = 0.5
STACKED_CENTRE_FRACTION = 0.35
# A frame's support plane turned this much from the one a track was last found on is another surface or a
# wrong fit: it counts no miss for the track. On the real recording (benchmarks/real_recording.py) the table's
# fit turned under 2 deg between frames that found it, and the wrong fits 9-10 deg.
MISS_SUPPORT_TILT_DEG = 5.0


@dataclass
class Track:
    id: int
    center: np.ndarray
    extent: np.ndarray
    buffer: ViewBuffer
    first_seen: float
    last_seen: float
    hits: int = 1
    misses: int = 0
    confirmed: bool = False
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # fused world points (voxel-thinned)
    floor_z: float = np.inf  # lowest support height seen under the object
    fused_direction: np.ndarray | None = None  # viewing direction of the last depth fusion
    rays: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # RGB only: mask-centre rays
    needs_reconstruction: bool = False
    estimate: object | None = None  # the latest ObjectEstimate
    evidence: object | None = None  # perception.evidence.EvidenceGrid, measured free/occupied space
    network: object | None = None  # perception.pipeline.NetworkResult, the latest network answer
    fused_version: int = -1  # the evidence version the estimate was fused with
    support_normal: np.ndarray | None = None  # unit normal of the support plane of the last frame that matched it
    _box: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    @property
    def size(self) -> float:
        return float(np.max(self.extent))

    def box(self) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) world corners of the fused points, kept until the points change (every pair of tracks
        is compared each frame, and the points are thousands)."""
        if self._box is None or self._box[0] is not self.points:
            self._box = (self.points, self.points.min(axis=0), self.points.max(axis=0))
        return self._box[1], self._box[2]

    def fuse(
        self, detection: Detection, voxel: float, camera: np.ndarray | None = None, min_angle_deg: float = 0.0
    ) -> None:
        """Merge a complete (not border-cut) detection into the track's geometry.

        Depth points seen from within ``min_angle_deg`` of the last fused viewing direction
        are skipped: they repeat what the track has (and fusing costs time every frame).
        """
        if camera is not None and len(detection.points_world):
            direction = camera - detection.center
            direction /= np.linalg.norm(direction)
            if (
                self.fused_direction is not None
                and np.degrees(np.arccos(np.clip(direction @ self.fused_direction, -1.0, 1.0))) < min_angle_deg
            ):
                return
            self.fused_direction = direction
        lo_z = float(detection.center[2] - detection.extent[2] / 2.0)
        self.floor_z = min(self.floor_z, lo_z)
        if len(detection.points_world) == 0:  # RGB only
            self.extent = detection.extent.copy()
            if detection.ray is not None:
                self.rays = [*self.rays[-49:], detection.ray]
            triangulated = triangulate(self.rays)
            if triangulated is not None:
                self.center = triangulated
            else:  # a single viewing direction: running mean of the size-prior centres
                w = 1.0 / max(self.hits, 1)
                self.center = (1.0 - w) * self.center + w * detection.center
            return
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.vstack([self.points, detection.points_world])))
        self.points = np.asarray(cloud.voxel_down_sample(voxel).points)
        lo, hi = self.points.min(axis=0), self.points.max(axis=0)
        lo[2] = min(lo[2], self.floor_z)
        self.center, self.extent = 0.5 * (lo + hi), hi - lo


def triangulate(rays: list[tuple[np.ndarray, np.ndarray]], min_angle_deg: float = 5.0) -> np.ndarray | None:
    """Least-squares point nearest to all rays (origin, unit direction); None without enough baseline."""
    if len(rays) < 2:
        return None
    dirs = np.stack([d for _, d in rays])
    if np.degrees(np.arccos(np.clip(dirs @ dirs.T, -1.0, 1.0))).max() < min_angle_deg:
        return None
    A, b = np.zeros((3, 3)), np.zeros(3)
    for o, d in rays:
        P = np.eye(3) - np.outer(d, d)
        A += P
        b += P @ o
    return np.linalg.solve(A, b)


def visible_footprint(points_world: np.ndarray, depth: np.ndarray, intrinsics: Intrinsics,
                      T_camera_world: np.ndarray, margin_m: float, stride: int,
                      max_points: int = 512) -> tuple[float, int]:  # fmt: skip
    """(share of the in-image points nothing else hides, strided pixel cells those points cover).

    A point is hidden when its pixel's depth is more than ``margin_m`` nearer than the object's
    nearest point (so the object's own front does not hide its back); a pixel without depth
    (nothing hit) hides nothing. The cells approximate how many points segmentation would get
    from the object here (it samples every ``stride``-th pixel). (1.0, 0) when no point is inside.
    """
    pts = points_world[:: max(1, len(points_world) // max_points)]
    p = transform_points(T_camera_world, pts)
    p = p[p[:, 2] > 1e-6]
    if len(p) == 0:
        return 1.0, 0
    uv = np.floor(intrinsics.project(p)).astype(np.int64)
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < intrinsics.width) & (uv[:, 1] >= 0) & (uv[:, 1] < intrinsics.height)
    if not inside.any():
        return 1.0, 0
    uv = uv[inside]
    seen = depth[uv[:, 1], uv[:, 0]]
    hidden = np.isfinite(seen) & (seen < p[:, 2].min() - margin_m)
    cell = uv[~hidden] // max(int(stride), 1)
    cells = np.unique(cell[:, 1] * (intrinsics.width + 1) + cell[:, 0])  # 1-D keys: unique(axis=0) is 10x slower
    return float(1.0 - hidden.mean()), len(cells)


def merge_fragments(detections: list[Detection], boxes: list[tuple[np.ndarray, np.ndarray]], margin_m: float,
                    inside_fraction: float = 0.9) -> list[Detection]:  # fmt: skip
    """Join detections that are pieces of one tracked object: their points lie in its box.

    From some sides an object's parts are connected only through surfaces it hides itself (a
    handle behind a body), and depth clustering returns two blobs. Alone, either blob would match
    the track and give it a view of a fragment, which makes the reconstructor carve the rest away.
    A detection belongs to a box (lo, hi, world axes, grown by ``margin_m``) when at least
    ``inside_fraction`` of its points lie in it and in no other box; two or more belonging to the
    same box become one detection. Detections without points (RGB only) are left as they are.
    """
    owner: dict[int, int] = {}
    for j, d in enumerate(detections):
        if len(d.points_world) == 0:
            continue
        homes = [b for b, (lo, hi) in enumerate(boxes)
                 if np.mean(np.all((d.points_world >= lo - margin_m) & (d.points_world <= hi + margin_m), axis=1))
                 >= inside_fraction]  # fmt: skip
        if len(homes) == 1:
            owner[j] = homes[0]
    groups: dict[int, list[int]] = {}
    for j, b in owner.items():
        groups.setdefault(b, []).append(j)
    merged = {min(js): js for js in groups.values() if len(js) > 1}
    dropped = {j for js in merged.values() for j in js[1:]}
    out = []
    for j, d in enumerate(detections):
        if j in dropped:
            continue
        if j not in merged:
            out.append(d)
            continue
        parts = [detections[k] for k in merged[j]]
        lo = np.min([p.center - p.extent / 2.0 for p in parts], axis=0)
        hi = np.max([p.center + p.extent / 2.0 for p in parts], axis=0)
        out.append(Detection(np.logical_or.reduce([p.mask for p in parts]), np.vstack([p.points_world for p in parts]),
                             0.5 * (lo + hi), hi - lo, any(p.cut_by_border for p in parts), d.instance_id))  # fmt: skip
    return out


def footprint_overlap(a: np.ndarray, b: np.ndarray, cell_m: float) -> float:
    """The share of the smaller footprint (convex hull of the points' world xy) that the other one covers.

    Worked out on a grid of ``cell_m`` cells over where the two boxes meet; 0 when the boxes do not meet or a
    hull is degenerate (fewer than three points not on a line)."""
    lo, hi = np.maximum(a[:, :2].min(0), b[:, :2].min(0)), np.minimum(a[:, :2].max(0), b[:, :2].max(0))
    if np.any(hi <= lo):
        return 0.0
    inside = []
    box_lo, box_hi = np.minimum(a[:, :2].min(0), b[:, :2].min(0)), np.maximum(a[:, :2].max(0), b[:, :2].max(0))
    cell = max(cell_m, float(np.max(box_hi - box_lo)) / 200.0)
    gx, gy = (np.arange(box_lo[k] + cell / 2, box_hi[k], cell) for k in (0, 1))
    grid = np.stack(np.meshgrid(gx, gy, indexing="ij"), axis=-1).reshape(-1, 2)
    for pts in (a[:, :2], b[:, :2]):
        try:
            hull = pts[ConvexHull(pts).vertices]
            inside.append(Delaunay(hull).find_simplex(grid) >= 0)
        except QhullError:
            return 0.0
    smaller = min(int(inside[0].sum()), int(inside[1].sum()))
    return float((inside[0] & inside[1]).sum()) / smaller if smaller else 0.0


def _inside(inner: Track, outer: Track, margin_m: float, fraction: float = 0.9) -> bool:
    """Whether ``fraction`` of ``inner``'s points lie in the world box of ``outer``'s grown by ``margin_m``."""
    lo, hi = outer.box()
    lo, hi = lo - margin_m, hi + margin_m
    inner_lo, inner_hi = inner.box()
    if np.all(inner_lo >= lo) and np.all(inner_hi <= hi):
        return True
    points = inner.points
    return bool(np.mean(np.all((points >= lo) & (points <= hi), axis=1)) >= fraction)


def _one_object(a: Track, b: Track, tracks: list[Track], cell_m: float, margin_m: float) -> bool:
    """Whether the older track ``a`` and the younger ``b`` are one object: on one footprint (module constants)
    and either stacked (one's points all above the other's, as a shade over a base) or one inside the other's
    box (a piece of it). A younger track whose box holds another track too is a blob of touching objects,
    never one of them."""
    boxes = [(lo[:2], hi[:2]) for lo, hi in (a.box(), b.box())]
    apart = float(np.linalg.norm(0.5 * (boxes[0][0] + boxes[0][1]) - 0.5 * (boxes[1][0] + boxes[1][1])))
    larger = max(float(np.max(hi - lo)) for lo, hi in boxes)
    if apart > max(STACKED_CENTRE_FRACTION * larger, margin_m):
        return False
    if footprint_overlap(a.points, b.points, cell_m) < STACKED_OVERLAP:
        return False
    za, zb = a.points[:, 2], b.points[:, 2]
    if za.min() > zb.max() - margin_m or zb.min() > za.max() - margin_m:
        return True
    if _inside(b, a, margin_m):
        return True
    others = (t for t in tracks if t is not a and t is not b and len(t.points))
    return _inside(a, b, margin_m) and not any(_inside(t, b, margin_m) for t in others)


def stacked_pair(tracks: list[Track], cell_m: float, margin_m: float) -> tuple[Track, Track] | None:
    """(older, younger) of the first two tracks that are one object (``_one_object``), else None.

    Tracks without points (RGB only) are never paired."""
    ordered = sorted((t for t in tracks if len(t.points) >= 3), key=lambda t: t.id)
    for a, b in itertools.combinations(ordered, 2):
        if _one_object(a, b, ordered, cell_m, margin_m):
            return a, b
    return None


def absorb(keep: Track, other: Track, voxel: float, margin_m: float) -> bool:
    """Make ``keep`` the whole object of ``keep`` and ``other`` (two pieces of it); ``other`` is dropped after.

    When ``keep``'s box already held ``other``'s points, ``other`` was a piece of what ``keep`` has seen whole:
    ``keep`` stays as it is. Otherwise the geometry is the union, and views, evidence and estimate are
    ``other``'s if its box held ``keep``'s points (it saw the whole object), else none: both saw pieces, whose
    silhouettes would carve the object away, and the views start again from the next frames, which show it
    whole. Returns whether ``other`` was the whole one (its detections are then the object's)."""
    keep.confirmed = keep.confirmed or other.confirmed
    keep.first_seen, keep.last_seen = min(keep.first_seen, other.first_seen), max(keep.last_seen, other.last_seen)
    if _inside(other, keep, margin_m):
        return False
    whole_other = _inside(keep, other, margin_m)
    if whole_other:
        keep.buffer, keep.evidence = other.buffer, other.evidence
        keep.estimate, keep.network, keep.fused_version = None, None, -1  # estimated again under keep's id
        keep.needs_reconstruction = len(keep.buffer) > 0
    else:
        keep.buffer = ViewBuffer(max_views=keep.buffer.max_views, min_angle_deg=keep.buffer.min_angle_deg)
        keep.evidence, keep.estimate, keep.network, keep.fused_version = None, None, None, -1
        keep.needs_reconstruction = False
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.vstack([keep.points, other.points])))
    keep.points = np.asarray(cloud.voxel_down_sample(voxel).points)
    keep.floor_z = min(keep.floor_z, other.floor_z)
    lo, hi = keep.points.min(axis=0), keep.points.max(axis=0)
    lo[2] = min(lo[2], keep.floor_z)
    keep.center, keep.extent = 0.5 * (lo + hi), hi - lo
    keep.hits += other.hits
    keep.misses = min(keep.misses, other.misses)
    keep.fused_direction = None  # the next frame fuses whatever its direction
    return whole_other


@dataclass
class TrackingStep:
    matches: list[tuple[Track, Detection]]
    created: list[Track]
    retired: list[int]
    skipped: str | None = None


class Tracker:
    """Keeps stable object ids across frames."""

    def __init__(self, config: PerceptionConfig) -> None:
        self.config = config
        self.tracks: dict[int, Track] = {}
        self._ids = itertools.count(1)
        self._last_pose: np.ndarray | None = None

    def confirmed(self) -> list[Track]:
        return [t for t in self.tracks.values() if t.confirmed]

    def reset(self) -> list[int]:
        """Forget every track (returns their ids); new tracks get new ids, never a forgotten one's."""
        ids = sorted(self.tracks)
        self.tracks.clear()
        self._last_pose = None
        return ids

    def _cost(self, tracks: list[Track], detections: list[Detection]) -> np.ndarray:
        cfg = self.config
        cost = np.full((len(tracks), len(detections)), _GATED)
        for i, t in enumerate(tracks):
            for j, d in enumerate(detections):
                dist = float(np.linalg.norm(t.center - d.center))
                ratio = d.size / max(t.size, 1e-6)
                too_big = ratio > cfg.size_ratio_gate
                too_small = ratio < 1.0 / cfg.size_ratio_gate and not d.cut_by_border  # a cut object looks small
                if dist <= cfg.gate_distance_m and not too_big and not too_small:
                    cost[i, j] = dist + cfg.size_weight * abs(d.size - t.size)
        return cost

    def _associate(self, tracks: list[Track], detections: list[Detection]) -> list[tuple[int, int]]:
        if not tracks or not detections:
            return []
        cost = self._cost(tracks, detections)
        rows, cols = linear_sum_assignment(cost)
        return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if cost[r, c] < _GATED]

    def in_view(
        self,
        track: Track,
        intrinsics: Intrinsics,
        T_world_camera: np.ndarray,
        depth: np.ndarray | None = None,
        plane: np.ndarray | None = None,
    ) -> bool:
        """Whether the camera should see the track: centre in front and in the image and, given a
        depth image, neither occluded nor too small to segment (see ``visible_footprint``). Given the
        frame's support ``plane``, a track found in at least ``retire_misses`` frames counts only its
        points that stand above the plane's noise band at their distance from this camera, as segmentation
        keeps nothing lower (a shallow object seen from far is not expected); a track found less often
        counts all its points, so a flat patch of noise found once or twice is still missed away."""
        T_camera_world = invert(T_world_camera)
        p = transform_points(T_camera_world, track.center[None])[0]
        if p[2] <= self.config.min_depth_m or p[2] > self.config.max_depth_m:
            return False
        u, v = intrinsics.project(p[None])[0]
        if not (0 <= u < intrinsics.width and 0 <= v < intrinsics.height):
            return False
        if depth is None or len(track.points) == 0:
            return True
        cfg = self.config
        points = track.points
        if plane is not None and track.hits >= cfg.retire_misses:
            distance = transform_points(T_camera_world, points)[:, 2]
            points = points[height_above(points, plane) > noise_threshold(distance, cfg)]
            if len(points) == 0:
                return False
        visible, cells = visible_footprint(points, depth, intrinsics, T_camera_world, cfg.occlusion_margin_m,
                                           segmentation_stride(cfg, intrinsics))  # fmt: skip
        # Too few points here for segmentation to keep for sure (a flat object seen from far and low): not expected.
        return visible >= cfg.occluded_below_fraction and cells >= cfg.expected_cells_factor * cfg.min_object_points

    def on_support(self, track: Track, plane: np.ndarray | None) -> bool:
        """Whether segmentation on ``plane`` (a, b, c, d; unit normal) could have found the track: the plane
        passes within ``miss_support_tolerance_m`` of its bottom and turns less than ``MISS_SUPPORT_TILT_DEG``
        from the plane of the last frame that found it (True without a plane or tolerance)."""
        tolerance = self.config.miss_support_tolerance_m
        if plane is None or tolerance <= 0 or len(track.points) == 0:
            return True
        normal = np.asarray(plane[:3], dtype=np.float64)
        if track.support_normal is not None and abs(float(normal @ track.support_normal)) < np.cos(
            np.radians(MISS_SUPPORT_TILT_DEG)
        ):
            return False
        lo, hi = track.box()
        bottom = np.array([0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1]), min(lo[2], track.floor_z)])
        return abs(float(normal @ bottom + plane[3])) <= tolerance

    def pose_jumped(self, T_world_camera: np.ndarray) -> bool:
        """Whether ``T_world_camera`` jumps from the previous frame's pose (before ``step`` records it)."""
        return self._pose_jump(T_world_camera)

    def _pose_jump(self, T_world_camera: np.ndarray) -> bool:
        if self._last_pose is None:
            return False
        moved = np.linalg.norm(T_world_camera[:3, 3] - self._last_pose[:3, 3])
        turned = rotation_angle_deg(T_world_camera, self._last_pose)
        return bool(moved > self.config.max_camera_jump_m or turned > self.config.max_camera_jump_deg)

    def step(
        self,
        detections: list[Detection],
        intrinsics: Intrinsics,
        T_world_camera: np.ndarray,
        stamp: float,
        depth: np.ndarray | None = None,
        support_plane: np.ndarray | None = None,
    ) -> TrackingStep:
        """Associate one frame's detections; create, confirm and retire tracks (``depth``: occlusion test;
        ``support_plane``: this frame's (a, b, c, d) world plane, see ``on_support``)."""
        cfg = self.config
        tracks = list(self.tracks.values())
        if cfg.merge_fragments:
            known = [t for t in self.confirmed() if len(t.points)]
            detections = merge_fragments(detections, [t.box() for t in known], cfg.cluster_eps_m)
        pairs = self._associate(tracks, detections)
        matched_tracks = {tracks[i].id for i, _ in pairs}
        jumped = self._pose_jump(T_world_camera)
        # Jumps are measured against the previous frame, used or not: a pose that stays where it
        # jumped to is a real move (judged on its own next frame), a one-frame glitch is skipped.
        self._last_pose = np.array(T_world_camera, dtype=np.float64)
        if jumped:
            # Consistent = most confirmed tracks expected in view are matched and most detections
            # match a track; a jump to an empty view (nothing expected, nothing seen) is accepted.
            expected = [
                t for t in self.confirmed() if self.in_view(t, intrinsics, T_world_camera, depth, support_plane)
            ]
            frac = cfg.jump_min_consistency
            tracks_ok = not expected or sum(t.id in matched_tracks for t in expected) >= frac * len(expected)
            detections_ok = not detections or len(pairs) >= frac * len(detections)
            if self.confirmed() and not (tracks_ok and detections_ok):
                return TrackingStep([], [], [], skipped="camera_pose_jump")

        matches = []
        for i, j in pairs:
            t, d = tracks[i], detections[j]
            t.hits += 1
            t.misses = 0
            t.last_seen = stamp
            t.confirmed = t.confirmed or t.hits >= cfg.confirm_hits
            if support_plane is not None:
                t.support_normal = np.asarray(support_plane[:3], dtype=np.float64)
            if not d.cut_by_border:
                t.fuse(d, cfg.fused_voxel_m, T_world_camera[:3, 3], cfg.fuse_min_angle_deg)
            matches.append((t, d))
        matched_dets = {j for _, j in pairs}

        retired = []
        for t in tracks:
            if t.id in matched_tracks:
                continue
            if self.in_view(t, intrinsics, T_world_camera, depth, support_plane) and self.on_support(t, support_plane):
                t.misses += 1
            timed_out = cfg.track_timeout_s > 0 and stamp - t.last_seen > cfg.track_timeout_s
            limit = cfg.retire_misses if t.confirmed else 2
            if t.misses >= limit or timed_out:
                retired.append(t.id)
                del self.tracks[t.id]

        created = []
        for j, d in enumerate(detections):
            if j in matched_dets or d.cut_by_border:  # a cut object's geometry is unreliable: no new track
                continue
            t = Track(
                id=next(self._ids),
                center=d.center.copy(),
                extent=d.extent.copy(),
                buffer=ViewBuffer(max_views=cfg.max_views, min_angle_deg=cfg.min_view_angle_deg),
                first_seen=stamp,
                last_seen=stamp,
                confirmed=cfg.confirm_hits <= 1,
            )
            t.fuse(d, cfg.fused_voxel_m, T_world_camera[:3, 3])
            self.tracks[t.id] = t
            created.append(t)
            matches.append((t, d))
        merged = self._merge_stacked()  # a track made in this step and merged away was never announced
        retired += sorted(set(merged) - {t.id for t in created})
        return TrackingStep(_redirect(matches, merged), [t for t in created if t.id not in merged], retired)

    def _merge_stacked(self) -> dict[int, Track | None]:
        """Join the tracks that are one object (``stacked_pair``), the younger into the older. Per id gone: the
        track its detections now belong to (it was the whole object), or None (it was a piece of it)."""
        cfg, gone = self.config, {}
        cell, margin = cfg.cluster_eps_m / 4.0, cfg.cluster_eps_m
        while (pair := stacked_pair(list(self.tracks.values()), cell, margin)) is not None:
            keep, other = pair
            whole = absorb(keep, other, cfg.fused_voxel_m, margin)
            del self.tracks[other.id]
            gone[other.id] = keep if whole else None
            gone.update({i: keep for i, t in gone.items() if t is other})
        return gone


def _redirect(matches: list[tuple[Track, Detection]], gone: dict[int, Track | None]) -> list[tuple[Track, Detection]]:
    """This step's matches after merges: a whole object's detection goes to the track that took it over (in
    place of that track's own, a piece), a piece's is dropped."""
    taken = {keep.id: (keep, d) for t, d in matches if (keep := gone.get(t.id)) is not None}
    out = [(t, d) for t, d in matches if t.id not in gone and t.id not in taken]
    return out + list(taken.values())
