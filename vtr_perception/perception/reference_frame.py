"""The frame a pose-aware reconstructor is run in: the world's axes, or the object's own horizontal axes.

The pose-aware model predicts occupancy in whatever reference frame its camera rotations are
given in. It was trained with that frame equal to each object's canonical frame, in which
the object's bounding box is axis-aligned and has longest side 1. On a table an object stands
at any yaw, so in the world's axes the model sees a turned object (never seen in training)
cropped by its world-axis extent (larger than its own longest side, so it looks small).

``object_axes_cube`` turns the reference frame about world z to the principal horizontal axis
of the fused depth points, modulo quarter turns, and sizes the crop by the points' extent in
that frame, which brings the model's input back to its training distribution. The prediction is
then resampled into the world-aligned cube of the track (``resample_cube``), so that every
consumer downstream (mesh, object cloud, planner) keeps its world-aligned grid. Use the world's
axes (``reference_frame: world``) only with a model trained on objects at any yaw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from vtr_perception.geometry.voxels import voxel_centers


@dataclass(frozen=True)
class Cube:
    """A cubic grid's placement: centre (world), side (m), axes R_world_cube (columns)."""

    center: np.ndarray
    side: float
    rotation: np.ndarray


def yaw_matrix(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def quarter_turn_yaw(points: np.ndarray) -> float:
    """Yaw (rad, in [-pi/4, pi/4)) of the points' principal horizontal axis, modulo quarter turns.

    A box's principal axes are its sides; modulo a quarter turn they map the object onto a
    frame where its sides are the grid's axes, which is all the model's training fixed.
    """
    xy = np.asarray(points, dtype=np.float64)[:, :2]
    if len(xy) < 3:
        return 0.0
    xy = xy - xy.mean(axis=0)
    w, v = np.linalg.eigh(xy.T @ xy)
    a = v[:, int(np.argmax(w))]
    yaw = float(np.arctan2(a[1], a[0]))
    return float((yaw + np.pi / 4) % (np.pi / 2) - np.pi / 4)


def object_axes_cube(points: np.ndarray, floor_z: float, fallback: Cube, min_points: int = 20) -> Cube:
    """The crop cube in the object's horizontal axes: centre and longest side of the points' box there.

    ``floor_z`` extends the box down to the support, as the track's world box is. With fewer than
    ``min_points`` points (no depth) the ``fallback`` (the world-axis cube) is returned unchanged.
    """
    pts = np.asarray(points, dtype=np.float64)
    if len(pts) < min_points:
        return fallback
    R = yaw_matrix(quarter_turn_yaw(pts))
    local = pts @ R  # rows: R^T p
    lo, hi = local.min(axis=0), local.max(axis=0)
    if np.isfinite(floor_z):
        lo[2] = min(lo[2], float(floor_z))
    side = float(np.max(hi - lo))
    if not side > 0:
        return fallback
    return Cube(center=R @ (0.5 * (lo + hi)), side=side, rotation=R)


def resample_cube(values: np.ndarray, source: Cube, target: Cube, order: int = 1) -> np.ndarray:
    """``values`` (..., R, R, R) on the ``source`` cube, sampled at the voxel centres of the ``target`` cube.

    Trilinear (``order`` 1); target voxels outside the source cube read 0 (empty, no error). Leading
    axes (occupancy and error stacked, say) share one computation of the sample positions.
    """
    values = np.asarray(values, dtype=np.float32)
    res = values.shape[-1]
    world = voxel_centers(res).reshape(-1, 3) * target.side @ target.rotation.T + target.center
    local = (world - source.center) @ source.rotation / source.side  # canonical units of the source cube
    index = ((local + 0.5) * res - 0.5).T
    flat = values.reshape(-1, res, res, res)
    out = np.stack([ndimage.map_coordinates(v, index, order=order, mode="constant", cval=0.0) for v in flat])
    return out.reshape(values.shape).astype(np.float32)
