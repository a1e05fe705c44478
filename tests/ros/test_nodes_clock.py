"""Time and namespaces: the nodes under use_sim_time in namespace robot1, and a camera that stops.

sim_camera_node and reconstruction_node run as processes with ``use_sim_time:=true`` and
``__ns:=/robot1``; this process publishes /clock from 1000 s on. Diagnostics go to the absolute
``/diagnostics`` (namespaced, they would be lost to diagnostic_aggregator), are stamped by the
node's clock, and measure latency on it: image stamps are sim time, so a latency taken from the
wall clock would be decades. When the camera stops, diagnostics report stale input within 2 s
and the node still answers ``~/reset``.
"""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("rclpy", exc_type=ImportError, reason="rclpy not installed (pip extra or system ROS 2)")

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from tests.ros.helpers import REPO, isolated_node, spin_until  # noqa: E402
from tests.ros.node_processes import (  # noqa: E402
    NodeProcess,
    any_model_params,
    diagnostic_values,
    trained_backend_params,
)
from vtr_perception.ros import conversions as conv  # noqa: E402
from vtr_perception.ros.qos import reliable_qos  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]

SIM_START_S = 1000.0
NAMESPACE = "/robot1"
CAMERA = {"source": "procedural", "num_objects": 2, "seed": 5, "mode": "orbit", "rate_hz": 4.0,
          "orbit_speed_deg": 8.0, "distance": 0.4}  # fmt: skip
FIRST_UPDATE_TIMEOUT_S = 90.0
STALE_WITHIN_S = 2.0


@pytest.fixture(scope="module")
def model_params(tmp_path_factory):
    return trained_backend_params() or any_model_params(tmp_path_factory.mktemp("tiny_model"))


def test_sim_time_namespace_and_stale_input(tmp_path, model_params):
    sim = {"use_sim_time": True}
    remaps = {"__ns": NAMESPACE}
    camera = NodeProcess("vtr_perception.ros.sim_camera_node", tmp_path / "sim_camera.log",
                         params_file=REPO / "config" / "sim_camera.yaml", params={**CAMERA, **sim},
                         remaps=remaps)  # fmt: skip
    reconstruction = NodeProcess("vtr_perception.ros.reconstruction_node", tmp_path / "reconstruction.log",
                                 params_file=REPO / "config" / "reconstruction.yaml", params={**model_params, **sim},
                                 remaps=remaps)  # fmt: skip
    diagnostics: list[tuple[float, DiagnosticArray]] = []
    lock = threading.Lock()

    def on_diagnostics(msg: DiagnosticArray) -> None:
        with lock:
            diagnostics.append((time.monotonic(), msg))

    def logs() -> str:
        return "\n".join(f"--- {p.log_path.name}\n{p.output()[-2500:]}" for p in (camera, reconstruction))

    try:
        with isolated_node("clock_test") as (node, executor):
            clock = node.create_publisher(Clock, "/clock", reliable_qos())
            start = time.monotonic()

            def tick() -> None:
                msg = Clock()
                msg.clock = conv.seconds_to_stamp(SIM_START_S + time.monotonic() - start)
                clock.publish(msg)

            node.create_timer(0.01, tick)
            node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, reliable_qos())

            def updated() -> dict[str, str] | None:
                with lock:
                    values = diagnostic_values(diagnostics[-1][1]) if diagnostics else {}
                # frames that arrive before the node's first /clock have no arrival lag: wait for one that has
                ready = values.get("latency_ms_p50", "0.0") != "0.0" and "stage_ms.arrival" in values
                return values if ready else None

            if not spin_until(executor, lambda: updated() is not None, timeout_s=FIRST_UPDATE_TIMEOUT_S):
                pytest.fail(f"no diagnostics with a latency within {FIRST_UPDATE_TIMEOUT_S} s\n{logs()}")
            values = updated()
            with lock:
                last = diagnostics[-1][1]
            stamp = conv.stamp_to_seconds(last.header.stamp)
            assert SIM_START_S <= stamp < SIM_START_S + 3600.0, f"diagnostics stamped {stamp}, not sim time"
            # sim-time stamps against the sim clock: a latency of seconds, not of decades of wall clock
            assert 0.0 < float(values["latency_ms_p50"]) < 20_000.0, values
            assert 0.0 <= float(values["stage_ms.arrival"]) < 5_000.0, values
            assert last.status[0].level == DiagnosticStatus.OK, (last.status[0].message, values)

            # the camera stops: stale input reported within 2 s, the node still serving
            camera.stop()
            stopped = time.monotonic()

            def stale() -> bool:
                with lock:
                    return any(t > stopped and m.status[0].message.startswith("stale input") and "image" in
                               m.status[0].message for t, m in diagnostics)  # fmt: skip

            assert spin_until(executor, stale, timeout_s=STALE_WITHIN_S), f"no stale report within 2 s\n{logs()}"
            with lock:
                msg = next(m for t, m in diagnostics if t > stopped and "image" in m.status[0].message)
            assert msg.status[0].level == DiagnosticStatus.WARN
            assert float(diagnostic_values(msg)["input_age_s.image"]) >= 1.0

            client = node.create_client(Trigger, f"{NAMESPACE}/reconstruction/reset")
            assert spin_until(executor, client.service_is_ready, timeout_s=10.0), "no ~/reset under the namespace"
            future = client.call_async(Trigger.Request())
            assert spin_until(executor, future.done, timeout_s=10.0), f"~/reset did not answer\n{logs()}"
            assert future.result().success
    finally:
        codes = camera.stop(), reconstruction.stop()
    assert codes == (0, 0), f"exit codes {codes}\n{logs()}"
