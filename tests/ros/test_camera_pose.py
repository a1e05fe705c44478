"""Both nodes take the camera pose from one source (ros/camera_pose.py): tf2 first, the camera_pose topic else.

The pip ROS wheels have no tf2_ros, so tf2 is a stand-in here with the TfLookup interface.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rclpy", exc_type=ImportError, reason="rclpy not installed (pip extra or system ROS 2)")

import rclpy  # noqa: E402
from rclpy.context import Context  # noqa: E402

from tests.ros.helpers import isolated_node  # noqa: E402
from vtr_perception.geometry.cameras import camera_from_angles  # noqa: E402
from vtr_perception.ros import conversions as conv  # noqa: E402
from vtr_perception.ros.camera_pose import CameraPoseSource  # noqa: E402
from vtr_perception.ros.nbv_node import NbvNode  # noqa: E402
from vtr_perception.ros.qos import reliable_qos  # noqa: E402

pytestmark = pytest.mark.ros

T_TF = camera_from_angles(90.0, 30.0, 0.6, target=np.zeros(3))
T_TOPIC = camera_from_angles(0.0, 30.0, 0.6, target=np.zeros(3))


class StubTf:
    """TfLookup's interface: knows world -> cam_optical only."""

    available = True

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def lookup(self, target: str, source: str, stamp) -> np.ndarray | None:
        self.asked.append((target, source))
        return T_TF if (target, source) == ("world", "cam_optical") else None


def test_tf_first_then_the_topic():
    with isolated_node("pose_source") as (node, _):
        source = CameraPoseSource(node, world_frame="world", source="auto", qos=reliable_qos())
        assert source.latest("cam_optical") is None
        source._on_message(conv.matrix_to_pose_stamped(T_TOPIC, stamp=conv.seconds_to_stamp(5.0), frame_id="world"))
        assert np.allclose(source.latest("cam_optical"), T_TOPIC)  # no tf2 here: the topic
        source.tf = StubTf()
        assert np.allclose(source.latest("cam_optical"), T_TF)
        assert np.allclose(source.at("cam_optical", conv.seconds_to_stamp(5.0), max_gap_s=0.1, wait_s=0.0), T_TF)
        # a frame tf2 does not know: the topic's pose at that stamp
        assert np.allclose(source.at("other", conv.seconds_to_stamp(5.0), max_gap_s=0.1, wait_s=0.0), T_TOPIC)
        topic_only = CameraPoseSource(node, world_frame="world", source="topic", qos=reliable_qos())
        assert topic_only.tf is None and topic_only.latest("cam_optical") is None


def test_nbv_node_takes_its_camera_pose_from_tf():
    context = Context()
    rclpy.init(args=["--ros-args", "-p", "camera_frame:=cam_optical"], context=context)
    try:
        node = NbvNode(context=context)
        assert node.current_pose is None
        node.camera_poses.tf = StubTf()
        node.poll_tf()
        assert np.allclose(node.current_pose, T_TF)
        assert node.camera_poses.tf.asked == [("world", "cam_optical")]
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def test_nbv_node_refuses_tf_without_a_camera_frame():
    context = Context()
    rclpy.init(args=["--ros-args", "-p", "pose_source:=tf"], context=context)
    try:
        with pytest.raises(ValueError, match="needs camera_frame"):
            NbvNode(context=context)
    finally:
        rclpy.shutdown(context=context)
