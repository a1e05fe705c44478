import numpy as np

from benchmarks.low_parts import share_in_band
from vtr_perception.sim.boxes import box_mesh
from vtr_perception.sim.scenes import SceneObject


def _standing_box(height: float) -> SceneObject:
    mesh = box_mesh((0.12, 0.12, height), (0.1, 0.0, 0.75 + height / 2), "box", (0.5, 0.5, 0.5))
    return SceneObject(0, "test:box", "box", "box", mesh, mesh, np.eye(4), 0.12)


def test_a_flat_object_lies_in_the_band_and_a_tall_one_only_at_its_foot():
    assert share_in_band(_standing_box(0.006), band_m=0.0085) == 1.0  # a plate: invisible to segmentation
    tall = share_in_band(_standing_box(0.12), band_m=0.0085)
    assert 0.03 < tall < 0.12  # the bottom voxel layers of a 12 cm box: 8.5 mm of 120
