"""The error visible from a camera: rays through the predicted occupancy, first hit along each.

Everything here works in grid-normalised coordinates: the voxel grid of resolution R covers
the cube [-0.5, 0.5]^3 (voxel (i, j, k) indexes (x, y, z), as in the canonical frame), and a
camera pose is ``T_grid_camera`` (optical frame, z forward). Each camera casts a square grid
of rays over the cube's bounding sphere (or over a given field of view); samples one voxel
apart run along each ray through that sphere. The first sample whose occupancy reaches the
threshold is the surface the camera sees; the error there counts fully, and the error of the
predicted-free voxels before it counts with ``free_space_weight`` (a missing part lies in
predicted free space, and the camera sees it too). A view's score is the mean per ray, so
rays that hit nothing add 0 and an empty view scores 0, never NaN.

The sample lookups are precomputed once per set of cameras (``RayBundle``) and reused for
every volume: scoring is then two gathers, an argmax and a sum (no Python loop over rays).
Plain numpy (inputs may be numpy arrays or torch tensors), so any layer can reuse it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

GRID_BOUNDING_RADIUS = math.sqrt(3.0) / 2.0
# A camera inside the bounding sphere cannot see all of it; it casts rays over this half-angle.
INSIDE_HALF_ANGLE_DEG = 60.0

Volume = Any  # np.ndarray or torch.Tensor of shape (R, R, R)


@dataclass(frozen=True)
class RayBundle:
    """Flat voxel indices of ray samples; index R^3 means "outside the grid" (empty, no error).

    Rays that miss the grid cube are dropped (they could only add 0), so each camera keeps
    at most ``indices.shape[1]`` rays, padded with all-outside rays; scores still average
    over all ``rays_per_camera`` rays so that they compare across cameras.
    """

    indices: np.ndarray  # (N, P', S) int64, P' <= rays_per_camera
    resolution: int
    step_voxels: float  # sample spacing along a ray, in voxels
    rays_per_camera: int


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, without importing torch here
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _as_poses(T_grid_cameras: Any) -> np.ndarray:
    T = _to_numpy(T_grid_cameras).astype(np.float64)
    if T.ndim == 2:
        T = T[None]
    if T.ndim != 3 or T.shape[1:] != (4, 4):
        raise ValueError(f"T_grid_cameras must be (N, 4, 4), got {tuple(T.shape)}")
    if not np.all(np.isfinite(T)):
        raise ValueError("T_grid_cameras holds NaN or infinite values")
    return T


def ray_bundle(
    T_grid_cameras: Any,
    *,
    resolution: int,
    rays: int = 24,
    fov_deg: float | None = None,
    step_voxels: float = 1.0,
) -> RayBundle:
    """Precompute the sample lookups of ``rays x rays`` rays per camera.

    ``fov_deg=None`` fits the ray grid to the bounding sphere as seen from each camera (the
    camera is assumed to look at the grid centre); a value uses that full field of view.
    """
    if resolution < 1 or rays < 1 or step_voxels <= 0:
        raise ValueError(f"need resolution >= 1, rays >= 1, step_voxels > 0; got {resolution}, {rays}, {step_voxels}")
    T = _as_poses(T_grid_cameras)
    origin = T[:, :3, 3]  # (N, 3)
    distance = np.linalg.norm(origin, axis=1)  # from the grid centre
    r = GRID_BOUNDING_RADIUS
    inside = distance <= r * 1.0001
    if fov_deg is None:
        tangent = r / np.sqrt(np.maximum(distance**2 - r**2, 1e-12))
        tangent = np.where(inside, math.tan(math.radians(INSIDE_HALF_ANGLE_DEG)), tangent)
    else:
        if not 0.0 < fov_deg < 180.0:
            raise ValueError(f"fov_deg must be in (0, 180), got {fov_deg}")
        tangent = np.full_like(distance, math.tan(math.radians(fov_deg) / 2.0))
    u = (np.arange(rays) + 0.5) / rays * 2.0 - 1.0
    vv, uu = np.meshgrid(u, u, indexing="ij")
    pixel = np.stack([uu.reshape(-1), vv.reshape(-1)], axis=-1)  # (P, 2)
    dirs_cam = np.concatenate([pixel[None] * tangent[:, None, None], np.ones((len(T), pixel.shape[0], 1))], axis=-1)
    dirs_cam /= np.linalg.norm(dirs_cam, axis=-1, keepdims=True)  # (N, P, 3)
    dirs = dirs_cam @ np.swapaxes(T[:, :3, :3], 1, 2)  # into the grid frame
    step = step_voxels / resolution
    samples = int(math.ceil(2.0 * r / step)) + 1
    t_near = np.maximum(distance - r, 0.0)  # (N,)
    t = t_near[:, None] + step * np.arange(samples)[None]  # (N, S)
    points = origin[:, None, None, :] + dirs[:, :, None, :] * t[:, None, :, None]  # (N, P, S, 3)
    ijk = np.floor((points + 0.5) * resolution).astype(np.int64)
    valid = np.all((ijk >= 0) & (ijk < resolution), axis=-1)
    flat = (ijk[..., 0] * resolution + ijk[..., 1]) * resolution + ijk[..., 2]
    flat = np.where(valid, flat, resolution**3)
    # Keep the rays that enter the grid, first in each camera, padded to a common count.
    useful = valid.any(axis=-1)  # (N, P)
    keep = max(int(useful.sum(axis=1).max()), 1)
    order = np.argsort(~useful, axis=1, kind="stable")[:, :keep]
    flat = np.take_along_axis(flat, order[..., None], axis=1)
    flat[~np.take_along_axis(useful, order, axis=1)] = resolution**3
    return RayBundle(
        indices=np.ascontiguousarray(flat), resolution=resolution, step_voxels=step_voxels, rays_per_camera=rays * rays
    )


def _padded_flat(volume: Volume, resolution: int, name: str) -> np.ndarray:
    v = _to_numpy(volume).astype(np.float32, copy=False)
    if v.shape != (resolution,) * 3:
        raise ValueError(f"{name} must be ({resolution}, {resolution}, {resolution}), got {tuple(v.shape)}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return np.concatenate([v.reshape(-1), np.zeros(1, np.float32)])


def visible_error_from_bundle(
    bundle: RayBundle,
    volume_error: Volume,
    occupancy: Volume,
    *,
    threshold: float = 0.5,
    free_space_weight: float = 1.0,
    cameras: np.ndarray | Sequence[int] | None = None,
) -> np.ndarray:
    """(N,) mean visible error per ray for each camera of ``bundle`` (float64), or for the cameras
    ``cameras`` (indices or a boolean mask) selects, in that order."""
    R = bundle.resolution
    err = _padded_flat(volume_error, R, "volume_error")
    occ = _padded_flat(occupancy, R, "occupancy")
    indices = bundle.indices if cameras is None else bundle.indices[cameras]
    # Single-threaded numpy: on a shared CPU it beats torch's threaded gathers and scans.
    occupied = (occ >= threshold)[indices]  # (N, P, S)
    first = occupied.argmax(axis=-1)[..., None]  # first occupied sample; 0 where none
    hit = np.take_along_axis(occupied, first, axis=-1)[..., 0]  # (N, P)
    err_samples = err[indices]  # (N, P, S)
    per_ray = np.take_along_axis(err_samples, first, axis=-1)[..., 0] * hit
    if free_space_weight > 0.0:
        samples = err_samples.shape[-1]
        stop = np.where(hit, first[..., 0], samples)  # samples strictly before the hit are free
        before = (np.arange(samples) < stop[..., None]).astype(np.float32)
        free = np.einsum("nps,nps->np", err_samples, before)
        per_ray = per_ray + free_space_weight * bundle.step_voxels * free
    return per_ray.astype(np.float64).sum(axis=-1) / bundle.rays_per_camera


def visible_error(
    volume_error: Volume,
    occupancy: Volume,
    T_grid_cameras: Any,
    *,
    threshold: float = 0.5,
    rays: int = 24,
    fov_deg: float | None = None,
    free_space_weight: float = 1.0,
) -> np.ndarray:
    """(N,) error visible from each camera ``T_grid_cameras`` (N, 4, 4) in grid-normalised coordinates."""
    resolution = int(np.asarray(occupancy.shape)[0]) if len(occupancy.shape) == 3 else -1
    if resolution < 1:
        raise ValueError(f"occupancy must be an (R, R, R) volume, got shape {tuple(occupancy.shape)}")
    bundle = ray_bundle(T_grid_cameras, resolution=resolution, rays=rays, fov_deg=fov_deg)
    return visible_error_from_bundle(
        bundle, volume_error, occupancy, threshold=threshold, free_space_weight=free_space_weight
    )


def grid_from_world(T_world_cameras: np.ndarray, *, center: np.ndarray, extent: float) -> np.ndarray:
    """T_grid_camera of world camera poses, for a grid centred at ``center`` with side ``extent``."""
    if not (np.isfinite(extent) and extent > 0):
        raise ValueError(f"grid extent must be positive and finite, got {extent}")
    T = np.array(T_world_cameras, dtype=np.float64, copy=True)
    T[..., :3, 3] = (T[..., :3, 3] - np.asarray(center, dtype=np.float64)) / extent
    return T
