import numpy as np
import pytest

from vtr_perception.geometry.mesh import MeshData
from vtr_perception.geometry.meshing import (
    CLUSTER_ABOVE,
    grid_to_mesh,
    is_closed,
    load_mesh,
    sample_surface,
    save_mesh,
    simplify_triangles,
)
from vtr_perception.geometry.metrics import iou
from vtr_perception.geometry.voxels import Normalization, voxel_centers, voxelize


def signed_volume(m: MeshData) -> float:
    t = m.vertices[m.triangles]
    return float(np.einsum("ij,ij->i", t[:, 0], np.cross(t[:, 1], t[:, 2])).sum() / 6.0)


def test_ball_round_trip_is_closed_outward_and_revoxelises():
    ball = np.linalg.norm(voxel_centers(32), axis=-1) < 0.4
    m = grid_to_mesh(ball.astype(np.float32) * 0.9)
    assert is_closed(m)
    assert signed_volume(m) == pytest.approx(4 / 3 * np.pi * 0.4**3, rel=0.05)  # > 0: normals point out
    np.testing.assert_allclose(np.linalg.norm(m.vertices, axis=1).mean(), 0.4, atol=0.02)
    again, _ = voxelize(m, 32, Normalization.identity())
    assert iou(again, ball) > 0.9


def test_simplify_keeps_the_shape_within_the_triangle_budget():
    c = voxel_centers(32)
    ellipsoid = np.linalg.norm(c * [1.0, 1.6, 1.0], axis=-1) < 0.35
    shape = ellipsoid | ((np.abs(c[..., 0]) < 0.05) & (np.abs(c[..., 1]) < 0.45))
    m = grid_to_mesh(shape.astype(np.float32))
    assert len(m.triangles) > 4000
    vertices, triangles = simplify_triangles(m.vertices, m.triangles, 1500)
    assert 0 < len(triangles) <= 1500
    assert triangles.max() < len(vertices)
    small = MeshData(vertices, triangles)
    assert is_closed(small)
    assert signed_volume(small) == pytest.approx(signed_volume(m), rel=0.03)
    again, _ = voxelize(small, 32, Normalization.identity())
    assert iou(again, shape) > 0.9
    # far over budget: vertices merged first (CLUSTER_ABOVE), then quadric decimation; the same solid
    assert len(m.triangles) > CLUSTER_ABOVE * 800
    v, t = simplify_triangles(m.vertices, m.triangles, 800)
    assert 0 < len(t) <= 800 and t.max() < len(v)
    assert signed_volume(MeshData(v, t)) == pytest.approx(signed_volume(m), rel=0.05)
    again, _ = voxelize(MeshData(v, t), 32, Normalization.identity())
    assert iou(again, shape) > 0.85
    # already within budget, or no budget: unchanged
    for budget in (0, len(m.triangles)):
        v, t = simplify_triangles(m.vertices, m.triangles, budget)
        assert v is m.vertices and t is m.triangles


def test_full_grid_closes_at_the_cube_faces_and_metric_output():
    full = np.ones((8, 8, 8), dtype=bool)
    m = grid_to_mesh(full)
    assert is_closed(m)
    np.testing.assert_allclose(m.vertices.min(axis=0), [-0.5] * 3)
    np.testing.assert_allclose(m.vertices.max(axis=0), [0.5] * 3)
    n = Normalization(center=np.array([1.0, 2.0, 3.0]), scale=10.0)
    metric = grid_to_mesh(full, normalization=n)
    np.testing.assert_allclose(metric.vertices.min(axis=0), [0.95, 1.95, 2.95])


def test_empty_grid_gives_empty_mesh_and_bad_grids_raise():
    m = grid_to_mesh(np.zeros((4, 4, 4)))
    assert len(m.triangles) == 0 and len(sample_surface(m, 10)) == 0
    with pytest.raises(ValueError, match="empty"):
        m.validate()
    with pytest.raises(ValueError, match="cubic"):
        grid_to_mesh(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="NaN"):
        grid_to_mesh(np.full((4, 4, 4), np.nan))
    with pytest.raises(ValueError, match="threshold"):
        grid_to_mesh(np.zeros((4, 4, 4)), threshold=1.5)


def test_sample_surface_is_on_the_surface_and_deterministic():
    ball = np.linalg.norm(voxel_centers(16), axis=-1) < 0.4
    m = grid_to_mesh(ball)
    p = sample_surface(m, 500, seed=3)
    assert p.shape == (500, 3)
    np.testing.assert_array_equal(p, sample_surface(m, 500, seed=3))
    assert np.abs(np.linalg.norm(p, axis=1) - 0.4).max() < 0.06


@pytest.mark.parametrize("suffix", [".ply", ".obj"])
def test_save_load_round_trip(tmp_path, suffix):
    m = grid_to_mesh(np.linalg.norm(voxel_centers(12), axis=-1) < 0.4)
    path = save_mesh(m, tmp_path / f"ball{suffix}")
    back = load_mesh(path)
    assert len(back.triangles) == len(m.triangles)
    np.testing.assert_allclose(np.sort(back.vertices, axis=0), np.sort(m.vertices, axis=0), atol=1e-5)
    assert [p.name for p in tmp_path.iterdir()] == [f"ball{suffix}"]  # no temporary left behind


def test_obj_parts_are_kept(tmp_path):
    text = "o a\nv 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\n"
    text += "o b\nv 2 0 0\nv 3 0 0\nv 2 1 0\nv 2 0 1\nf 5 7 6\nf 5 6 8\nf 5 8 7\nf 6 7 8\n"
    (tmp_path / "two.obj").write_text(text)
    m = load_mesh(tmp_path / "two.obj")
    assert m.parts is not None and [len(p) for p in m.parts] == [4, 4]
    save_mesh(m, tmp_path / "copy.obj")
    assert len(load_mesh(tmp_path / "copy.obj").parts) == 2


def test_bad_files_raise_naming_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.obj"):
        load_mesh(tmp_path / "missing.obj")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="unsupported"):
        load_mesh(tmp_path / "notes.txt")
    (tmp_path / "empty.obj").write_text("# nothing\n")
    with pytest.raises(ValueError, match="empty.obj"):
        load_mesh(tmp_path / "empty.obj")
    (tmp_path / "nan.obj").write_text("v nan 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\n")
    with pytest.raises(ValueError, match="nan.obj.*NaN"):
        load_mesh(tmp_path / "nan.obj")
    with pytest.raises(ValueError, match="cannot save"):
        save_mesh(load_mesh_or_box(), tmp_path / "x.stl")
    with pytest.raises(ValueError, match="empty"):
        save_mesh(MeshData(np.zeros((0, 3)), np.zeros((0, 3))), tmp_path / "x.ply")


def load_mesh_or_box() -> MeshData:
    return grid_to_mesh(np.ones((2, 2, 2), dtype=bool))
