"""run_node ends a node with exit 0 and no traceback when an error is only SIGINT racing a callback.

SIGINT raises KeyboardInterrupt wherever Python runs next; inside rclpy's C++ taking a message that
surfaced as ``RuntimeError: Unable to convert call argument '0' to Python object`` while the context was
still ok (seen once in CI, in the launched-loop test). The child below reproduces it: a timer callback
sends itself SIGINT and turns the KeyboardInterrupt into that RuntimeError, as the C++ did. rclpy's own
handlers are taken out so that the context stays ok, as it was in CI when the error reached run_node
(rclpy's thread had not shut it down yet). An error with no signal still ends the process with its
traceback.
"""

from __future__ import annotations

import subprocess
import textwrap

import pytest

pytest.importorskip("rclpy", exc_type=ImportError, reason="rclpy not installed (pip extra or system ROS 2)")

from tests.ros.helpers import PYTHON, child_env  # noqa: E402

pytestmark = pytest.mark.ros

CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    from rclpy.node import Node
    from rclpy.signals import uninstall_signal_handlers
    from vtr_perception.ros.node_main import run_node

    SEND_SIGNAL = sys.argv[1] == "signal"

    class Racing(Node):
        def __init__(self):
            super().__init__("node_main_race")
            uninstall_signal_handlers()  # back to the Python-level handlers: the context stays ok
            self.create_timer(0.05, self.tick)

        def tick(self):
            try:
                if SEND_SIGNAL:
                    os.kill(os.getpid(), signal.SIGINT)
                    time.sleep(5.0)  # the Python-level handler interrupts this
            except KeyboardInterrupt:
                pass
            raise RuntimeError("Unable to convert call argument '0' to Python object")

    run_node(Racing, "node_main_race", [])
    """
)


def _run_child(mode: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-c", CHILD, mode], env=child_env(), capture_output=True, text=True, timeout=60)


def test_an_error_while_sigint_is_handled_exits_zero_without_a_traceback():
    done = _run_child("signal")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]


def test_the_same_error_without_a_signal_still_ends_with_its_traceback():
    done = _run_child("no_signal")
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Unable to convert call argument" in done.stderr
