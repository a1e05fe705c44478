"""Which camera poses each object has been seen from, as a reconstruction reports it.

A reconstruction publishes, per object, how many views it has used. When that count grows,
the camera pose of that moment is a view of that object, whichever object the camera was
pointed at: neighbours on a table are seen from each other's views. The planner excludes
candidates near these poses (``min_angle_from_taken_deg``), so it never sends the camera back
to a view the reconstruction already has (and would refuse as a near-duplicate).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from vtr_perception.geometry.cameras import rotation_angle_deg


class TakenViews:
    """Per-object lists of camera poses (T_world_camera) the object's reconstruction has used."""

    def __init__(self, *, same_pose_angle_deg: float = 10.0, same_pose_m: float = 1e-3) -> None:
        self.same_pose_angle_deg = float(same_pose_angle_deg)
        self.same_pose_m = float(same_pose_m)
        self._poses: dict[int, list[np.ndarray]] = {}
        self._counts: dict[int, int] = {}

    def poses(self, object_id: int) -> list[np.ndarray]:
        return [T.copy() for T in self._poses.get(object_id, [])]

    def record(self, object_id: int, pose: np.ndarray) -> bool:
        """Add ``pose`` to the object's views unless it is (about) the same pose as one there."""
        pose = np.asarray(pose, dtype=np.float64)
        views = self._poses.setdefault(object_id, [])
        for T in views:
            if (np.linalg.norm(pose[:3, 3] - T[:3, 3]) < self.same_pose_m
                    and rotation_angle_deg(pose, T) < self.same_pose_angle_deg):  # fmt: skip
                return False
        views.append(pose.copy())
        return True

    def update(self, view_counts: Mapping[int, int], pose: np.ndarray | None) -> list[int]:
        """Record ``pose`` for every object whose view count grew since the last update; returns their ids."""
        grown = [i for i, n in view_counts.items() if n > self._counts.get(i, 0)]
        self._counts.update(view_counts)
        if pose is None:
            return []
        return [i for i in grown if self.record(i, pose)]
