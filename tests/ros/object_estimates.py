"""Reconstructed objects for tests of the outputs: a box mesh posed in the world, with occupancy and error grids."""

from __future__ import annotations

import numpy as np
import open3d as o3d

from vtr_perception.geometry.cameras import quaternion_from_matrix, transform_points
from vtr_perception.perception.object_pose import ObjectEstimate


def yaw_matrix(position, yaw_deg: float) -> np.ndarray:
    """T_world_object: a turn of ``yaw_deg`` about world z at ``position``."""
    c, s = np.cos(np.radians(yaw_deg)), np.sin(np.radians(yaw_deg))
    T = np.eye(4)
    T[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
    T[:3, 3] = position
    return T


def box_estimate(
    object_id: int,
    *,
    position=(0.5, 0.2, 0.1),
    yaw_deg: float = 30.0,
    size=(0.06, 0.04, 0.1),
    offset=(0.0, 0.0, 0.0),
    surface: bool = True,
    error: float = 0.2,
    resolution: int = 8,
) -> ObjectEstimate:
    """A box of ``size`` (along the object's axes) centred at ``offset`` in the object frame, posed by
    ``yaw_matrix(position, yaw_deg)``. The occupancy grid is solid in its middle half (1.0) and empty
    elsewhere (0.0); the error is ``error`` on the solid and 0.9 elsewhere."""
    box = o3d.geometry.TriangleMesh.create_box(*size)
    local = np.asarray(box.vertices) - np.asarray(size) / 2.0 + np.asarray(offset)
    T = yaw_matrix(position, yaw_deg)
    occupancy = np.zeros((resolution,) * 3, np.float32)
    q = resolution // 4
    occupancy[q:-q, q:-q, q:-q] = 1.0
    return ObjectEstimate(
        id=object_id,
        vertices=transform_points(T, local) if surface else np.zeros((0, 3)),
        triangles=np.asarray(box.triangles) if surface else np.zeros((0, 3), np.int64),
        position=T[:3, 3].copy(),
        quaternion=quaternion_from_matrix(T[:3, :3]),
        scale=float(max(size)),
        occupancy=occupancy,
        error=np.where(occupancy >= 0.4, error, 0.9).astype(np.float32),
        grid_center=T[:3, 3].copy(),
        grid_extent=1.2 * float(max(size)),
        grid_rotation=np.eye(3),
        num_views=3,
        last_update=0.0,
        mode="pose_aware",
    )
