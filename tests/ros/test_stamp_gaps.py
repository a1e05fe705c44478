"""Frames lost on the wire counted from gaps in header stamps."""

import pytest

from vtr_perception.ros.stamp_gaps import StampGaps


def test_gaps_in_a_15hz_stream_count_the_missing_frames():
    gaps = StampGaps()
    stamps = [k / 15.0 for k in range(60)]
    dropped = {10, 11, 12, 30, 45}
    for k, s in enumerate(stamps):
        if k not in dropped:
            gaps.add(s)
    assert gaps.period == pytest.approx(1 / 15.0)
    assert gaps.lost == len(dropped)
    assert gaps.received == 60 - len(dropped)
    assert gaps.lost_fraction == pytest.approx(len(dropped) / 60)


def test_a_steady_or_reordered_stream_loses_nothing():
    gaps = StampGaps()
    for s in [0.0, 0.1, 0.2, 0.3, 0.25, 0.4, 0.5, 0.6, 0.7, 0.7, 0.8]:
        gaps.add(s)
    assert gaps.lost == 0


def test_nothing_is_counted_before_the_period_is_known():
    gaps = StampGaps(min_intervals=5)
    for s in [0.0, 1.0, 5.0]:
        gaps.add(s)
    assert gaps.period is None and gaps.lost == 0
