"""Views of one table-top object that no planner chose (the first view of each object, random views), and which
reconstruction is that object's.

The demo, the table-top benchmarks and the loop-crop training data (train/loop_crops.py) share
them, so that a random-view run, a planner's run and the training data start and move the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vtr_perception.geometry import cameras
from vtr_perception.nbv.candidates import view_directions
from vtr_perception.sim.scenes import SceneObject


def initial_view(obj: SceneObject, seed: int, distance: float) -> np.ndarray:
    """The object's first view: drawn from (seed, object index) alone, so that runs with different
    planners start every object from the same view (a shared stream would shift with the draws of
    the random planner, and NBV and random would be compared from different starts)."""
    rng = np.random.default_rng([seed, obj.index])
    return cameras.camera_from_angles(rng.uniform(0, 360), rng.uniform(25, 40), distance, target=obj.center)


def random_view(
    obj: SceneObject,
    rng: np.random.Generator,
    distance: float,
    elevation_deg: tuple[float, float] = (10.0, 80.0),
    *,
    taken: Sequence[np.ndarray] = (),
    min_angle_deg: float = 0.0,
) -> np.ndarray:
    """A random view the planner could also choose: uniform on the sphere within its elevation limits
    and at least ``min_angle_deg`` (seen from the object) from every view in ``taken``."""
    lo, hi = np.sin(np.radians(elevation_deg[0])), np.sin(np.radians(elevation_deg[1]))
    directions = view_directions(taken, obj.center) if len(taken) else np.zeros((0, 3))
    cos_max = np.cos(np.radians(min_angle_deg))
    for _ in range(1000):
        el = np.degrees(np.arcsin(rng.uniform(lo, hi)))
        T = cameras.camera_from_angles(rng.uniform(0, 360), el, distance, target=obj.center)
        if np.all(directions @ view_directions(T, obj.center)[0] <= cos_max + 1e-12):
            return T
    return T  # the limits leave (almost) nothing free: any view within the elevation limits


def track_of(obj: SceneObject, grid_centers: dict[int, np.ndarray], prefer: int | None = None) -> int | None:
    """The reconstructed object (id) whose grid centre is nearest ``obj``, if near enough to be it.

    ``prefer``: the track followed so far, kept while it is near enough: when the tracker splits an
    object, the new piece (one or two views) may sit nearer the true centre than the reconstruction
    the loop has been building, and switching to it would measure a different reconstruction."""

    def near(i: int) -> bool:
        return bool(np.linalg.norm(grid_centers[i] - obj.center) < 0.6 * obj.size + 0.03)

    if prefer is not None and prefer in grid_centers and near(prefer):
        return prefer
    if not grid_centers:
        return None
    tid = min(grid_centers, key=lambda i: np.linalg.norm(grid_centers[i] - obj.center))
    return tid if near(tid) else None
