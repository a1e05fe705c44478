"""VTR view selection: score candidate views by the reconstruction error they would see.

Search (per training object): predict from aligned views, take the per-voxel error
``|GT - pred|`` (optionally masked by GT occupancy, as the official VTR code does), and
score each of the 72 candidate bins by the mean error visible from it. Visibility is a
first-hit test: march each camera ray through the error volume and keep the first voxel
whose error is above the threshold; the view's score is the mean of those first hits
(0 for a view that sees nothing). Select: the top bins per object, each angle jittered by
a Gaussian, pooled per category. Baselines ("random", "nature", "none") come out of the
same code path so the comparison is fair.

The official code rotates the volume and loops over voxels in Python; here all views and
objects go through one ``grid_sample`` call (objects as channels, views x depth as depth).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from vtr_perception.geometry.cameras import (
    RENDER_DISTANCE,
    RENDER_FOV_DEG,
    direction_from_angles,
    rotation_from_angles,
)
from vtr_perception.geometry.view_sets import candidate_grid, sample_views

Selection = Literal["error", "random", "nature", "none"]
SELECTIONS: tuple[str, ...] = ("error", "random", "nature", "none")

# Half the cube's diagonal: every voxel lies within this distance of the centre.
_CUBE_RADIUS = float(np.sqrt(3.0) / 2.0)


def voxel_error(pred: torch.Tensor, gt: torch.Tensor, *, mask_by_gt: bool = True) -> torch.Tensor:
    """Per-voxel |GT - pred| (B, R, R, R); with ``mask_by_gt`` only occupied GT voxels keep their error."""
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and ground truth {tuple(gt.shape)} differ in shape")
    err = (gt.float() - pred.float()).abs()
    return err * (gt.float() > 0.5) if mask_by_gt else err


def _ray_samples(
    azimuth_deg: np.ndarray, elevation_deg: np.ndarray, *, image_size: int, depth_samples: int, distance: float
) -> torch.Tensor:
    """(K, D, S, S, 3) canonical-frame points along each pixel's ray, near to far, for K cameras."""
    f = 0.5 * image_size / np.tan(np.radians(RENDER_FOV_DEG) / 2.0)
    uv = (np.arange(image_size) + 0.5 - image_size / 2.0) / f
    vv, uu = np.meshgrid(uv, uv, indexing="ij")
    rays = np.stack([uu, vv, np.ones_like(uu)], axis=-1)
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)  # (S, S, 3) unit, optical frame
    t = np.linspace(distance - _CUBE_RADIUS, distance + _CUBE_RADIUS, depth_samples)  # ray lengths
    R = rotation_from_angles(azimuth_deg, elevation_deg)  # (K, 3, 3) R_world_camera
    eye = distance * direction_from_angles(azimuth_deg, elevation_deg)  # (K, 3)
    dirs = np.einsum("kij,hwj->khwi", R, rays)  # (K, S, S, 3) in the world frame
    pts = eye[:, None, None, None, :] + t[None, :, None, None, None] * dirs[:, None]
    return torch.from_numpy(pts.astype(np.float32))


def visible_error_scores(
    error: torch.Tensor,
    azimuth_deg: np.ndarray | None = None,
    elevation_deg: np.ndarray | None = None,
    *,
    threshold: float = 0.0,
    image_size: int = 24,
    depth_samples: int = 48,
    distance: float = RENDER_DISTANCE,
    chunk_size: int = 8,
) -> torch.Tensor:
    """(B, K) mean first-hit error seen from each view (default: the 72 candidate bins).

    ``error`` is (B, R, R, R) in the canonical cube, voxel (i, j, k) = (x, y, z). Rays are
    the render cameras' (same distance and field of view), sampled at ``image_size``^2
    pixels; along each ray the first sample with error > ``threshold`` is the visible one.
    A view whose rays hit nothing scores 0.
    """
    if error.ndim == 3:
        error = error[None]
    if error.ndim != 4 or not (error.shape[1] == error.shape[2] == error.shape[3]):
        raise ValueError(f"error volume must have shape (B, R, R, R), got {tuple(error.shape)}")
    if azimuth_deg is None or elevation_deg is None:
        azimuth_deg, elevation_deg = candidate_grid()
    azimuth_deg = np.atleast_1d(np.asarray(azimuth_deg, dtype=np.float64))
    elevation_deg = np.atleast_1d(np.asarray(elevation_deg, dtype=np.float64))
    k = len(azimuth_deg)
    pts = _ray_samples(
        azimuth_deg, elevation_deg, image_size=image_size, depth_samples=depth_samples, distance=distance
    )
    # grid_sample's last axis is (W, H, D) = (k, j, i) = (z, y, x); the cube [-0.5, 0.5] maps to [-1, 1].
    grid = (pts.flip(-1) * 2.0).reshape(1, k * depth_samples, image_size, image_size, 3).to(error.device)
    totals, counts = [], []
    for chunk in error.float().split(chunk_size):
        vol = chunk[None]  # (1, b, R, R, R): objects as channels share one sampling grid
        samples = F.grid_sample(vol, grid, mode="nearest", padding_mode="zeros", align_corners=False)
        samples = samples[0].reshape(chunk.shape[0], k, depth_samples, image_size, image_size)
        above = samples > threshold
        first_idx = above.to(torch.uint8).argmax(dim=2, keepdim=True)  # argmax gives the first maximum
        hits = above.any(dim=2)
        first_value = torch.gather(samples, 2, first_idx)[:, :, 0] * hits
        totals.append(first_value.sum(dim=(2, 3)))
        counts.append(hits.sum(dim=(2, 3)))
    total, n_hits = torch.cat(totals), torch.cat(counts)
    return torch.where(n_hits > 0, total / n_hits.clamp(min=1), torch.zeros_like(total))


def top_views(
    scores: torch.Tensor, *, top_k: int = 3, jitter_deg: float = 5.0, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(azimuth, elevation) (B, top_k) of each object's best candidate bins, jittered by N(0, jitter_deg)."""
    az_grid, el_grid = candidate_grid()
    if scores.ndim != 2 or scores.shape[1] != len(az_grid):
        raise ValueError(f"scores must have shape (B, {len(az_grid)}), got {tuple(scores.shape)}")
    if not 1 <= top_k <= len(az_grid):
        raise ValueError(f"top_k must be in [1, {len(az_grid)}], got {top_k}")
    idx = torch.topk(scores, top_k, dim=1).indices.cpu().numpy()
    az = az_grid[idx] + rng.normal(0.0, jitter_deg, idx.shape)
    el = el_grid[idx] + rng.normal(0.0, jitter_deg, idx.shape)
    return jitter_wrap(az, el)


def jitter_wrap(az: np.ndarray, el: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Azimuth into [0, 360); elevation clipped to [-90, 90]."""
    return np.mod(az, 360.0), np.clip(el, -90.0, 90.0)


@dataclass
class ViewPool:
    """Per-category pool of absolute (azimuth_deg, elevation_deg) viewpoints in the canonical frame."""

    views: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, category: str, az: np.ndarray, el: np.ndarray) -> None:
        self.views.setdefault(category, [])
        self.views[category].extend(zip(np.ravel(az).tolist(), np.ravel(el).tolist(), strict=True))

    def __len__(self) -> int:
        return sum(len(v) for v in self.views.values())

    def categories(self) -> list[str]:
        return sorted(k for k, v in self.views.items() if v)

    def sample(self, category: str, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, 2) viewpoints drawn with replacement from a category's pool (any category if it has none)."""
        pool = self.views.get(category) or [v for vs in self.views.values() for v in vs]
        if not pool:
            raise ValueError("the view pool is empty: nothing to synthesize")
        idx = rng.integers(0, len(pool), n)
        return np.asarray([pool[i] for i in idx], dtype=np.float64).reshape(n, 2)

    def to_dict(self) -> dict[str, list[list[float]]]:
        return {k: [list(v) for v in vs] for k, vs in self.views.items() if vs}


def build_pool(
    selection: str,
    categories: Sequence[str],
    *,
    rng: np.random.Generator,
    scores: torch.Tensor | None = None,
    top_k: int = 3,
    jitter_deg: float = 5.0,
) -> ViewPool:
    """The epoch's view pool: ``top_k`` views per object, chosen by ``selection``.

    "error" needs ``scores`` (B, 72) for the B objects whose categories are given; "random"
    (uniform on the sphere) and "nature" (elevation 0) draw the same number of views per
    object without looking at the model; "none" gives an empty pool.
    """
    pool = ViewPool()
    n = len(categories)
    if selection == "none":
        return pool
    if selection == "error":
        if scores is None or scores.shape[0] != n:
            raise ValueError("error-guided selection needs one row of view scores per object")
        az, el = top_views(scores, top_k=top_k, jitter_deg=jitter_deg, rng=rng)
    elif selection in ("random", "nature"):
        az, el = sample_views("sphere" if selection == "random" else "nature", n * top_k, rng)
        az, el = az.reshape(n, top_k), el.reshape(n, top_k)
    else:
        raise ValueError(f"unknown selection {selection!r}; expected one of {', '.join(SELECTIONS)}")
    for i, category in enumerate(categories):
        pool.add(category, az[i], el[i])
    return pool
