"""Expected information gain of a view: the uncertainty its rays would reach through the fused grid.

Each ray of a candidate (nbv/visibility.py ``RayBundle``, samples one voxel apart) reaches a sample
with the probability that every sample before it is free, ``prod (1 - p_j)`` of the posterior
occupancy p; a voxel known occupied (``state`` 2, measured) stops it. The gain of the ray is the sum
of the posterior uncertainty (expected |truth - occupancy|, perception/fusion.py) at the samples,
each weighted by that visibility, and a view's gain is the mean over its rays, in voxels of
uncertainty per ray. Space a view would see that is known already (free or occupied) has little
uncertainty and adds little, so the planner is drawn to what is still unknown.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vtr_perception.nbv.visibility import RayBundle

OCCUPIED = 2  # perception/fusion.py's state of a measured occupied voxel


def information_gain_from_bundle(
    bundle: RayBundle,
    uncertainty: np.ndarray,
    occupancy: np.ndarray,
    *,
    state: np.ndarray | None = None,
    cameras: np.ndarray | Sequence[int] | None = None,
    measured_weight: float = 1.0,
) -> np.ndarray:
    """(N,) expected information gain of each camera of ``bundle`` (or of those ``cameras`` selects).

    ``measured_weight`` scales the uncertainty of measured voxels (``state`` 1 or 2).
    """
    R = bundle.resolution
    shape = (R, R, R)
    u = np.asarray(uncertainty, dtype=np.float32)
    p = np.asarray(occupancy, dtype=np.float32)
    if u.shape != shape or p.shape != shape:
        raise ValueError(f"uncertainty and occupancy must be {shape}, got {u.shape} and {p.shape}")
    if not (np.isfinite(u).all() and np.isfinite(p).all()):
        raise ValueError("uncertainty and occupancy must be finite")
    p = np.clip(p, 0.0, 1.0)
    if state is not None:
        state = np.asarray(state).reshape(shape)
        p = np.where(state == OCCUPIED, np.float32(1.0), p)
        u = np.where(state > 0, u * np.float32(measured_weight), u)
    u_flat = np.concatenate([np.clip(u, 0.0, 1.0).reshape(-1), np.zeros(1, np.float32)])
    free_flat = np.concatenate([1.0 - p.reshape(-1), np.ones(1, np.float32)])  # outside the grid: empty
    indices = bundle.indices if cameras is None else bundle.indices[cameras]
    free = free_flat[indices]  # (N, P, S)
    reach = np.cumprod(free, axis=-1)
    reach = np.concatenate([np.ones_like(reach[..., :1]), reach[..., :-1]], axis=-1)  # all samples before are free
    per_ray = np.einsum("nps,nps->np", u_flat[indices], reach) * bundle.step_voxels
    return per_ray.astype(np.float64).sum(axis=-1) / bundle.rays_per_camera
