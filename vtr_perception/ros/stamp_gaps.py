"""Frames lost on the wire, seen from the receiving end: gaps in a stream's header stamps.

A camera stamps its frames at a steady rate. ``StampGaps`` learns that period (median of the
recent intervals between consecutive stamps) and, when two received stamps are more than 1.5
periods apart, counts the frames that should have come in between as lost. It needs no
sequence numbers (ROS 2 headers have none) and no middleware support; DDS sample-lost events,
where the middleware reports them, are counted separately by the node.
"""

from __future__ import annotations

import collections

import numpy as np


class StampGaps:
    """Counts frames missing between received stamps (seconds) of one periodic stream."""

    def __init__(self, *, window: int = 50, min_intervals: int = 5) -> None:
        self._intervals: collections.deque[float] = collections.deque(maxlen=window)
        self._min_intervals = min_intervals
        self._last: float | None = None
        self.received = 0
        self.lost = 0

    @property
    def period(self) -> float | None:
        """The learnt frame period (s), None until enough intervals were seen."""
        if len(self._intervals) < self._min_intervals:
            return None
        return float(np.median(self._intervals))

    def add(self, stamp: float) -> int:
        """Take one received stamp; returns how many frames were lost just before it."""
        self.received += 1
        last = self._last
        self._last = stamp if last is None else max(stamp, last)
        if last is None or stamp <= last:  # the first, a repeat or an out-of-order stamp
            return 0
        interval = stamp - last
        period = self.period
        lost = 0
        if period is not None and period > 0 and interval > 1.5 * period:
            lost = int(round(interval / period)) - 1
            self.lost += lost
        else:
            self._intervals.append(interval)  # a gap never teaches the period
        return lost

    @property
    def lost_fraction(self) -> float:
        total = self.received + self.lost
        return self.lost / total if total else 0.0
