"""Posterior of one object: the network's occupancy (prior) plus the measured evidence, in log-odds.

    posterior log-odds = a * clip(logit(network occupancy), +-network_logodds_clamp) + evidence
    a = 1 - w (1 - measured_network_weight),  w = min(|evidence| / evidence_known_logodds, 1)

The network's log-odds are clamped because unclamped they are too confident for evidence to
override (a voxel the network puts at 0.999 would need nine free measurements). Where a voxel is
measured the network's weight falls to ``measured_network_weight`` (0: the measurement decides):
with a plain sum, free evidence at its clamp (-2) only cancels a confident network (+2) and leaves
the voxel at 0.5, above the surface level 0.4, and on the validation scenes voxels measured free
but kept occupied by the network were a large share of the false positives. Voxels whose centre
lies below the support plane are free whatever either layer says.

The per-voxel error estimate becomes the posterior's uncertainty, in the units of the error head
(expected |truth - occupancy|): where a voxel is measured (|evidence| >= ``evidence_known_logodds``)
it is 2 p (1 - p) of the posterior p; where it is not, the error head's estimate, but never less
than 2 p (1 - p) of the clamped network prior (the clamp says the network is never more than
sigmoid(clamp) sure, so an unseen voxel is never more certain than that); between them a blend by
|evidence| / ``evidence_known_logodds``. Unseen space thus stays more uncertain than measured space,
which the planner's information gain relies on.

``state`` per voxel: 0 unknown, 1 free, 2 occupied (measured: |evidence| >= ``evidence_known_logodds``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vtr_perception.geometry.voxels import voxel_centers
from vtr_perception.perception.config import PerceptionConfig

UNKNOWN, FREE, OCCUPIED = 0, 1, 2


@dataclass(frozen=True)
class Posterior:
    occupancy: np.ndarray  # (R, R, R) float32 posterior probability
    uncertainty: np.ndarray  # (R, R, R) float32 expected |truth - occupancy|
    state: np.ndarray  # (R, R, R) uint8: UNKNOWN, FREE, OCCUPIED


def logit(p: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float32), eps, 1.0 - eps)
    return np.log(p / (1.0 - p))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float32)))).astype(np.float32)


def below_support(center: np.ndarray, side: float, resolution: int, floor_z: float) -> np.ndarray:
    """(R, R, R) bool: voxels of the world-aligned cube whose centre lies under the support plane."""
    if not np.isfinite(floor_z):
        return np.zeros((resolution,) * 3, dtype=bool)
    z = voxel_centers(resolution)[..., 2] * float(side) + float(center[2])
    return z < float(floor_z) - 0.25 * float(side) / resolution


def fuse(
    network_occupancy: np.ndarray,
    network_error: np.ndarray,
    evidence: np.ndarray,
    config: PerceptionConfig,
    *,
    free_mask: np.ndarray | None = None,
) -> Posterior:
    """The posterior of one object (all grids (R, R, R) in the same cube); ``free_mask``: known free (the table)."""
    evidence = np.asarray(evidence, dtype=np.float32)
    if free_mask is not None:
        evidence = np.where(free_mask, np.float32(config.evidence_min_logodds), evidence)
    clamp = config.network_logodds_clamp
    prior = np.clip(logit(network_occupancy), -clamp, clamp)
    known = config.evidence_known_logodds
    weight = np.minimum(np.abs(evidence) / known, 1.0).astype(np.float32)
    p = sigmoid((1.0 - weight * (1.0 - config.measured_network_weight)) * prior + evidence)
    p_prior = sigmoid(prior)
    error = np.maximum(np.clip(np.asarray(network_error, dtype=np.float32), 0.0, 1.0), 2.0 * p_prior * (1.0 - p_prior))
    uncertainty = (1.0 - weight) * error + weight * (2.0 * p * (1.0 - p))
    state = np.full(evidence.shape, UNKNOWN, dtype=np.uint8)
    state[evidence <= -known] = FREE
    state[evidence >= known] = OCCUPIED
    return Posterior(p, uncertainty.astype(np.float32), state)
