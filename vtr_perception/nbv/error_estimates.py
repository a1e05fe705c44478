"""Per-voxel estimates of where a reconstruction is probably wrong, behind one interface.

An estimator reads the reconstructor outputs of ONE object (see docs/architecture.md):

    occupancy       (R, R, R)     occupancy probabilities
    error           (R, R, R)     the error head's predicted |ground truth - occupancy|
    view_occupancy  (V, R, R, R)  per-view coarse volumes after warping

and returns an (R, R, R) float32 volume, larger where the reconstruction is likelier wrong.
Only "oracle" needs the ground truth; it exists for benchmarks. "information_gain" is the error head's
volume as published, which with fusion is the posterior uncertainty; the planner scores it by expected
information gain (nbv/information_gain.py) instead of by visible error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import numpy as np


class ErrorEstimator(Protocol):
    def __call__(self, outputs: Mapping[str, np.ndarray], *, gt: np.ndarray | None = None) -> np.ndarray: ...


def _volume(outputs: Mapping[str, np.ndarray], name: str, ndim: int) -> np.ndarray:
    if name not in outputs:
        raise ValueError(f"error estimate needs the reconstructor output {name!r}; got {sorted(outputs)}")
    v = np.asarray(outputs[name], dtype=np.float32)
    if v.ndim != ndim or len(set(v.shape[-3:])) != 1:
        raise ValueError(f"reconstructor output {name!r} must be a cubic {ndim}-d volume, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"reconstructor output {name!r} holds NaN or infinite values")
    return v


def error_head(outputs: Mapping[str, np.ndarray], *, gt: np.ndarray | None = None) -> np.ndarray:
    """The error head's prediction, clipped to [0, 1] (the range of |gt - occupancy|)."""
    return np.clip(_volume(outputs, "error", 3), 0.0, 1.0)


def entropy(outputs: Mapping[str, np.ndarray], *, gt: np.ndarray | None = None) -> np.ndarray:
    """Binary entropy of the occupancy probability in bits: 1 at p = 0.5, 0 at p = 0 or 1."""
    p = np.clip(_volume(outputs, "occupancy", 3), 1e-6, 1.0 - 1e-6)
    return (-(p * np.log2(p) + (1.0 - p) * np.log2(1.0 - p))).astype(np.float32)


def disagreement(outputs: Mapping[str, np.ndarray], *, gt: np.ndarray | None = None) -> np.ndarray:
    """Standard deviation across the per-view coarse volumes (0 with a single view)."""
    views = _volume(outputs, "view_occupancy", 4)
    return views.std(axis=0).astype(np.float32)


def oracle(outputs: Mapping[str, np.ndarray], *, gt: np.ndarray | None = None) -> np.ndarray:
    """The true error |ground truth - occupancy| (benchmarks only)."""
    if gt is None:
        raise ValueError("the oracle error estimate needs the ground-truth occupancy (gt=...)")
    occupancy = _volume(outputs, "occupancy", 3)
    gt = np.asarray(gt, dtype=np.float32)
    if gt.shape != occupancy.shape:
        raise ValueError(f"ground truth shape {gt.shape} differs from occupancy shape {occupancy.shape}")
    return np.abs(gt - occupancy)


ESTIMATORS: dict[str, Callable[..., np.ndarray]] = {
    "error_head": error_head,
    "entropy": entropy,
    "disagreement": disagreement,
    "oracle": oracle,
    "information_gain": error_head,
}


def get_estimator(name: str) -> ErrorEstimator:
    try:
        return ESTIMATORS[name]
    except KeyError:
        raise ValueError(f"unknown error estimator {name!r}; expected one of {', '.join(ESTIMATORS)}") from None
