"""View sets of the ShapeNet-VTR protocol (our definitions) and the candidate-view grid.

- aligned:    azimuth U[0, 360), elevation U[20, 35] degrees
- hemisphere: azimuth U[0, 360), elevation U[0, 90]
- sphere:     directions uniform on the whole sphere
- nature:     elevation 0, azimuth U[0, 360) (a VTR selection baseline)

All at the fixed render distance and field of view (see cameras.py), no in-plane roll.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

ViewSet = Literal["aligned", "hemisphere", "sphere", "nature"]
VIEW_SETS: tuple[str, ...] = ("aligned", "hemisphere", "sphere")

ALIGNED_ELEVATION = (20.0, 35.0)
HEMISPHERE_ELEVATION = (0.0, 90.0)

# Candidate grid for view selection: 30 degree bins, 6 elevation x 12 azimuth = 72 bins.
GRID_BIN_DEG = 30.0
GRID_ELEVATIONS = np.arange(-90.0 + GRID_BIN_DEG / 2, 90.0, GRID_BIN_DEG)  # -75 ... 75
GRID_AZIMUTHS = np.arange(GRID_BIN_DEG / 2, 360.0, GRID_BIN_DEG)  # 15 ... 345


def sample_views(view_set: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(azimuth_deg, elevation_deg), each shape (n,), drawn from a view set."""
    if n < 0:
        raise ValueError(f"number of views must be >= 0, got {n}")
    az = rng.uniform(0.0, 360.0, n)
    if view_set == "aligned":
        el = rng.uniform(*ALIGNED_ELEVATION, n)
    elif view_set == "hemisphere":
        el = rng.uniform(*HEMISPHERE_ELEVATION, n)
    elif view_set == "sphere":
        el = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    elif view_set == "nature":
        el = np.zeros(n)
    else:
        raise ValueError(f"unknown view set {view_set!r}; expected one of aligned, hemisphere, sphere, nature")
    return az, el


def candidate_grid() -> tuple[np.ndarray, np.ndarray]:
    """Bin centres of the 72-view candidate grid: (azimuth_deg, elevation_deg), each (72,).

    Ordered elevation-major: index = elevation_bin * 12 + azimuth_bin.
    """
    el, az = np.meshgrid(GRID_ELEVATIONS, GRID_AZIMUTHS, indexing="ij")
    return az.reshape(-1), el.reshape(-1)


def elevation_bin(elevation_deg: np.ndarray | float, bin_deg: float = GRID_BIN_DEG) -> np.ndarray:
    """Index of the elevation bin (0 = lowest, from -90) for reporting IoU by elevation."""
    el = np.clip(np.asarray(elevation_deg, dtype=np.float64), -90.0, 90.0 - 1e-9)
    return ((el + 90.0) // bin_deg).astype(int)
