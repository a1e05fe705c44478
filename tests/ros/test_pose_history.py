"""Pose lookup at an image stamp: exact, interpolated, waited for, or refused."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from vtr_perception.ros.pose_history import PoseHistory, interpolate_pose


def pose(yaw_deg: float, x: float) -> np.ndarray:
    a = np.radians(yaw_deg)
    T = np.eye(4)
    T[:3, :3] = [[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]]
    T[0, 3] = x
    return T


def yaw_deg(T: np.ndarray) -> float:
    return float(np.degrees(np.arctan2(T[1, 0], T[0, 0])))


def test_interpolation_is_slerp_and_linear():
    T = interpolate_pose(pose(0.0, 0.0), pose(90.0, 1.0), 0.25)
    assert yaw_deg(T) == pytest.approx(22.5)
    assert T[0, 3] == pytest.approx(0.25)
    np.testing.assert_allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-12)


def test_exact_stamp_wins_and_a_gap_is_interpolated():
    h = PoseHistory()
    for t, yaw in ((1.0, 0.0), (1.1, 30.0), (1.3, 90.0)):
        h.add(t, pose(yaw, t))
    assert yaw_deg(h.at(1.1, max_gap_s=0.25)) == pytest.approx(30.0)
    assert yaw_deg(h.at(1.2, max_gap_s=0.25)) == pytest.approx(60.0)  # the lost pose between 1.1 and 1.3
    assert h.at(1.2, max_gap_s=0.05) is None  # neighbours too far apart
    assert h.at(0.5, max_gap_s=0.25) is None  # before the history
    assert h.at(2.0, max_gap_s=0.25) is None  # no later pose yet


def test_out_of_order_arrival_and_maxlen():
    h = PoseHistory(maxlen=3)
    for t in (3.0, 1.0, 2.0, 4.0):
        h.add(t, pose(10.0 * t, t))
    assert len(h) == 3
    assert h.at(1.0, max_gap_s=0.1) is None  # the oldest was dropped
    assert yaw_deg(h.at(2.5, max_gap_s=1.0)) == pytest.approx(25.0)


def test_wait_returns_when_the_next_pose_arrives():
    h = PoseHistory()
    h.add(1.0, pose(0.0, 0.0))
    threading.Timer(0.05, lambda: h.add(1.2, pose(20.0, 0.0))).start()
    t0 = time.monotonic()
    T = h.wait_for(1.1, max_gap_s=0.25, timeout_s=5.0)
    assert time.monotonic() - t0 < 2.0
    assert yaw_deg(T) == pytest.approx(10.0)


def test_wait_times_out_to_the_newest_pose_within_the_gap_or_none():
    h = PoseHistory()
    h.add(1.0, pose(5.0, 0.0))
    assert yaw_deg(h.wait_for(1.1, max_gap_s=0.25, timeout_s=0.05)) == pytest.approx(5.0)
    assert h.wait_for(2.0, max_gap_s=0.25, timeout_s=0.05) is None
    assert PoseHistory().wait_for(1.0, max_gap_s=0.25, timeout_s=0.05) is None


def test_close_wakes_a_waiter():
    h = PoseHistory()
    threading.Timer(0.05, h.close).start()
    t0 = time.monotonic()
    assert h.wait_for(1.0, max_gap_s=0.25, timeout_s=10.0) is None
    assert time.monotonic() - t0 < 5.0
