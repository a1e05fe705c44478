"""Frames lost on the wire reach /diagnostics: ``wire_lost.<input>`` counts the gaps in the received stamps."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rclpy", exc_type=ImportError, reason="rclpy not installed (pip extra or system ROS 2)")

import rclpy  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from tests.perception.doubles import FixedShapeBackend  # noqa: E402
from tests.ros.helpers import spin_until  # noqa: E402
from vtr_perception.ros import conversions as conv  # noqa: E402
from vtr_perception.ros.qos import reliable_qos  # noqa: E402
from vtr_perception.ros.reconstruction_node import ReconstructionNode  # noqa: E402

pytestmark = pytest.mark.ros


def test_diagnostics_carry_the_frames_missing_between_received_stamps():
    context = Context()
    rclpy.init(context=context)
    backend = FixedShapeBackend(np.ones((16, 16, 16), np.float32))
    node = ReconstructionNode(backend=backend, context=context, parameter_overrides=[
        Parameter("pose_source", value="topic"), Parameter("diagnostics_period_s", value=0.2)])  # fmt: skip
    listener = rclpy.create_node("wire_lost_listener", context=context)
    executor = SingleThreadedExecutor(context=context)
    try:
        received: list[dict[str, str]] = []
        listener.create_subscription(
            DiagnosticArray, "/diagnostics", lambda m: received.extend({v.key: v.value for v in s.values}
                                                                       for s in m.status), reliable_qos())  # fmt: skip
        image = np.zeros((4, 4, 3), np.uint8)
        for k in [*range(10), 13, 14, 15, 20]:  # 15 Hz: 3 frames missing after 9, 4 after 15
            node._on_part("image", conv.numpy_to_image(image, "rgb8", stamp=k / 15.0))
        executor.add_node(node)
        executor.add_node(listener)
        assert spin_until(executor, lambda: any("wire_lost.image" in v for v in received), timeout_s=20.0)
        values = next(v for v in received if "wire_lost.image" in v)
        assert values["wire_lost.image"] == "7"
    finally:
        executor.shutdown()
        listener.destroy_node()
        node.destroy_node()
        rclpy.shutdown(context=context)
