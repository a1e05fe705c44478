"""Ground truth of a simulated object in a reconstruction's cube: the one voxelisation the loop scores against."""

from __future__ import annotations

import numpy as np

from vtr_perception.geometry.mesh import MeshData
from vtr_perception.geometry.metrics import grid_metrics
from vtr_perception.geometry.voxels import Normalization, voxelize
from vtr_perception.nbv.object_grid import ObjectGrid
from vtr_perception.sim.scenes import SceneObject


def truth_in_cube(
    obj: SceneObject, center: np.ndarray, side: float, resolution: int, rotation: np.ndarray | None = None
) -> np.ndarray:
    """The true object voxelised in the cube of ``side`` metres at ``center``, bool (R, R, R).

    ``rotation``: the cube's axes in the world (columns); None = world-aligned, as every published grid.
    """
    R = np.eye(3) if rotation is None else np.asarray(rotation, dtype=np.float64)
    local = (obj.mesh.vertices - np.asarray(center, dtype=np.float64)) @ R / float(side)
    occupancy, _ = voxelize(
        MeshData(local, obj.mesh.triangles, parts=obj.mesh.parts), resolution, Normalization.identity()
    )
    return occupancy


def true_grid(obj: SceneObject, grid: ObjectGrid) -> np.ndarray:
    """The true object voxelised into a reconstruction's world-aligned grid."""
    return truth_in_cube(obj, grid.center, grid.extent, grid.occupancy.shape[0])


def grid_iou(obj: SceneObject, grid: ObjectGrid) -> float:
    """IoU at 0.4 of a reconstruction against the true object, in the reconstruction's grid (as the demo scores)."""
    return float(grid_metrics(grid.occupancy, true_grid(obj, grid), threshold=0.4)["iou"])
