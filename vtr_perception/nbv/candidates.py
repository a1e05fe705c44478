"""Candidate camera poses around an object and the robot limits that exclude some of them.

Candidates lie on shells of distances around the object centre, in directions from the
72-bin azimuth/elevation grid (geometry/view_sets.py) or on a Fibonacci sphere. Each is an
optical-frame camera looking at the centre with image up = world up (geometry/cameras.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vtr_perception.geometry.cameras import camera_from_angles
from vtr_perception.geometry.view_sets import candidate_grid
from vtr_perception.nbv.config import PlannerConfig

# Radius of the sphere around the grid cube of side 1: a camera closer than this is inside it.
GRID_BOUNDING_RADIUS = float(np.sqrt(3.0) / 2.0)


@dataclass(frozen=True)
class Candidates:
    """N candidate views; directions point from the object centre towards the camera."""

    poses: np.ndarray  # (N, 4, 4) T_world_camera
    azimuth_deg: np.ndarray  # (N,)
    elevation_deg: np.ndarray  # (N,)
    distance: np.ndarray  # (N,) metres from the centre
    center: np.ndarray  # (3,) world

    def __len__(self) -> int:
        return len(self.poses)

    def subset(self, mask: np.ndarray) -> Candidates:
        """The candidates where ``mask`` (N,) is true, in the same order."""
        m = np.asarray(mask, dtype=bool)
        return Candidates(poses=self.poses[m], azimuth_deg=self.azimuth_deg[m], elevation_deg=self.elevation_deg[m],
                          distance=self.distance[m], center=self.center)  # fmt: skip

    @property
    def directions(self) -> np.ndarray:
        d = self.poses[:, :3, 3] - self.center
        return d / np.linalg.norm(d, axis=1, keepdims=True)


def fibonacci_angles(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(azimuth_deg, elevation_deg) of n nearly uniform directions on the sphere."""
    if n < 1:
        raise ValueError(f"number of Fibonacci directions must be >= 1, got {n}")
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    azimuth = np.degrees(np.pi * (1.0 + np.sqrt(5.0)) * i) % 360.0
    return azimuth, np.degrees(np.arcsin(z))


def make_candidates(config: PlannerConfig, *, center: Sequence[float] = (0.0, 0.0, 0.0)) -> Candidates:
    """Every candidate of the configured directions x distances, before any limit is applied."""
    if config.candidates == "grid":
        az, el = candidate_grid()
    elif config.candidates == "fibonacci":
        az, el = fibonacci_angles(config.num_candidates)
    else:
        raise ValueError(f"PlannerConfig.candidates must be 'grid' or 'fibonacci', got {config.candidates!r}")
    distances = candidate_distances(config)
    az_all = np.tile(az, len(distances))
    el_all = np.tile(el, len(distances))
    dist_all = np.repeat(distances, len(az))
    center = _vector3(center, "center")
    poses = camera_from_angles(az_all, el_all, dist_all, target=center)
    return Candidates(poses=poses, azimuth_deg=az_all, elevation_deg=el_all, distance=dist_all, center=center)


def _vector3(value: Sequence[float], name: str) -> np.ndarray:
    v = np.asarray(value, dtype=np.float64).reshape(-1)
    if v.shape != (3,) or not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must be 3 finite numbers, got {value!r}")
    return v


def candidate_distances(config: PlannerConfig) -> np.ndarray:
    """Distances of the candidate shells: one at the middle of the range, or ``num_distances`` across it."""
    if config.num_distances == 1:
        return np.array([(config.distance_min + config.distance_max) / 2.0])
    return np.linspace(config.distance_min, config.distance_max, config.num_distances)


def view_directions(poses: np.ndarray | Sequence[np.ndarray], center: np.ndarray) -> np.ndarray:
    """(M, 3) unit directions from the centre to each camera; a camera at the centre gives a zero row."""
    poses = np.asarray(poses, dtype=np.float64).reshape(-1, 4, 4)
    d = poses[:, :3, 3] - center
    n = np.linalg.norm(d, axis=1, keepdims=True)
    return np.where(n > 1e-9, d / np.maximum(n, 1e-9), 0.0)


def allowed_mask(
    candidates: Candidates,
    config: PlannerConfig,
    *,
    extent: float,
    taken_poses: np.ndarray | Sequence[np.ndarray] = (),
) -> np.ndarray:
    """(N,) bool: the candidates inside every limit (elevation, workspace, clearance, spread)."""
    el = candidates.elevation_deg
    ok = (el >= config.elevation_min_deg - 1e-9) & (el <= config.elevation_max_deg + 1e-9)
    position = candidates.poses[:, :3, 3]
    ok &= np.all(position >= np.asarray(config.workspace_min) - 1e-9, axis=1)
    ok &= np.all(position <= np.asarray(config.workspace_max) + 1e-9, axis=1)
    # A camera inside the grid's bounding sphere would sit inside (or on) the object.
    ok &= candidates.distance > GRID_BOUNDING_RADIUS * extent
    taken = view_directions(taken_poses, candidates.center) if len(taken_poses) else np.zeros((0, 3))
    if len(taken) and config.min_angle_from_taken_deg > 0.0:
        cos_max = np.cos(np.radians(config.min_angle_from_taken_deg))
        cos = candidates.directions @ taken.T  # (N, M)
        ok &= ~np.any(cos > cos_max + 1e-12, axis=1)
    return ok
