"""The demo's conductor wakes up on its inputs (a wait that nothing wakes sleeps out its whole timeout), and
any of its waits ends as soon as a node process dies, naming it."""

from __future__ import annotations

import signal
import subprocess
import sys
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
from vtr_perception.ros.demo_monitor import NODE_CHECK_S, DemoError, DemoMonitor  # noqa: E402
from vtr_perception.ros.demo_runner import first_exit  # noqa: E402
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


@pytest.fixture
def node_and_monitor(tmp_path):
    """A stand-in node process (a sleeping Python) watched by a monitor, as run_loop watches nbv_node."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    context = Context()
    rclpy.init(context=context)
    monitor = DemoMonitor(None, planner="nbv", seed=0, context=context, log=lambda _: None,
                          node_failure=lambda: first_exit({"nbv": proc}, tmp_path))  # fmt: skip
    try:
        yield proc, monitor
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        monitor.destroy_node()
        rclpy.shutdown(context=context)


def test_a_node_killed_mid_wait_ends_the_wait_at_once_naming_it(node_and_monitor, tmp_path):
    proc, monitor = node_and_monitor
    assert not monitor._wait(lambda: False, 0.3)  # all running: an ordinary timeout
    threading.Timer(0.5, proc.send_signal, args=(signal.SIGKILL,)).start()
    start = time.monotonic()
    with pytest.raises(DemoError) as raised:
        monitor._wait(lambda: False, TIMEOUT_S)
    assert time.monotonic() - start < 0.5 + NODE_CHECK_S + 1.0, "the wait sat out its timeout"
    assert str(raised.value) == f"nbv_node exited (status -9); see {tmp_path / 'nbv.log'}"


def test_the_reset_waits_notice_a_dead_node_too(node_and_monitor):
    proc, monitor = node_and_monitor
    proc.kill()
    proc.wait()
    start = time.monotonic()
    with pytest.raises(DemoError, match=r"^nbv_node exited \(status -9\)"):
        monitor.reset_reconstruction(TIMEOUT_S)  # no reset service here: it would wait TIMEOUT_S for one
    assert time.monotonic() - start < 2.0
