"""The main job, shortened: one object, two steps, through the real nodes over DDS."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="the demo runs the ROS 2 nodes (pip extra or system ROS 2)")

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.ros, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    if not (REPO / "models" / "reconstructor.pt").is_file():
        pytest.skip("models/reconstructor.pt is missing")
    out = tmp_path_factory.mktemp("demo")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "vtr_perception.cli", "demo", "--objects", "1", "--steps", "2", "--out", str(out),
           "--timeout", "20"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    return proc, out


def test_demo_runs_and_prints_a_status_line_per_step(demo_run):
    proc, _ = demo_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    steps = [line for line in proc.stdout.splitlines() if " step " in line and "IoU=" in line]
    assert len(steps) == 4, proc.stdout  # two steps, next-best-view and random runs
    assert "last view above the first for" in proc.stdout and "NBV at or above random for" in proc.stdout


def test_demo_writes_summary_poses_meshes_and_report(demo_run):
    proc, out = demo_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    (obj,) = summary["objects"]
    assert isinstance(obj["id"], int) and obj["name"]
    assert [s["views"] for s in obj["nbv"]] == sorted(s["views"] for s in obj["nbv"])
    assert len(obj["nbv"]) == 2 and len(obj["random"]) == 2
    names = [obj["name"]]
    rose, above = obj["nbv"][-1]["iou"] > obj["nbv"][0]["iou"], obj["nbv"][-1]["iou"] >= obj["random"][-1]["iou"]
    assert summary["criteria"] == {"objects": 1, "last_above_first": names if rose else [], "random_compared": 1,
                                   "nbv_at_or_above_random": names if above else []}  # fmt: skip
    # the reconstruction is reset at the object's initial view: step 1 is its reconstruction from that one view
    assert obj["nbv"][0]["views"] == obj["random"][0]["views"] == 1, (obj["nbv"][0], obj["random"][0])
    for step in obj["nbv"] + obj["random"]:
        assert 0.0 <= step["iou"] <= 1.0 and math.isfinite(step["fscore"])
    assert set(obj["random"][0]) == set(obj["nbv"][0]) >= {"views", "iou", "fscore", "translation_cm", "latency_ms"}
    # both runs start from the same initial view and measure step 1 there (not where the camera was before)
    first_nbv, first_random = (np.array(obj[run][0]["camera_pose"]) for run in ("nbv", "random"))
    np.testing.assert_allclose(first_random[:3, 3], first_nbv[:3, 3], atol=0.01)
    poses = json.loads((out / "poses.json").read_text())
    assert poses["objects"][0]["true_position"] and len(poses["objects"][0]["true_position"]) == 3
    assert list(out.glob("object_0_*_truth.ply")) and list(out.glob("object_0_*.ply"))
    png = (out / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def _node_processes(domain_id: str) -> list[int]:
    """Our node processes on ``domain_id`` still alive (their environment names the domain)."""
    alive = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"vtr_perception.ros." in cmdline and f"ROS_DOMAIN_ID={domain_id}".encode() in environ:
            alive.append(int(proc.name))
    return alive


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads the node processes from /proc")
def test_a_run_past_its_deadline_ends_with_one_line_its_stacks_and_no_nodes_left(tmp_path):
    if not (REPO / "models" / "reconstructor.pt").is_file():
        pytest.skip("models/reconstructor.pt is missing")
    domain = str(150 + os.getpid() % 50)
    env = dict(os.environ, PYTHONUNBUFFERED="1", ROS_DOMAIN_ID=domain)
    cmd = [sys.executable, "-m", "vtr_perception.cli", "demo", "--objects", "1", "--steps", "2", "--out", str(tmp_path),
           "--deadline", "2"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    stacks = tmp_path / "logs" / "stacks_nbv.txt"
    assert proc.stderr.strip().splitlines()[-1] == (
        f"vtr-perception demo: error: the nbv run did not finish within 2 s; every thread's stack at that moment "
        f"is in {stacks}"
    )
    assert "run_loop" in stacks.read_text()
    assert not (tmp_path / "logs" / "stacks_nbv.hard.txt").exists()
    assert _node_processes(domain) == []
