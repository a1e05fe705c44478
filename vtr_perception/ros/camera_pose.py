"""The camera pose as both nodes take it: tf2 first, the ``camera_pose`` topic as the fallback.

tf2 (``world_frame`` -> the camera's optical frame) is used when tf2_ros is importable and the
transform is known; otherwise the PoseStamped topic ``camera_pose``, kept in a PoseHistory so that a
pose is looked up at a stamp the way tf2 does (interpolated between its neighbours).
reconstruction_node asks for the pose at each image's stamp (the camera frame is the image's
frame_id); nbv_node asks for the latest pose of its ``camera_frame``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from builtin_interfaces.msg import Time as TimeMsg
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile

from vtr_perception.ros import conversions as conv
from vtr_perception.ros.pose_history import PoseHistory
from vtr_perception.ros.tf import TfLookup

POSE_SOURCES = ("auto", "tf", "topic")


class CameraPoseSource:
    """Camera poses in ``world_frame`` from tf2 (``source`` auto or tf, when importable) or the camera_pose topic.

    ``on_pose(stamp_s, T)`` is called for each pose from the topic, ``on_bad(reason)`` for a malformed one.
    """

    def __init__(
        self,
        node: Node,
        *,
        world_frame: str,
        source: str,
        qos: QoSProfile,
        maxlen: int = 200,
        on_pose: Callable[[float, np.ndarray], None] | None = None,
        on_bad: Callable[[str], None] | None = None,
    ) -> None:
        if source not in POSE_SOURCES:
            raise ValueError(f"pose source must be one of {', '.join(POSE_SOURCES)}, got {source!r}")
        self.world_frame = world_frame
        self.tf = TfLookup(node) if source in ("auto", "tf") else None
        self.history = PoseHistory(maxlen=maxlen)
        self._on_pose, self._on_bad = on_pose, on_bad
        node.create_subscription(PoseStamped, "camera_pose", self._on_message, qos)

    @property
    def tf_available(self) -> bool:
        return self.tf is not None and self.tf.available

    def _on_message(self, msg: PoseStamped) -> None:
        try:
            T = conv.pose_to_matrix(msg)
        except ValueError as exc:
            if self._on_bad is not None:
                self._on_bad(str(exc))
            return
        stamp = conv.stamp_to_seconds(msg.header.stamp)
        self.history.add(stamp, T)
        if self._on_pose is not None:
            self._on_pose(stamp, T)

    def _from_tf(self, frame_id: str, stamp: TimeMsg) -> np.ndarray | None:
        if not frame_id or not self.tf_available:
            return None
        return self.tf.lookup(self.world_frame, frame_id, stamp)

    def at(self, frame_id: str, stamp: TimeMsg, *, max_gap_s: float, wait_s: float) -> np.ndarray | None:
        """The pose of ``frame_id`` at ``stamp``: tf2, else the topic's poses interpolated (waiting ``wait_s``)."""
        T = self._from_tf(frame_id, stamp)
        if T is not None:
            return T
        # The pose of this stamp may still be in flight or lost: interpolate between its neighbours,
        # waiting for a later pose rather than taking an older one.
        return self.history.wait_for(conv.stamp_to_seconds(stamp), max_gap_s=max_gap_s, timeout_s=wait_s)

    def latest(self, frame_id: str) -> np.ndarray | None:
        """The newest pose of ``frame_id``: tf2's latest transform, else the topic's newest pose."""
        T = self._from_tf(frame_id, TimeMsg())  # time zero: tf2's latest
        return T if T is not None else self.history.latest()

    def close(self) -> None:
        """Wake every waiter (shutdown)."""
        self.history.close()
