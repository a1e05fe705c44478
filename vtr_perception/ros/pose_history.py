"""Stamped camera poses from a topic, looked up at an image's stamp the way tf2 does: interpolated.

The camera pose of a frame may arrive after the frame, or not at all on a best-effort topic.
Interpolating between the poses just before and just after the stamp (linear in translation,
slerp in rotation) needs neither the exact message nor a wait for a lost one to be repaired.
"""

from __future__ import annotations

import bisect
import threading
import time

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

EXACT_S = 1e-6  # stamps closer than this are the same stamp


def interpolate_pose(T0: np.ndarray, T1: np.ndarray, alpha: float) -> np.ndarray:
    """The pose ``alpha`` of the way from ``T0`` (alpha 0) to ``T1`` (alpha 1), both 4x4 rigid transforms."""
    T = np.eye(4)
    T[:3, 3] = (1.0 - alpha) * T0[:3, 3] + alpha * T1[:3, 3]
    T[:3, :3] = Slerp([0.0, 1.0], Rotation.from_matrix(np.stack([T0[:3, :3], T1[:3, :3]])))([alpha]).as_matrix()[0]
    return T


class PoseHistory:
    """The last ``maxlen`` poses by stamp; thread-safe (a subscription adds, a worker looks up)."""

    def __init__(self, maxlen: int = 200) -> None:
        self.maxlen = maxlen
        self._stamps: list[float] = []
        self._poses: list[np.ndarray] = []
        self._cond = threading.Condition()
        self.closed = False

    def add(self, stamp: float, T: np.ndarray) -> None:
        with self._cond:
            i = bisect.bisect_left(self._stamps, stamp)
            if i < len(self._stamps) and abs(self._stamps[i] - stamp) < EXACT_S:
                self._poses[i] = T
            else:
                self._stamps.insert(i, stamp)
                self._poses.insert(i, T)
            if len(self._stamps) > self.maxlen:
                del self._stamps[0], self._poses[0]
            self._cond.notify_all()

    def close(self) -> None:
        """Wake every waiter (shutdown)."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def _lookup(self, stamp: float, max_gap_s: float) -> tuple[np.ndarray | None, bool]:
        """(pose at ``stamp`` or None, whether a later pose can no longer change the answer)."""
        i = bisect.bisect_left(self._stamps, stamp - EXACT_S)
        if i < len(self._stamps) and abs(self._stamps[i] - stamp) < EXACT_S:
            return self._poses[i], True
        if i == len(self._stamps):  # nothing at or after the stamp yet
            return None, False
        if i == 0:  # only poses after the stamp: older history is gone or never came
            return None, True
        t0, t1 = self._stamps[i - 1], self._stamps[i]
        if stamp - t0 > max_gap_s or t1 - stamp > max_gap_s:
            return None, True
        return interpolate_pose(self._poses[i - 1], self._poses[i], (stamp - t0) / (t1 - t0)), True

    def at(self, stamp: float, *, max_gap_s: float) -> np.ndarray | None:
        """The pose at ``stamp``: exact, or interpolated between neighbours each within ``max_gap_s``."""
        with self._cond:
            return self._lookup(stamp, max_gap_s)[0]

    def wait_for(self, stamp: float, *, max_gap_s: float, timeout_s: float) -> np.ndarray | None:
        """Like :meth:`at`, waiting up to ``timeout_s`` for a pose at or after ``stamp`` to arrive.

        After the wait, an older pose within ``max_gap_s`` is taken as it is (a camera that has
        stopped publishing poses is usually a camera that has stopped moving).
        """
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                T, final = self._lookup(stamp, max_gap_s)
                remaining = deadline - time.monotonic()
                if final or self.closed or remaining <= 0:
                    break
                self._cond.wait(remaining)
            if T is None and not final and self._stamps and stamp - self._stamps[-1] <= max_gap_s:
                T = self._poses[-1]
            return T

    def latest(self) -> np.ndarray | None:
        """The pose with the newest stamp, or None before the first."""
        with self._cond:
            return self._poses[-1] if self._poses else None

    def __len__(self) -> int:
        with self._cond:
            return len(self._stamps)
