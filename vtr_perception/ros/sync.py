"""Frame assembly: match image, camera_info, depth and mask messages by their stamps.

message_filters is not in the pip ROS wheels, and this is small: every part is kept
in a short per-topic history; a frame is complete when the image has a partner of each
required kind with the same stamp ("exact") or within ``slop`` seconds ("approximate").
Plain Python (no rclpy), so it is tested directly.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Frame:
    """The messages of one camera frame, keyed by part name ("image", "camera_info", ...)."""

    stamp: float
    parts: dict[str, Any] = field(default_factory=dict)
    completed: float = field(default_factory=time.time)  # wall clock when its last part arrived
    # the receiving node's clock (ROS time: sim time under use_sim_time) when its last part arrived;
    # latencies are this clock minus ``stamp``, never the wall clock (wrong with use_sim_time and bags)
    received: float | None = None


class FrameAssembler:
    """Collects parts and returns frames once the image and every required part match."""

    def __init__(
        self, required: tuple[str, ...], *, mode: str = "exact", slop: float = 0.02, history: int = 10
    ) -> None:
        if mode not in ("exact", "approximate"):
            raise ValueError(f"sync mode must be 'exact' or 'approximate', got {mode!r}")
        if "image" not in required:
            raise ValueError("the image is always a required part")
        self.required = tuple(required)
        self.mode = mode
        self.slop = 0.0 if mode == "exact" else float(slop)
        self.history = history
        self._parts: dict[str, OrderedDict[float, Any]] = {name: OrderedDict() for name in self.required}
        self._last_emitted = float("-inf")

    def add(self, part: str, stamp: float, msg: Any) -> Frame | None:
        """Store ``msg``; return the newest complete frame it finishes, if any."""
        if part not in self._parts:
            raise ValueError(f"unknown frame part {part!r}; expected one of {self.required}")
        store = self._parts[part]
        store[stamp] = msg
        while len(store) > self.history:
            store.popitem(last=False)
        return self._try_complete()

    def _match(self, part: str, stamp: float) -> tuple[float, Any] | None:
        best = None
        for s, msg in self._parts[part].items():
            d = abs(s - stamp)
            if d <= self.slop + 1e-9 and (best is None or d < abs(best[0] - stamp)):
                best = (s, msg)
        return best

    def _try_complete(self) -> Frame | None:
        for stamp in sorted(self._parts["image"], reverse=True):
            if stamp <= self._last_emitted:
                break
            matches = {}
            for part in self.required:
                m = self._match(part, stamp) if part != "image" else (stamp, self._parts["image"][stamp])
                if m is None:
                    break
                matches[part] = m
            else:
                self._last_emitted = stamp
                for part, (s, _) in matches.items():  # consumed, and everything older is stale
                    store = self._parts[part]
                    for old in [k for k in store if k <= s]:
                        del store[old]
                return Frame(stamp, {part: msg for part, (_, msg) in matches.items()})
        return None
