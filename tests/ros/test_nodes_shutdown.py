"""SIGINT and SIGTERM stop every node within 2 s, with exit status 0 and no traceback.

rclpy's signal handlers shut the context down under a running callback; sim_camera_node used to die
with ``RCLError: Failed to publish: publisher's context is invalid`` when Ctrl-C came mid-frame. The
three nodes run as processes in the loop (camera frames -> reconstruction -> objects/error -> nbv),
the camera publishing nearly all the time (a frame's messages 50 ms apart) so the signal lands
mid-frame; all three get the signal at once.
"""

from __future__ import annotations

import signal
import time

import pytest

pytest.importorskip("rclpy", exc_type=ImportError, reason="rclpy not installed (pip extra or system ROS 2)")

from tests.ros.helpers import REPO  # noqa: E402
from tests.ros.node_processes import (  # noqa: E402
    NodeProcess,
    any_model_params,
    logs_tail,
    signal_all,
    trained_backend_params,
    wait_for,
)

pytestmark = [pytest.mark.ros, pytest.mark.slow]

EXIT_WITHIN_S = 2.0
START_TIMEOUT_S = 90.0


@pytest.fixture(scope="module")
def model_params(tmp_path_factory):
    return trained_backend_params() or any_model_params(tmp_path_factory.mktemp("tiny_model"))


def start_loop(logs, model_params) -> dict[str, NodeProcess]:
    config = REPO / "config"
    camera = {"source": "procedural", "num_objects": 2, "seed": 5, "rate_hz": 15.0, "mode": "orbit",
              "publish_spacing_s": 0.05}  # fmt: skip
    return {
        "sim_camera": NodeProcess(
            "vtr_perception.ros.sim_camera_node",
            logs / "sim_camera.log",
            params_file=config / "sim_camera.yaml",
            params=camera,
        ),  # fmt: skip
        "reconstruction": NodeProcess(
            "vtr_perception.ros.reconstruction_node",
            logs / "reconstruction.log",
            params_file=config / "reconstruction.yaml",
            params=model_params,
        ),  # fmt: skip
        "nbv": NodeProcess("vtr_perception.ros.nbv_node", logs / "nbv.log", params_file=config / "nbv.yaml"),
    }


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_every_node_exits_cleanly_on_signal(tmp_path, model_params, sig):
    nodes = start_loop(tmp_path, model_params)
    try:
        # running, not starting: the reconstruction node has its model and the camera's frames flow
        started = wait_for(lambda: "backend:" in nodes["reconstruction"].output() or not all(
            n.alive() for n in nodes.values()), timeout_s=START_TIMEOUT_S, poll_s=0.2)  # fmt: skip
        logs = logs_tail(nodes, 2000)
        assert started and all(n.alive() for n in nodes.values()), f"the loop did not start\n{logs}"
        time.sleep(4.0)  # frames are processed meanwhile
        exits = signal_all(nodes, sig, EXIT_WITHIN_S)
    finally:
        codes = {name: n.stop() for name, n in nodes.items()}
    logs = logs_tail(nodes)
    assert all(code == 0 for code, _ in exits.values()), f"exit status / seconds after {sig.name}: {exits}\n{logs}"
    assert codes == dict.fromkeys(nodes, 0)
    for name, n in nodes.items():
        assert "Traceback" not in n.output(), f"{name} printed a traceback on {sig.name}\n{n.output()[-3000:]}"
