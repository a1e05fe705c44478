"""benchmarks/node.py's soak figures: RSS and latency against time, and the latency drift from them."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("rclpy", exc_type=ImportError, reason="benchmarks/node.py imports the ROS nodes")
pytest.importorskip("psutil", reason="the benchmarks need the development set (make setup), not the run-time one")

from benchmarks.node import over_time, plot_over_time  # noqa: E402


def soak(elapsed: float, latency_of) -> dict:
    t = np.arange(0.0, elapsed, 0.5)
    return {"latencies": np.array([latency_of(x) for x in t]), "latency_t": t, "elapsed": elapsed,
            "rss": [100.0, 101.0, 102.0], "rss_t": [0.0, 5.0, 10.0], "load": [3.0, 9.0, 6.0]}  # fmt: skip


def test_latency_drift_compares_the_first_and_last_five_minutes():
    # 40 ms for the first ten minutes, 70 ms after: the middle does not count
    row = over_time(soak(1800.0, lambda x: 40.0 if x < 600 else 70.0))
    assert row["drift_window_s"] == 300.0
    assert row["latency_ms_p50_first"] == 40.0 and row["latency_ms_p50_last"] == 70.0
    assert row["latency_drift_ms"] == pytest.approx(30.0)
    assert row["load_avg_1min_mean"] == 6.0 and row["load_avg_1min_max"] == 9.0
    json.dumps(row)  # plain JSON


def test_a_short_soak_compares_its_first_and_last_thirds():
    row = over_time(soak(60.0, lambda x: 10.0 + x))
    assert row["drift_window_s"] == 20.0
    assert row["latency_ms_p50_first"] < 30.0 < 50.0 < row["latency_ms_p50_last"]


def test_plot_writes_a_png(tmp_path):
    row = {"objects": 3, "rss_mb_per_min": 0.1, **over_time(soak(60.0, lambda x: 50.0))}
    plot_over_time([row], tmp_path / "soak.png")
    assert (tmp_path / "soak.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
