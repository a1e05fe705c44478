"""Nodes under test run as child processes (``python -m vtr_perception.ros.<node> --ros-args ...``).

Shared by the tests/ros/test_nodes_*.py modules: start a node with parameters and a log file,
stop it with SIGINT (the way ``ros2 launch`` does) and read what it logged; and the models the
reconstruction node loads: the trained one when models/reconstructor.pt exists, else a tiny
randomly initialised reconstructor written as a real checkpoint (same loader, same backend).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.ros.helpers import PYTHON, REPO, child_env

# Fast DDS's default shared-memory transport stalls on image-sized messages under load: dropped samples
# are repaired seconds later, and small messages (camera_info, poses) queue behind them. Seen on the
# 2-core test machine; UDP on localhost delivers promptly. Set before any participant is created.
os.environ.setdefault("FASTDDS_BUILTIN_TRANSPORTS", "UDPv4")

MODELS = REPO / "models"
TRAINED_CHECKPOINT = MODELS / "reconstructor.pt"
TRAINED_ONNX = MODELS / "reconstructor.onnx"


def write_tiny_model(model_dir: Path, *, seed: int = 0) -> Path:
    """A randomly initialised small reconstructor (32 px in, 16^3 out) saved as models' checkpoint."""
    import torch

    from vtr_perception.infer.paths import CHECKPOINT_NAME
    from vtr_perception.models import Reconstructor, ReconstructorConfig, save_checkpoint

    torch.manual_seed(seed)
    model_dir.mkdir(parents=True, exist_ok=True)
    save_checkpoint(model_dir / CHECKPOINT_NAME, Reconstructor(ReconstructorConfig(image_size=32, resolution=16)))
    return model_dir


def trained_backend_params() -> dict[str, str] | None:
    """Parameters that make the reconstruction node run the trained model (ONNX Runtime when its ONNX file
    is there, else torch), or None while it is missing."""
    if TRAINED_ONNX.is_file():
        return {"model_dir": str(MODELS), "backend": "onnxruntime"}
    if TRAINED_CHECKPOINT.is_file():
        return {"model_dir": str(MODELS), "backend": "torch"}
    return None


def any_model_params(model_dir: Path) -> dict[str, str]:
    """For tests where the model does not matter: the tiny random model on torch (fastest); where torch is
    not installed (the run-time set of `make robot-check`), the trained model on ONNX Runtime."""
    if importlib.util.find_spec("torch") is not None:
        return {"model_dir": str(write_tiny_model(model_dir)), "backend": "torch"}
    trained = trained_backend_params()
    if trained is None or trained["backend"] != "onnxruntime":
        pytest.skip(f"needs torch or {TRAINED_ONNX.relative_to(REPO)}")
    return trained


def _param(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_param(v) for v in value) + "]"
    return str(value)


class NodeProcess:
    """One node in its own process; ``stop()`` sends SIGINT and waits, then kills if it must."""

    def __init__(
        self,
        module: str,
        log_path: Path,
        *,
        params: dict | None = None,
        params_file: Path | None = None,
        remaps: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
        ros_args: list[str] | None = None,
    ) -> None:
        args = [PYTHON, "-m", module, *(ros_args or ["--ros-args"])]
        if params_file is not None:
            args += ["--params-file", str(params_file)]
        for key, value in (params or {}).items():
            args += ["-p", f"{key}:={_param(value)}"]
        for src, dst in (remaps or {}).items():
            args += ["-r", f"{src}:={dst}"]
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args,
            env=child_env(OMP_NUM_THREADS="1", **(env or {})),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
        )

    def output(self) -> str:
        if not self._log.closed:  # stop() closes it; the file stays readable
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def pid(self) -> int:
        return self.proc.pid

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the node's process group (as ``ros2 launch`` does on Ctrl-C)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout_s: float = 10.0) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def wait_for(done, *, timeout_s: float, poll_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        time.sleep(poll_s)
    return bool(done())


def diagnostic_values(msg) -> dict[str, str]:
    """The key/values of the reconstruction node's DiagnosticStatus."""
    (status,) = [s for s in msg.status if s.name.startswith("vtr_perception")]
    return {kv.key: kv.value for kv in status.values}


def nearest(points: np.ndarray, target: np.ndarray) -> int:
    return int(np.argmin(np.linalg.norm(np.asarray(points) - np.asarray(target), axis=1)))


def signal_all(nodes: dict[str, NodeProcess], sig: int, within_s: float) -> dict[str, tuple[int | None, float]]:
    """Send ``sig`` to every node at once (as ``ros2 launch`` does on Ctrl-C); per node (exit status, or None
    if still running ``within_s`` after the signal, and the seconds it took)."""
    sent = time.monotonic()
    for n in nodes.values():
        n.signal(sig)
    exits = {}
    for name, n in nodes.items():
        with contextlib.suppress(subprocess.TimeoutExpired):
            n.proc.wait(timeout=max(0.1, sent + within_s - time.monotonic()))
        exits[name] = (n.proc.poll(), round(time.monotonic() - sent, 2))
    return exits


def logs_tail(nodes: dict[str, NodeProcess], chars: int = 3000) -> str:
    """The end of every node's log, headed by its name."""
    return "\n".join(f"--- {name}\n{n.output()[-chars:]}" for name, n in nodes.items())
