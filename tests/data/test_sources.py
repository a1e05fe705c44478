"""Mesh sources: pybullet_data (random + named), meshdir, ShapeNetCore layout, open_source specs."""

from __future__ import annotations

import numpy as np
import pytest

from vtr_perception.data.sources import MeshSource, ObjectRecord, color_for, open_source
from vtr_perception.data.sources.pybullet import NAMED_OBJECTS, PybulletSource, pybullet_data_path
from vtr_perception.data.sources.shapenet import ShapeNetCoreSource


def _record(source, object_id):
    return next(r for r in source.list_objects() if r.object_id == object_id)


def _signed_volume(mesh) -> float:
    v, t = mesh.vertices, mesh.triangles
    return float(np.einsum("ij,ij->i", v[t[:, 0]], np.cross(v[t[:, 1]], v[t[:, 2]])).sum() / 6.0)


def test_pybullet_random_object_has_parts_and_urdf_scale():
    source = open_source("pybullet")
    assert isinstance(source, MeshSource)
    records = source.list_objects()
    assert len(records) == 1000 and records[0].category == "random"
    mesh = source.load(_record(source, "000"))
    raw = np.array(
        [[float(x) for x in line.split()[1:4]] for line in open(pybullet_data_path() / "random_urdfs/000/000.obj")
         if line.startswith("v ")]
    )  # fmt: skip
    np.testing.assert_allclose(mesh.bounds[1] - mesh.bounds[0], (raw.max(0) - raw.min(0)) * 0.015, rtol=1e-9)
    n_objects = sum(1 for line in open(pybullet_data_path() / "random_urdfs/000/000.obj") if line.startswith("o "))
    assert len(mesh.parts) == n_objects > 1
    assert all(_signed_volume(p) > 0 for p in mesh.part_meshes())  # closed, outward hulls
    assert mesh.color == pytest.approx((0.04, 0.07, 0.91))  # the URDF material colour


def test_pybullet_nan_object_is_rejected_with_the_file_name():
    source = PybulletSource(subset="random")
    with pytest.raises(ValueError, match=r"168\.obj.*NaN"):
        source.load(_record(source, "168"))


def test_pybullet_synth_pool_is_pinned():
    records = {r.object_id: r for r in open_source("pybullet:random").list_objects()}
    assert records["799"].params.get("split") is None
    assert records["800"].params["split"] == "synth"


@pytest.mark.parametrize("name", ["teddy", "duck", "table"])
def test_pybullet_named_objects_stand_z_up(name):
    source = open_source("pybullet:named")
    assert {r.object_id for r in source.list_objects()} == set(NAMED_OBJECTS)
    mesh = source.load(_record(source, name))
    lo, hi = mesh.bounds
    extent = hi - lo
    if name == "table":
        assert len(mesh.parts) == 5 and hi[2] == pytest.approx(0.625)  # top at 0.6 + half its 0.05 thickness
    else:
        # both stand taller than they are thick once turned z up (they lie on their side in pybullet_data)
        assert extent[2] > extent[1]
        assert extent[2] == pytest.approx(extent.max(), rel=0.35)


def test_open_source_rejects_unknown_specs():
    for bad in ("nosuch", "pybullet:weird", "procedural:abc", "shapenet:", "meshdir:"):
        with pytest.raises(ValueError):
            open_source(bad)
    with pytest.raises(NotADirectoryError):
        open_source("meshdir:/nonexistent/dir")


def test_meshdir_reads_obj_and_ply_with_categories(tmp_path):
    import open3d as o3d

    (tmp_path / "boxes").mkdir()
    (tmp_path / "balls").mkdir()
    (tmp_path / "boxes" / "unit.obj").write_text(
        "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\nv 1 0 1\nv 1 1 1\nv 0 1 1\n"
        "f 1 4 3 2\nf 5 6 7 8\nf 1 2 6 5\nf 2 3 7 6\nf 3 4 8 7\nf 4 1 5 8\n"
    )
    o3d.io.write_triangle_mesh(str(tmp_path / "balls" / "ball.ply"), o3d.geometry.TriangleMesh.create_sphere(0.5))
    (tmp_path / "notes.txt").write_text("not a mesh")
    source = open_source(f"meshdir:{tmp_path}")
    records = sorted(source.list_objects(), key=lambda r: r.object_id)
    assert [(r.object_id, r.category) for r in records] == [("balls/ball", "balls"), ("boxes/unit", "boxes")]
    box = source.load(records[1])
    assert len(box.triangles) == 12 and _signed_volume(box) == pytest.approx(1.0)
    ball = source.load(records[0])
    assert np.abs(np.linalg.norm(ball.vertices, axis=1) - 0.5).max() < 1e-6
    assert box.color == color_for("meshdir:boxes/unit")


def test_meshdir_bad_file_names_the_file(tmp_path):
    (tmp_path / "broken.obj").write_text("v 0 0 0\nv nan 0 0\nv 0 1 0\nf 1 2 3\n")
    source = open_source(f"meshdir:{tmp_path}")
    with pytest.raises(ValueError, match="broken.obj"):
        source.load(source.list_objects()[0])


def test_shapenet_core_layout_is_turned_z_up(tmp_path):
    model = tmp_path / "03001627" / "abc123" / "models"
    model.mkdir(parents=True)
    # a y-up slab: tall along y
    (model / "model_normalized.obj").write_text(
        "v 0 0 0\nv .2 0 0\nv .2 1 0\nv 0 1 0\nv 0 0 .1\nv .2 0 .1\nv .2 1 .1\nv 0 1 .1\n"
        "f 1 4 3 2\nf 5 6 7 8\nf 1 2 6 5\nf 2 3 7 6\nf 3 4 8 7\nf 4 1 5 8\n"
    )
    (tmp_path / "03001627" / "empty_model").mkdir()
    source = ShapeNetCoreSource(tmp_path)
    (record,) = source.list_objects()
    assert record.category == "chair" and record.object_id == "03001627/abc123"
    assert "/" not in record.key
    mesh = source.load(record)
    extent = mesh.bounds[1] - mesh.bounds[0]
    np.testing.assert_allclose(extent, [0.2, 0.1, 1.0])  # y up became z up
    assert _signed_volume(mesh) == pytest.approx(0.02)  # a rotation keeps the orientation


def test_shapenet_empty_root_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no models found"):
        ShapeNetCoreSource(tmp_path).list_objects()


def test_record_round_trips_through_dict():
    r = ObjectRecord("procedural", "chair_0001", "chair_0001", "chair", None, {"index": 1})
    assert ObjectRecord.from_dict(r.to_dict()) == r
    assert r.key == "procedural_chair_0001"


def test_a_key_names_its_source():
    for record in (ObjectRecord("pybullet", "042", "random_042", "random"),
                   ObjectRecord("procedural", "cup_0047", "cup", "cup"),
                   ObjectRecord("shapenet", "03797390/abc_def", "abc_def", "mug")):  # fmt: skip
        assert ObjectRecord.source_of_key(record.key) == record.source
