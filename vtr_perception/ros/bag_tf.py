"""A bag's TF tree without tf2: camera poses from the ``/tf`` and ``/tf_static`` messages of a recording.

The pip ROS wheels have neither tf2_ros nor tf2_msgs, so a node there cannot take its pose from TF.
The bag player reads the bag's transforms with rosbags (which knows tf2_msgs/TFMessage), keeps them
here, and publishes the camera pose at each image stamp on the ``camera_pose`` topic. Lookups follow
tf2: static transforms hold at every stamp, dynamic ones are interpolated (slerp) between the two
around the stamp, and a lookup across frames of different trees, or past the ends of an edge's
history, finds nothing.
"""

from __future__ import annotations

import numpy as np

from vtr_perception.ros import conversions as conv
from vtr_perception.ros.pose_history import PoseHistory

TF_TOPICS = ("/tf", "/tf_static")


class TransformTree:
    """Transforms parent -> child (each child has one parent), static or stamped, looked up as tf2 does."""

    def __init__(self, *, max_gap_s: float = 1.0) -> None:
        self.max_gap_s = max_gap_s
        self._parent: dict[str, str] = {}
        self._static: dict[str, np.ndarray] = {}
        self._dynamic: dict[str, PoseHistory] = {}

    def add(self, parent: str, child: str, stamp_s: float, T_parent_child: np.ndarray, *, static: bool) -> None:
        """Add one transform (parent and child frame ids without a leading slash, as tf2 keeps them)."""
        parent, child = parent.lstrip("/"), child.lstrip("/")
        self._parent[child] = parent
        if static:
            self._static[child] = np.asarray(T_parent_child, dtype=np.float64)
        else:
            self._dynamic.setdefault(child, PoseHistory(maxlen=1_000_000)).add(stamp_s, T_parent_child)

    def add_message(self, msg, *, static: bool) -> None:
        """Add every transform of a tf2_msgs/TFMessage (an rclpy message or a rosbags-deserialised one)."""
        for t in msg.transforms:
            stamp = t.header.stamp.sec + 1e-9 * t.header.stamp.nanosec
            T = conv.transform_to_matrix(t.transform)  # duck-typed: rosbags' messages have the same fields
            self.add(t.header.frame_id, t.child_frame_id, stamp, T, static=static)

    @property
    def frames(self) -> set[str]:
        return set(self._parent) | set(self._parent.values())

    def _to_root(self, frame: str, stamp_s: float) -> tuple[str, np.ndarray] | None:
        """(root frame, T_root_frame) at ``stamp_s``, or None where an edge has no transform at that stamp."""
        T = np.eye(4)
        seen = {frame}
        while frame in self._parent:
            if frame in self._static:
                edge = self._static[frame]
            else:
                edge = self._dynamic[frame].at(stamp_s, max_gap_s=self.max_gap_s)
                if edge is None:
                    return None
            T = edge @ T
            frame = self._parent[frame]
            if frame in seen:  # a cycle: not a tree
                return None
            seen.add(frame)
        return frame, T

    def lookup(self, target: str, source: str, stamp_s: float) -> np.ndarray | None:
        """T_target_source at ``stamp_s`` (maps points in ``source`` into ``target``), or None when not known."""
        a = self._to_root(target.lstrip("/"), stamp_s)
        b = self._to_root(source.lstrip("/"), stamp_s)
        if a is None or b is None or a[0] != b[0]:
            return None
        return np.linalg.inv(a[1]) @ b[1]
