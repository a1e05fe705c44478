"""tf2 where it exists: the pip ROS wheels have no tf2_ros, robots do.

Both classes degrade to "not available" with one log line, so the nodes fall back to
pose topics (camera_pose) without tf2.
"""

from __future__ import annotations

import numpy as np
from rclpy.node import Node
from rclpy.time import Time

from vtr_perception.ros import conversions as conv

try:  # optional at run time (exec_depend in package.xml; absent from the pip wheels)
    import tf2_ros

    HAVE_TF2 = True
except ImportError:  # pragma: no cover - depends on the ROS installation
    tf2_ros = None
    HAVE_TF2 = False


class TfPublisher:
    """Broadcasts transforms when tf2_ros is importable; otherwise does nothing."""

    def __init__(self, node: Node) -> None:
        self.available = HAVE_TF2
        self._broadcaster = tf2_ros.TransformBroadcaster(node) if HAVE_TF2 else None
        if not HAVE_TF2:
            node.get_logger().info("tf2_ros not importable: not broadcasting TF (poses are still published as topics)")

    def send(self, T_parent_child: np.ndarray, *, parent: str, child: str, stamp) -> None:
        if self._broadcaster is not None:
            self._broadcaster.sendTransform(
                conv.matrix_to_transform_stamped(T_parent_child, stamp=stamp, frame_id=parent, child_frame_id=child)
            )

    def send_many(self, transforms: list[tuple[np.ndarray, str, str]], *, stamp) -> None:
        if self._broadcaster is not None and transforms:
            self._broadcaster.sendTransform(
                [
                    conv.matrix_to_transform_stamped(T, stamp=stamp, frame_id=parent, child_frame_id=child)
                    for T, parent, child in transforms
                ]
            )


class TfLookup:
    """Looks up T_target_source at a stamp when tf2_ros is importable."""

    def __init__(self, node: Node) -> None:
        self.available = HAVE_TF2
        if HAVE_TF2:
            self._buffer = tf2_ros.Buffer()
            self._listener = tf2_ros.TransformListener(self._buffer, node)

    def lookup(self, target: str, source: str, stamp) -> np.ndarray | None:
        """The 4x4 transform, or None when tf2 is missing or the transform is not (yet) known."""
        if not HAVE_TF2:
            return None
        try:
            msg = self._buffer.lookup_transform(target, source, Time.from_msg(stamp))
        except (tf2_ros.LookupException, tf2_ros.ConnectivityException, tf2_ros.ExtrapolationException):
            return None
        return conv.transform_to_matrix(msg)
