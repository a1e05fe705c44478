"""Measured free and occupied space of one object: a log-odds evidence grid in the track's world cube.

Every used frame projects the grid's voxel centres into its depth image (O(R^3) per frame, no
per-ray loop) and updates each voxel OctoMap-style, in log-odds, clamped to
[``evidence_min_logodds``, ``evidence_max_logodds``] after every frame so that noise never flips
a voxel for good:

- free (``evidence_miss_logodds``): the centre lies more than ``evidence_margin_m`` in front of the
  nearest depth measured within ``evidence_guard_px`` pixels of its pixel (a minimum filter; 0, the
  default, is the pixel's own depth: a wider window kept the rim's outside from ever being carved and
  cost .03-.04 IoU in the validation table-top loop), so a neighbour's or the table's pixels carve only
  what lies in front of the surface at the voxel's pixel;
- occupied (``evidence_hit_logodds``): the pixel belongs to the track's own mask and the centre lies
  behind the measured depth by at least ``evidence_occupied_offset_m`` and at most
  ``evidence_band_voxels`` voxels (a band behind the surface only: a band in front of it fattens every
  surface; the offset keeps centres that depth noise or the surface's slope across one pixel puts just
  behind the measured depth from forming a one-voxel skin of occupied space outside the object);
- nothing: behind the band, outside the image, or invalid depth (NaN, inf, <= 0, out of range).

Without depth (RGB only), silhouette carving: a voxel whose centre projects inside the image but
outside the (dilated) object mask is free; nothing else changes.

The track's cube moves and grows while depth points are fused. The grid keeps a compact record of
every frame it integrated (the depth, guard and mask crops around the object, the camera pose) and,
when the cube has moved by more than ``evidence_move_tolerance_voxels`` or changed size by more than
that many voxels, re-integrates them into the new cube (``benchmarks/tabletop.py`` reports the cost).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from vtr_perception.geometry.cameras import Intrinsics, invert
from vtr_perception.geometry.voxels import voxel_centers
from vtr_perception.perception.config import PerceptionConfig


@dataclass(frozen=True)
class EvidenceFrame:
    """One integrated frame, cropped to the object's neighbourhood (enough to re-integrate it later)."""

    depth: np.ndarray | None  # (h, w) float32 metres, NaN where invalid; None: RGB only (silhouette)
    guard: np.ndarray | None  # (h, w) float32: nearest depth within the footprint window (inf: none)
    own: np.ndarray  # (h, w) bool: the track's mask (dilated for silhouettes)
    intrinsics: Intrinsics  # of the crop
    T_camera_world: np.ndarray  # (4, 4)


@dataclass(frozen=True)
class Integration:
    """What one frame did to a grid."""

    changed: int  # voxels whose log-odds changed
    contradicted: float  # share of the known-occupied voxels the frame measured that it says are free
    reset: bool  # the evidence was cleared (the object moved) before this frame was integrated
    rejected: bool  # the frame contradicted the evidence and was not integrated (``may_reset`` false)
    ms: float


def clean_depth(depth: np.ndarray, config: PerceptionConfig) -> np.ndarray:
    """Depth as float32 with NaN wherever it is not a valid measurement (NaN, inf, <= 0, out of range)."""
    d = np.asarray(depth, dtype=np.float32)
    ok = np.isfinite(d) & (d >= config.min_depth_m) & (d <= config.max_depth_m)
    return np.where(ok, d, np.float32(np.nan))


def _cube_corners(center: np.ndarray, side: float) -> np.ndarray:
    s = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])
    return np.asarray(center, dtype=np.float64) + s * float(side)


def make_frame(
    depth: np.ndarray | None,
    own_mask: np.ndarray,
    intrinsics: Intrinsics,
    T_world_camera: np.ndarray,
    center: np.ndarray,
    side: float,
    resolution: int,
    config: PerceptionConfig,
) -> EvidenceFrame | None:
    """The record of one frame around a cube (the cube grown 1.5 times, so it survives some growth).

    ``depth`` must already be ``clean_depth``. None when the cube is behind the camera or outside the image.
    """
    T_cw = invert(np.asarray(T_world_camera, dtype=np.float64))
    corners = _cube_corners(center, 1.5 * side) @ T_cw[:3, :3].T + T_cw[:3, 3]
    if (corners[:, 2] <= 1e-3).any():
        corners = corners[corners[:, 2] > 1e-3]
        if len(corners) == 0:
            return None
    uv = intrinsics.project(corners)
    x0, y0 = np.floor(uv.min(axis=0)).astype(int)
    x1, y1 = np.ceil(uv.max(axis=0)).astype(int) + 1
    x0, y0 = max(int(x0), 0), max(int(y0), 0)
    x1, y1 = min(int(x1), intrinsics.width), min(int(y1), intrinsics.height)
    if x1 <= x0 or y1 <= y0:
        return None
    crop_k = intrinsics.cropped(x0, y0, x1 - x0, y1 - y0)
    own = np.ascontiguousarray(np.asarray(own_mask, dtype=bool)[y0:y1, x0:x1])  # raveled for every update
    radius = int(config.evidence_guard_px)
    if depth is None:
        # Silhouette: the mask grown by the guard, so a voxel on the rim is never carved.
        own = ndimage.binary_dilation(own, iterations=max(radius, 1)) if own.any() else own
        return EvidenceFrame(None, None, own, crop_k, T_cw)
    d = np.ascontiguousarray(depth[y0:y1, x0:x1], dtype=np.float32)
    guard = ndimage.minimum_filter(np.where(np.isnan(d), np.float32(np.inf), d), size=2 * radius + 1, mode="nearest")
    return EvidenceFrame(d, guard.astype(np.float32), own, crop_k, T_cw)


def frame_update(centers_world: np.ndarray, frame: EvidenceFrame, voxel_m: float, config: PerceptionConfig
                 ) -> np.ndarray:  # fmt: skip
    """(N,) float32 log-odds change of each voxel centre (N, 3) from one frame (see the module docstring)."""
    return frame_update_and_surface(centers_world, frame, voxel_m, config)[0]


def frame_update_and_surface(centers_world: np.ndarray, frame: EvidenceFrame, voxel_m: float,
                             config: PerceptionConfig) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``frame_update``'s change, and (N,) bool: the centres in the occupied band of any pixel's surface, the
    track's or not (what the frame sees of an object there, whichever mask the pixel is in)."""
    T = frame.T_camera_world.astype(centers_world.dtype)  # float32 centres: half the time of float64
    p = centers_world @ T[:3, :3].T + T[:3, 3]
    z = p[:, 2]
    ahead = z > 1e-6
    zs = np.where(ahead, z, 1.0)
    k = frame.intrinsics
    u = k.fx * p[:, 0] / zs + k.cx
    v = k.fy * p[:, 1] / zs + k.cy
    inside = ahead & (u >= 0) & (u < k.width) & (v >= 0) & (v < k.height)
    # one flat pixel index for the three lookups (truncation is floor here: inside means u, v >= 0)
    pixel = np.where(inside, v, 0).astype(np.int32) * np.int32(k.width) + np.where(inside, u, 0).astype(np.int32)
    delta = np.zeros(len(p), dtype=np.float32)
    own = np.take(frame.own.ravel(), pixel) & inside
    if frame.depth is None:
        delta[inside & ~own] = config.evidence_miss_logodds
        return delta, np.zeros(len(p), dtype=bool)
    d = np.take(frame.depth.ravel(), pixel)
    valid = inside & np.isfinite(d)
    margin = config.evidence_margin_m
    free = valid & (z < np.take(frame.guard.ravel(), pixel) - margin)
    behind = z - d
    surface = (valid & ~free & (behind >= config.evidence_occupied_offset_m)
               & (behind <= config.evidence_band_voxels * voxel_m))  # fmt: skip
    delta[free] = config.evidence_miss_logodds
    delta[surface & own] = config.evidence_hit_logodds
    return delta, surface


def _state(logodds: np.ndarray, config: PerceptionConfig) -> np.ndarray:
    """-1 free, 0 unknown, 1 occupied (the measured state perception/fusion.py publishes)."""
    known = config.evidence_known_logodds
    return (logodds >= known).astype(np.int8) - (logodds <= -known).astype(np.int8)


class EvidenceGrid:
    """Log-odds evidence (R, R, R) in a world-aligned cube, and the frames it came from."""

    def __init__(self, config: PerceptionConfig, resolution: int = 32) -> None:
        self.config = config
        self.resolution = int(resolution)
        self.center = np.zeros(3)
        self.side = 0.0
        self.logodds = np.zeros((resolution,) * 3, dtype=np.float32)
        self.frames: list[EvidenceFrame] = []
        self.resets = 0
        self.contradicting = 0  # frames in a row that contradicted it (evidence_reset_frames of them reset it)
        self.version = 0  # increments when a voxel's state changes or the grid is rebuilt (estimates then re-fuse)
        self._centers = voxel_centers(resolution).reshape(-1, 3)
        self._world = self._centers.astype(np.float32)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def voxel_m(self) -> float:
        return self.side / self.resolution

    def _world_centers(self) -> np.ndarray:
        return self._world  # float32 (mm precision at metres from the origin), set by ``follow``

    def _apply(self, frame: EvidenceFrame, centers: np.ndarray) -> np.ndarray:
        return self._apply_with_surface(frame, centers)[0]

    def _apply_with_surface(self, frame: EvidenceFrame, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        delta, surface = frame_update_and_surface(centers, frame, self.voxel_m, self.config)
        delta, surface = delta.reshape(self.logodds.shape), surface.reshape(self.logodds.shape)
        cfg = self.config
        np.clip(self.logodds + delta, cfg.evidence_min_logodds, cfg.evidence_max_logodds, out=self.logodds)
        return delta, surface

    def follow(self, center: np.ndarray, side: float) -> bool:
        """Move to the track's cube; re-integrates every kept frame when it moved beyond the tolerance."""
        center = np.asarray(center, dtype=np.float64)
        if self.side > 0:
            tol = self.config.evidence_move_tolerance_voxels * self.voxel_m
            if np.abs(center - self.center).max() <= tol and abs(side - self.side) <= tol:
                return False
        self.center, self.side = center.copy(), float(side)
        self._world = (self._centers * self.side + self.center).astype(np.float32)
        self.logodds[:] = 0.0
        centers = self._world_centers()
        for frame in self.frames:
            self._apply(frame, centers)
        self.version += 1
        return True

    def clear(self) -> None:
        self.logodds[:] = 0.0
        self.frames.clear()
        self.contradicting = 0
        self.version += 1

    def integrate(self, frame: EvidenceFrame, *, may_reset: bool = True) -> Integration:
        """Add one frame (the grid must already ``follow`` the track's cube).

        A frame that contradicts the measured occupied space (``evidence_reset_fraction``) after
        ``evidence_reset_frames - 1`` contradicting frames in a row resets the evidence to what it measures
        (the object moved); an earlier one is integrated as any frame. With ``may_reset`` false (the camera
        pose just jumped, so the pose may be what is wrong) a contradicting frame is dropped and leaves the
        evidence untouched.
        """
        t0 = time.perf_counter()
        cfg = self.config
        centers = self._world_centers()
        before = self.logodds.copy()
        delta, surface = self._apply_with_surface(frame, centers)
        known = before >= cfg.evidence_known_logodds
        # Seen: carved, or at a measured surface (the track's own pixels or not: a frame the track did not
        # match still sees the object where it stands, and only carving it away contradicts it).
        measured = known & ((delta != 0) | surface)
        against = int((known & (delta < 0)).sum())
        contradicted = against / max(int(measured.sum()), 1)
        contradicts = against >= cfg.evidence_reset_min_voxels and contradicted > cfg.evidence_reset_fraction
        if contradicts and not may_reset:
            self.logodds[:] = before
            return Integration(0, float(contradicted), False, True, 1e3 * (time.perf_counter() - t0))
        self.contradicting = self.contradicting + 1 if contradicts else 0
        reset = self.contradicting >= cfg.evidence_reset_frames
        if reset:  # the object moved (or was taken away): what was measured before no longer holds
            self.frames.clear()
            self.logodds[:] = 0.0
            self.resets += 1
            self.contradicting = 0
            self._apply(frame, centers)
        self.frames.append(frame)
        if len(self.frames) > cfg.evidence_max_frames:
            del self.frames[0]  # its contribution stays until the next re-integration
        if reset or (_state(self.logodds, cfg) != _state(before, cfg)).any():
            self.version += 1
        changed = int((self.logodds != before).sum())
        return Integration(changed, float(contradicted), bool(reset), False, 1e3 * (time.perf_counter() - t0))
