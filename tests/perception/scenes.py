"""Synthetic table-top scenes ray-cast with numpy: a table plane (z = 0) and yawed boxes on it.

Tests use these instead of the Open3D renderer so each test is fast and its truth is analytic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vtr_perception.geometry.cameras import Intrinsics, look_at

TABLE_ID = 1
TABLE_HALF = 0.5  # the table is the square |x|, |y| <= TABLE_HALF at z = 0


@dataclass
class Box:
    center_xy: tuple[float, float]
    size: tuple[float, float, float]  # x, y, z before yaw; stands on z = base_z
    yaw_deg: float = 0.0
    color: tuple[int, int, int] = (200, 60, 40)
    base_z: float = 0.0  # the table top is 0; clutter (walls, counters, chair rails) stands elsewhere

    @property
    def center(self) -> np.ndarray:
        return np.array([self.center_xy[0], self.center_xy[1], self.base_z + self.size[2] / 2.0])

    @property
    def R(self) -> np.ndarray:
        c, s = np.cos(np.radians(self.yaw_deg)), np.sin(np.radians(self.yaw_deg))
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    def occupancy(self, resolution: int) -> np.ndarray:
        """Voxelised box in its world-axis canonical cube (bbox-centred, longest side 1)."""
        corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * 0.5
        world = (corners * np.asarray(self.size)) @ self.R.T
        side = float((world.max(0) - world.min(0)).max())
        g = (np.arange(resolution) + 0.5) / resolution - 0.5
        pts = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3) * side
        local = pts @ self.R  # world offsets -> box frame
        inside = np.all(np.abs(local) <= np.asarray(self.size) / 2.0, axis=1)
        return inside.reshape(resolution, resolution, resolution).astype(np.float32)


def camera_on_circle(
    azimuth_deg: float, *, radius: float = 0.6, height: float = 0.45, target=(0.0, 0.0, 0.05)
) -> np.ndarray:
    a = np.radians(azimuth_deg)
    return look_at(np.array([radius * np.cos(a), radius * np.sin(a), height]), np.asarray(target, float))


def render(boxes: list[Box], intrinsics: Intrinsics, T_world_camera: np.ndarray, *, table: bool = True):
    """(rgb uint8, depth float32 with NaN background, mask int32: 0 none, 1 table, 2+i box i)."""
    T = np.asarray(T_world_camera, dtype=np.float64)
    rays_cam = intrinsics.pixel_rays().reshape(-1, 3)
    dirs = rays_cam @ T[:3, :3].T
    origin = T[:3, 3]
    n = len(dirs)
    t_best = np.full(n, np.inf)
    ids = np.zeros(n, dtype=np.int32)
    shade = np.ones(n)
    if table:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = -origin[2] / dirs[:, 2]
        hit = origin[:2] + t[:, None] * dirs[:, :2]
        ok = (t > 0) & np.all(np.abs(hit) <= TABLE_HALF, axis=1)
        t_best[ok], ids[ok] = t[ok], TABLE_ID
    for i, b in enumerate(boxes):
        o = (origin - b.center) @ b.R
        d = dirs @ b.R
        half = np.asarray(b.size) / 2.0
        with np.errstate(divide="ignore", invalid="ignore"):
            t1, t2 = (-half - o) / d, (half - o) / d
        tmin, tmax = np.minimum(t1, t2), np.maximum(t1, t2)
        enter = np.nanmax(tmin, axis=1)
        face = np.nanargmax(tmin, axis=1)
        ok = (enter <= np.nanmin(tmax, axis=1)) & (enter > 0) & (enter < t_best)
        t_best[ok], ids[ok] = enter[ok], 2 + i
        shade[ok] = np.array([0.6, 0.8, 1.0])[face[ok]]
    depth = np.where(np.isfinite(t_best), t_best * rays_cam[:, 2], np.nan).astype(np.float32)
    colors = np.zeros((len(boxes) + 2, 3))
    colors[0] = 255
    colors[TABLE_ID] = (120, 100, 80)
    for i, b in enumerate(boxes):
        colors[2 + i] = b.color
    rgb = np.clip(colors[ids] * np.where(ids >= 2, shade, 1.0)[:, None], 0, 255).astype(np.uint8)
    h, w = intrinsics.height, intrinsics.width
    return rgb.reshape(h, w, 3), depth.reshape(h, w), ids.reshape(h, w)
