"""Per-object occupancy and error grids as the planner sees them (world-aligned cubes), and their obstacles.

nbv_node rebuilds them from the objects/error cloud (``grids_from_cloud``); the simulated loop makes them from
the pipeline's estimates directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vtr_perception.nbv.occlusion import Box, occupied_box


@dataclass
class ObjectGrid:
    """One object's grids as rebuilt from the error cloud (grid axis-aligned with the world)."""

    id: int
    occupancy: np.ndarray
    error: np.ndarray
    center: np.ndarray
    extent: float
    views: int  # frames the reconstruction has used
    state: np.ndarray | None = None  # (R, R, R) uint8 0 unknown / 1 free / 2 occupied; None: not published


def obstacles_besides(grids: dict[int, ObjectGrid], target: int, threshold: float) -> list[Box]:
    """World boxes of every object but ``target`` (what may stand in the line of sight)."""
    boxes = (occupied_box(g.occupancy, g.center, g.extent, threshold) for i, g in grids.items() if i != target)
    return [b for b in boxes if b is not None]


def grids_from_cloud(points: np.ndarray) -> dict[int, ObjectGrid]:
    """Split an objects/error cloud into per-object cubic grids; malformed objects raise ValueError.

    The per-voxel ``state`` field (measured evidence) is optional: clouds without it give ``state`` None.
    """
    for name in ("x", "y", "z", "occupancy", "error", "id", "views"):
        if points.dtype.names is None or name not in points.dtype.names:
            raise ValueError(f"objects/error cloud lacks the field {name!r}")
    out = {}
    ids = points["id"].astype(np.int64)
    for i in np.unique(ids):
        sel = points[ids == i]
        R = round(len(sel) ** (1.0 / 3.0))
        if R < 2 or R**3 != len(sel):
            raise ValueError(f"object {i} has {len(sel)} voxels, not a cubic grid")
        xyz = np.stack([sel["x"], sel["y"], sel["z"]], axis=1).astype(np.float64)
        if not np.isfinite(xyz).all():
            raise ValueError(f"object {i} has non-finite voxel positions")
        step = np.linalg.norm(xyz[R * R] - xyz[0])  # one step along i
        occ = np.nan_to_num(sel["occupancy"].reshape(R, R, R), nan=0.0)
        err = np.nan_to_num(sel["error"].reshape(R, R, R), nan=0.0)
        state = None
        if "state" in points.dtype.names:
            state = np.nan_to_num(sel["state"].reshape(R, R, R), nan=0.0).astype(np.uint8)
        out[int(i)] = ObjectGrid(int(i), occ, err, xyz.mean(axis=0), float(step * R), int(sel["views"][0]), state)
    return out
