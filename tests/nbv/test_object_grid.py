"""grids_from_cloud: objects/error clouds with and without the per-voxel state field."""

import numpy as np
import pytest

from vtr_perception.geometry.voxels import voxel_centers
from vtr_perception.nbv.object_grid import grids_from_cloud

R = 4
FIELDS = ("x", "y", "z", "occupancy", "error", "id", "views")


def _cloud(with_state: bool) -> np.ndarray:
    names = FIELDS + (("state",) if with_state else ())
    cloud = np.zeros(R**3, np.dtype([(n, "<f4") for n in names]))
    xyz = voxel_centers(R).reshape(-1, 3) * 0.2 + [1.0, 2.0, 0.1]
    cloud["x"], cloud["y"], cloud["z"] = xyz.T
    cloud["occupancy"] = np.linspace(0, 1, R**3)
    cloud["id"], cloud["views"] = 7, 3
    if with_state:
        cloud["state"] = np.arange(R**3) % 3
    return cloud


@pytest.mark.parametrize("with_state", [False, True])
def test_clouds_with_and_without_state(with_state):
    (grid,) = grids_from_cloud(_cloud(with_state)).values()
    assert grid.id == 7 and grid.views == 3 and np.isclose(grid.extent, 0.2)
    if with_state:
        assert grid.state.dtype == np.uint8 and np.array_equal(grid.state.reshape(-1), np.arange(R**3) % 3)
    else:
        assert grid.state is None
