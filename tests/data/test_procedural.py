"""Procedural categories: closed parts, z up, on the floor, deterministic per id, varied across ids."""

from __future__ import annotations

import numpy as np
import pytest

from vtr_perception.data import primitives as P
from vtr_perception.data.cache import MIN_OCCUPIED
from vtr_perception.data.sources.procedural import CATEGORIES, ProceduralSource, make_object
from vtr_perception.geometry import voxels

# longest side in metres of every instance of the table-top categories (checked over 30 instances each)
SIZES = {
    "box": (0.06, 0.37),
    "can": (0.05, 0.2),
    "bowl": (0.1, 0.3),
    "plate": (0.12, 0.3),
    "cup": (0.07, 0.25),
    "tool": (0.1, 0.35),
}


def _signed_volume(v, t) -> float:
    return float(np.einsum("ij,ij->i", v[t[:, 0]], np.cross(v[t[:, 1]], v[t[:, 2]])).sum() / 6.0)


def test_primitives_are_closed_and_outward_with_the_right_volume():
    cases = [
        (P.box((1, 2, 3)), 6.0, 1e-12),
        (P.cylinder(1.0, 2.0, segments=64), 2 * np.pi, 0.01),
        (P.frustum(1.0, 0.5, 1.0, segments=64), np.pi / 3 * (1 + 0.5 + 0.25), 0.01),
        (P.sphere(1.0, segments=64), 4 / 3 * np.pi, 0.01),
        (P.torus(1.0, 0.25, segments=64, tube_segments=32), 2 * np.pi**2 * 0.25**2, 0.01),
        (P.prism([(0, 0), (2, 0), (0, 1)], 3.0), 3.0, 1e-12),
    ]
    for solid, volume, rel in cases:
        assert _signed_volume(solid.vertices, solid.triangles) == pytest.approx(volume, rel=rel)
        edges = np.sort(solid.triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
        _, counts = np.unique(edges, axis=0, return_counts=True)
        assert (counts == 2).all()  # every edge shared by exactly two triangles: watertight


@pytest.mark.parametrize("category", sorted(CATEGORIES))
def test_category_instances(category):
    a = make_object(f"{category}_0003")
    again = make_object(f"{category}_0003")
    other = make_object(f"{category}_0004")
    np.testing.assert_array_equal(a.vertices, again.vertices)
    assert a.metadata == again.metadata and a.color == again.color
    assert a.metadata != other.metadata  # shape parameters vary per instance
    a.validate()
    assert len(a.parts) >= 2
    for part in a.part_meshes():
        assert _signed_volume(part.vertices, part.triangles) > 0
        edges = np.sort(part.triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
        _, counts = np.unique(edges, axis=0, return_counts=True)
        assert (counts == 2).all()
    lo, hi = a.bounds
    assert lo[2] == pytest.approx(0.0, abs=1e-9)  # stands on the floor, z up
    assert abs(lo[0] + hi[0]) < 0.05 * (hi - lo).max() + 1e-9  # roughly centred in x
    if category in ("chair", "sofa"):
        # the back is at -x: the top of the object is behind the seat
        top = a.vertices[:, 2] > hi[2] - 0.02
        assert a.vertices[top, 0].mean() < 0


def test_procedural_source_lists_and_loads():
    source = ProceduralSource(per_category=3)
    records = source.list_objects()
    assert len(records) == 3 * len(CATEGORIES)
    assert {r.category for r in records} == set(CATEGORIES)
    mesh = source.load(records[0])
    assert mesh.metadata["object_id"] == records[0].object_id
    with pytest.raises(ValueError, match="category"):
        make_object("spaceship_0001")
    with pytest.raises(ValueError, match="unknown procedural categories"):
        ProceduralSource(categories=["spaceship"])


@pytest.mark.parametrize("category", sorted(SIZES))
def test_table_top_categories_are_closed_upright_sized_and_voxelise(category):
    kinds = set()
    for i in range(30):
        mesh = make_object(f"{category}_{i:04d}")
        for part in mesh.part_meshes():
            assert _signed_volume(part.vertices, part.triangles) > 0  # closed and outward
            edges = np.sort(part.triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
            assert (np.unique(edges, axis=0, return_counts=True)[1] == 2).all()
        lo, hi = mesh.bounds
        assert lo[2] == pytest.approx(0.0, abs=1e-9)  # on the floor
        extent = hi - lo
        assert SIZES[category][0] <= extent.max() <= SIZES[category][1], (mesh.name, extent)
        if category == "can":
            assert extent[2] > 0.3 * extent[:2].max()  # upright
        if category == "bowl":  # open side up: wider at the top than at the foot
            radius = np.linalg.norm(mesh.vertices[:, :2], axis=1)
            z = mesh.vertices[:, 2]
            assert radius[z > hi[2] - 0.1 * extent[2]].max() > 1.2 * radius[z < 0.1 * extent[2]].max()
        if i < 4:
            grid, _ = voxels.voxelize(mesh, resolution=32)
            assert grid.sum() >= MIN_OCCUPIED, (mesh.name, int(grid.sum()))
        kinds.add(mesh.metadata.get("kind", mesh.metadata.get("top")))
    if category in ("box", "tool"):
        assert len(kinds) >= 3  # the variants all occur
