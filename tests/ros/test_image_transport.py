"""Large-image transport: the image QoS reaches the subscriptions and the demo's bag player, lost frames are counted."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

pytest.importorskip("rclpy", exc_type=ImportError, reason="rclpy not installed (pip extra or system ROS 2)")

import rclpy  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import ReliabilityPolicy  # noqa: E402

from tests.perception.doubles import FixedShapeBackend  # noqa: E402
from vtr_perception.commands.demo import add_arguments  # noqa: E402
from vtr_perception.ros import conversions as conv  # noqa: E402
from vtr_perception.ros.demo_runner import bag_node_parameters  # noqa: E402
from vtr_perception.ros.reconstruction_node import ReconstructionNode  # noqa: E402

pytestmark = pytest.mark.ros


def _node(context: Context, image_qos: str) -> ReconstructionNode:
    backend = FixedShapeBackend(np.ones((16, 16, 16), np.float32))
    overrides = [Parameter("image_qos", value=image_qos), Parameter("pose_source", value="topic")]
    return ReconstructionNode(backend=backend, context=context, parameter_overrides=overrides)


@pytest.mark.parametrize(
    ("value", "expected"), [("reliable", ReliabilityPolicy.RELIABLE), ("sensor_data", ReliabilityPolicy.BEST_EFFORT)]
)
def test_image_qos_parameter_sets_every_image_subscription(value, expected):
    context = Context()
    rclpy.init(context=context)
    node = _node(context, value)
    try:
        qos = {s.topic_name.rsplit("/", 1)[-1]: s.qos_profile.reliability for s in node.subscriptions}
        assert qos["image"] == qos["depth"] == qos["camera_info"] == expected
        # gaps in the image stamps are counted as frames lost on the wire (15 Hz, 3 missing)
        for k in [*range(10), 13, 14, 15]:
            node._on_part("image", conv.numpy_to_image(np.zeros((4, 4, 3), np.uint8), "rgb8", stamp=k / 15.0))
        assert node.stamp_gaps["image"].lost == 3
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)


def test_demo_bag_plays_with_a_reliable_image_qos_unless_told():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert bag_node_parameters(parser.parse_args(["--bag", "x"]))["image_qos"] == "reliable"
    args = parser.parse_args(["--bag", "x", "--image-qos", "sensor_data"])
    assert bag_node_parameters(args) == {"backend": "auto", "image_qos": "sensor_data"}
    with pytest.raises(SystemExit):
        parser.parse_args(["--bag", "x", "--image-qos", "fast"])
