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
_MARCH_CHUNK = 6  # samples per step of seen_surface's march; lines of sight that are decided drop out

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
    # In voxel units, float32 and a few cameras at a time: (N, P, S, 3) float64 at once would be ~300 MB
    # for 400 candidates and take seconds, which nbv_node would pay for every new object size.
    origin_v = ((origin + 0.5) * resolution).astype(np.float32)
    dirs_v = (dirs * resolution).astype(np.float32)
    t32 = t.astype(np.float32)
    flat = np.empty((len(T), pixel.shape[0], samples), dtype=np.int64)
    valid = np.empty(flat.shape, dtype=bool)
    for c0 in range(0, len(T), 16):
        c1 = min(c0 + 16, len(T))
        ijk = np.floor(origin_v[c0:c1, None, None, :] + dirs_v[c0:c1, :, None, :] * t32[c0:c1, None, :, None])
        ijk = ijk.astype(np.int32)
        inside_grid = np.all((ijk >= 0) & (ijk < resolution), axis=-1)
        cells = (ijk[..., 0].astype(np.int64) * resolution + ijk[..., 1]) * resolution + ijk[..., 2]
        flat[c0:c1] = np.where(inside_grid, cells, resolution**3)
        valid[c0:c1] = inside_grid
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
    ray_weight: np.ndarray | None = None,
) -> np.ndarray:
    """(N,) mean visible error per ray for each camera of ``bundle`` (float64), or for the cameras
    ``cameras`` (indices or a boolean mask) selects, in that order.

    ``ray_weight`` (N, P), if given, scales the first-hit error of each ray (``seen_surface_weight``).
    """
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
    if ray_weight is not None:
        if ray_weight.shape != per_ray.shape:
            raise ValueError(f"ray_weight must be {per_ray.shape} (cameras, rays), got {ray_weight.shape}")
        per_ray = per_ray * ray_weight
    if free_space_weight > 0.0:
        samples = err_samples.shape[-1]
        stop = np.where(hit, first[..., 0], samples)  # samples strictly before the hit are free
        before = (np.arange(samples) < stop[..., None]).astype(np.float32)
        free = np.einsum("nps,nps->np", err_samples, before)
        per_ray = per_ray + free_space_weight * bundle.step_voxels * free
    return per_ray.astype(np.float64).sum(axis=-1) / bundle.rays_per_camera


def first_hits(
    bundle: RayBundle, occupancy: Volume, *, threshold: float = 0.5, cameras: np.ndarray | Sequence[int] | None = None
) -> np.ndarray:
    """(N, P) flat voxel index of the first occupied sample along each ray; R^3 where a ray hits nothing."""
    R = bundle.resolution
    occ = _padded_flat(occupancy, R, "occupancy")
    indices = bundle.indices if cameras is None else bundle.indices[cameras]
    occupied = (occ >= threshold)[indices]
    first = occupied.argmax(axis=-1)[..., None]
    hit = np.take_along_axis(occupied, first, axis=-1)[..., 0]
    return np.where(hit, np.take_along_axis(indices, first, axis=-1)[..., 0], R**3)


def seen_surface(occupancy: Volume, T_grid_cameras: Any, *, threshold: float = 0.5) -> np.ndarray:
    """(N, R^3 + 1) bool: the occupied voxels each camera sees (R^3, "no hit" of ``first_hits``: False).

    Marched from the surface to the camera rather than from the camera: an occupied voxel is seen
    when, from the centre of one of its free faces turned towards the camera, samples one voxel
    apart towards the camera centre meet no occupied voxel. Every face is tested, so no visible
    voxel falls between rays, and the cost is the surface, not the image.
    """
    occ = _to_numpy(occupancy) >= threshold
    R = occ.shape[0]
    T = _as_poses(T_grid_cameras)
    seen = np.zeros((len(T), R**3 + 1), dtype=bool)
    padded = np.pad(occ, 1, constant_values=False)
    voxels, normals = [], []
    for axis in range(3):
        for sign in (-1, 1):
            neighbour_free = ~np.roll(padded, -sign, axis=axis)[1:-1, 1:-1, 1:-1]
            flat = np.flatnonzero(occ & neighbour_free)
            voxels.append(flat)
            normals.append(np.tile(np.eye(3)[axis] * sign, (len(flat), 1)))
    flat = np.concatenate(voxels)
    if len(flat) == 0:
        return seen
    normal = np.concatenate(normals)
    occupied = np.concatenate([occ.reshape(-1), [False]])
    centres = (np.stack(np.unravel_index(flat, (R, R, R)), axis=-1) + 0.5) / R - 0.5
    start = (centres + normal * (0.51 / R)).astype(np.float32)  # just outside each free face
    # Nothing blocks a line of sight outside the occupied voxels' bounding box: march only to where it leaves.
    box_lo, box_hi = centres.min(axis=0) - 0.5 / R, centres.max(axis=0) + 0.5 / R
    for n, pose in enumerate(T):
        towards = pose[:3, 3] - start
        facing = np.flatnonzero(np.einsum("ij,ij->i", towards, normal) > 0.0)
        origin = start[facing]
        towards = towards[facing]
        distance = np.linalg.norm(towards, axis=1)
        towards = (towards / np.maximum(distance, 1e-12)[:, None]).astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            exits = np.where(towards > 0, (box_hi - origin) / towards, (box_lo - origin) / towards)
        exits = np.where(towards == 0, np.inf, exits)
        t_max = np.minimum(exits.min(axis=1), distance)
        blocked = np.zeros(len(facing), dtype=bool)
        active = np.arange(len(facing))
        for first in range(0, int(math.ceil(float(t_max.max(initial=0.0)) * R)) + 1, _MARCH_CHUNK):
            t = (np.arange(first, first + _MARCH_CHUNK) / R).astype(np.float32)  # samples a voxel apart
            active = active[t_max[active] > t[0]]
            if len(active) == 0:
                break
            samples = origin[active, None, :] + towards[active, None, :] * t[None, :, None]  # (A, C, 3)
            ijk = np.floor((samples + 0.5) * R).astype(np.int32)
            inside = np.all((ijk >= 0) & (ijk < R), axis=-1) & (t[None, :] < t_max[active, None])
            index = np.where(inside, (ijk[..., 0] * R + ijk[..., 1]) * R + ijk[..., 2], R**3)
            hit = occupied[index].any(axis=1)
            blocked[active[hit]] = True
            active = active[~hit]
        seen[n, flat[facing[~blocked]]] = True
    return seen


def seen_surface_weight(
    candidate_hits: np.ndarray,
    candidate_directions: np.ndarray,
    seen: np.ndarray,
    taken_directions: np.ndarray,
    *,
    full_angle_deg: float,
) -> np.ndarray:
    """(N, P) weight of each candidate ray's first hit: how new a look at that surface it would be.

    A surface voxel no taken view sees weighs 1; one that taken views see weighs the candidate's angle
    to the nearest of those views over ``full_angle_deg`` (at most 1): looking again, from nearly where
    it was seen, at a surface the reconstruction already has tells it little, whatever error the
    estimate puts there. Directions are unit vectors from the grid centre to the cameras; hits are
    ``first_hits`` indices (R^3: no hit); ``seen`` is ``seen_surface`` of the taken views.
    """
    if full_angle_deg <= 0.0:
        raise ValueError(f"full_angle_deg must be > 0, got {full_angle_deg}")
    taken_directions = np.asarray(taken_directions, dtype=np.float64).reshape(-1, 3)
    if len(seen) != len(taken_directions):
        raise ValueError(f"seen has {len(seen)} views and taken_directions {len(taken_directions)}")
    cos = np.clip(np.asarray(candidate_directions, dtype=np.float64) @ taken_directions.T, -1.0, 1.0)
    novelty = np.minimum(np.degrees(np.arccos(cos)) / full_angle_deg, 1.0).astype(np.float32)  # (N, T)
    weight = np.ones(candidate_hits.shape, dtype=np.float32)
    for j in range(len(taken_directions)):
        weight = np.minimum(weight, np.where(seen[j][candidate_hits], novelty[:, j : j + 1], 1.0))
    return weight


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
