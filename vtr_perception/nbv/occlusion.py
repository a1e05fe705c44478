"""Neighbours in the line of sight: which candidate views would see the object through another one.

A view the perception pipeline would drop (a neighbour hides part of the object, see
``PerceptionConfig.view_min_visible_fraction``) wastes a move. Other objects are taken as
world-axis boxes around their occupied voxels; a candidate's sightlines run from its camera
centre to points of the target's predicted shape, and the share that crosses a box is the
candidate's occluded fraction (slab test, vectorised over candidates x points x boxes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Box = tuple[np.ndarray, np.ndarray]  # (lo, hi) world corners


def _occupied_centers(occupancy: np.ndarray, center: Sequence[float], extent: float, threshold: float) -> np.ndarray:
    """World centres of the voxels at or above ``threshold`` in a world-aligned cubic grid."""
    idx = np.argwhere(np.asarray(occupancy) >= threshold)
    R = occupancy.shape[0]
    return np.asarray(center, dtype=np.float64) + ((idx + 0.5) / R - 0.5) * float(extent)


def occupied_box(occupancy: np.ndarray, center: Sequence[float], extent: float, threshold: float) -> Box | None:
    """World-axis box around the occupied voxels (whole voxels), None when nothing is occupied."""
    pts = _occupied_centers(occupancy, center, extent, threshold)
    if len(pts) == 0:
        return None
    half = 0.5 * float(extent) / occupancy.shape[0]
    return pts.min(axis=0) - half, pts.max(axis=0) + half


def target_points(occupancy: np.ndarray, center: Sequence[float], extent: float, threshold: float,
                  max_points: int = 64) -> np.ndarray:  # fmt: skip
    """Up to ``max_points`` occupied voxel centres spread over the shape; the grid centre when none is."""
    pts = _occupied_centers(occupancy, center, extent, threshold)
    if len(pts) == 0:
        return np.asarray(center, dtype=np.float64).reshape(1, 3)
    return pts[:: max(1, len(pts) // max_points)][:max_points]


def occluded_fraction(cameras: np.ndarray, targets: np.ndarray, boxes: Sequence[Box], margin: float = 0.0
                      ) -> np.ndarray:  # fmt: skip
    """(N,) share of the sightlines from each camera (N, 3) to the targets (P, 3) that cross a box
    grown by ``margin``; targets inside a box are left out (0 where none is left)."""
    cameras = np.asarray(cameras, dtype=np.float64).reshape(-1, 3)
    targets = np.asarray(targets, dtype=np.float64).reshape(-1, 3)
    if not len(boxes) or not len(targets):
        return np.zeros(len(cameras))
    lo = np.stack([np.asarray(b[0], dtype=np.float64) for b in boxes]) - margin  # (B, 3)
    hi = np.stack([np.asarray(b[1], dtype=np.float64) for b in boxes]) + margin
    # A target point inside a box (neighbours' boxes may overlap the target) says nothing about the view.
    targets = targets[~np.any(np.all((targets[:, None] >= lo) & (targets[:, None] <= hi), axis=-1), axis=1)]
    if not len(targets):
        return np.zeros(len(cameras))
    origin = cameras[:, None, None, :]  # (N, 1, 1, 3)
    d = targets[None, :, None, :] - origin  # (N, P, 1, 3): segment from the camera (t = 0) to the target (t = 1)
    # A component of 0 becomes tiny: the slab's t interval is then (-huge, huge) if the segment runs
    # inside it and lies wholly beyond [0, 1] if it runs outside, as the slab test needs.
    inv = 1.0 / np.where(d == 0.0, 1e-12, d)
    t0, t1 = (lo - origin) * inv, (hi - origin) * inv  # (N, P, B, 3)
    t_in = np.minimum(t0, t1).max(axis=-1)
    t_out = np.maximum(t0, t1).min(axis=-1)
    blocked = ((t_in <= t_out) & (t_out >= 0.0) & (t_in <= 1.0)).any(axis=-1)  # (N, P)
    return blocked.mean(axis=1)
