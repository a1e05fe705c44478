"""The demo's conductor wakes up on its inputs (a wait that nothing wakes sleeps out its whole timeout)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

pytest.importorskip("rclpy")

import rclpy  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402

from vtr_perception.geometry.cameras import camera_from_angles  # noqa: E402
from vtr_perception.ros import conversions as conv  # noqa: E402
from vtr_perception.ros.demo_monitor import DemoMonitor  # noqa: E402
from vtr_perception.ros.qos import reliable_qos  # noqa: E402

pytestmark = pytest.mark.ros
TIMEOUT_S = 20.0


def test_the_first_camera_pose_wakes_a_waiting_monitor():
    context = Context()
    rclpy.init(context=context)
    monitor = DemoMonitor(None, planner="random", seed=0, context=context, log=lambda _: None)
    camera = rclpy.create_node("fake_camera", context=context)
    pub = camera.create_publisher(PoseStamped, "camera_pose", reliable_qos())
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(monitor)
    executor.add_node(camera)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        T = camera_from_angles(30.0, 30.0, 0.5, target=np.zeros(3))

        def publish_until_heard() -> None:
            while monitor.camera_pose is None and context.ok():
                pub.publish(conv.matrix_to_pose_stamped(T, frame_id="world"))
                time.sleep(0.1)

        threading.Thread(target=publish_until_heard, daemon=True).start()
        start = time.monotonic()
        assert monitor._wait(lambda: monitor.camera_pose is not None, TIMEOUT_S)
        # woken by the pose itself, not by the timeout (a monitor with no goal yet was never notified)
        assert time.monotonic() - start < TIMEOUT_S / 2
    finally:
        executor.shutdown()
        monitor.destroy_node()
        camera.destroy_node()
        rclpy.shutdown(context=context)
