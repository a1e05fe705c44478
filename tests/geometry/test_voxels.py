import numpy as np
import open3d as o3d
import pytest

from vtr_perception.geometry.mesh import MeshData
from vtr_perception.geometry.voxels import Normalization, grid_to_points, voxel_centers, voxelize


def o3d_mesh(m: o3d.geometry.TriangleMesh, name: str) -> MeshData:
    return MeshData(np.asarray(m.vertices), np.asarray(m.triangles), name=name)


def box(lo, hi, name="box") -> MeshData:
    b = o3d.geometry.TriangleMesh.create_box(*(np.asarray(hi) - np.asarray(lo)))
    b.translate(np.asarray(lo, dtype=float))
    return o3d_mesh(b, name)


class TestNormalization:
    def test_from_bounds_maps_longest_side_to_unit_cube(self):
        n = Normalization.from_bounds(np.array([1.0, 2.0, 3.0]), np.array([3.0, 3.0, 3.5]))
        np.testing.assert_allclose(n.center, [2.0, 2.5, 3.25])
        assert n.scale == pytest.approx(0.5)
        corners = n.to_canonical(np.array([[1.0, 2.0, 3.0], [3.0, 3.0, 3.5]]))
        np.testing.assert_allclose(corners, [[-0.5, -0.25, -0.125], [0.5, 0.25, 0.125]])

    def test_round_trips(self):
        n = Normalization(center=np.array([0.1, -0.2, 0.3]), scale=4.0)
        p = np.random.default_rng(0).normal(size=(10, 3))
        np.testing.assert_allclose(n.to_metric(n.to_canonical(p)), p)
        T = n.as_matrix()
        np.testing.assert_allclose(p @ T[:3, :3].T + T[:3, 3], n.to_canonical(p))
        back = Normalization.from_dict(n.to_dict())
        np.testing.assert_allclose(back.center, n.center)
        assert back.scale == n.scale

    def test_rejects_degenerate_and_bad_dicts(self):
        with pytest.raises(ValueError, match="extent"):
            Normalization.from_bounds(np.zeros(3), np.zeros(3))
        with pytest.raises(ValueError, match="scale"):
            Normalization.from_dict({"center": [0, 0, 0]})


def test_voxel_centers_layout():
    c = voxel_centers(4)
    assert c.shape == (4, 4, 4, 3)
    np.testing.assert_allclose(c[0, 0, 0], [-0.375, -0.375, -0.375])
    np.testing.assert_allclose(c[3, 1, 2], [0.375, -0.125, 0.125])  # (i, j, k) indexes (x, y, z)


def test_sphere_matches_analytic_ball():
    sphere = o3d.geometry.TriangleMesh.create_sphere(radius=3.0, resolution=40)
    sphere.translate((1.0, 2.0, -1.0))
    grid, norm = voxelize(o3d_mesh(sphere, "sphere"), 32)
    np.testing.assert_allclose(norm.center, [1.0, 2.0, -1.0], atol=1e-9)
    assert norm.scale == pytest.approx(1 / 6.0)
    ball = np.linalg.norm(voxel_centers(32), axis=-1) < 0.5
    iou = (grid & ball).sum() / (grid | ball).sum()
    assert iou > 0.9


def test_box_axes_are_x_y_z():
    grid, _ = voxelize(box((0, 0, 0), (1.0, 0.5, 0.25)), 8)
    # x spans the cube, y half, z a quarter: counts per axis
    assert grid.any(axis=(1, 2)).sum() == 8
    assert grid.any(axis=(0, 2)).sum() == 4
    assert grid.any(axis=(0, 1)).sum() == 2


def test_overlapping_parts_union_and_naive_whole_mesh_query():
    a, b = box((-0.45, -0.45, -0.45), (0.15, 0.15, 0.15)), box((-0.15, -0.15, -0.15), (0.45, 0.45, 0.45))
    both = MeshData(
        np.concatenate([a.vertices, b.vertices]),
        np.concatenate([a.triangles, b.triangles + len(a.vertices)]),
        name="two_cubes",
        parts=[np.arange(len(a.triangles)), np.arange(len(b.triangles)) + len(a.triangles)],
    )
    c = voxel_centers(32)
    in_a = np.all((c > -0.45) & (c < 0.15), axis=-1)
    in_b = np.all((c > -0.15) & (c < 0.45), axis=-1)
    union_grid, _ = voxelize(both, 32, Normalization.identity())
    np.testing.assert_array_equal(union_grid, in_a | in_b)
    # One query on the whole mesh counts two surface crossings in the overlap: "outside".
    naive, _ = voxelize(both, 32, Normalization.identity(), by_part=False)
    assert (in_a & in_b).sum() > 0
    np.testing.assert_array_equal(naive, in_a ^ in_b)


def test_bad_meshes_raise_naming_the_mesh():
    with pytest.raises(ValueError, match="'nothing'.*empty"):
        voxelize(MeshData(np.zeros((0, 3)), np.zeros((0, 3)), name="nothing"))
    good = box((0, 0, 0), (1, 1, 1))
    bad_vertices = good.vertices.copy()
    bad_vertices[2] = np.nan
    with pytest.raises(ValueError, match="'nan_box'.*NaN"):
        voxelize(MeshData(bad_vertices, good.triangles, name="nan_box"))
    flat = MeshData(np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0.0]]), np.array([[0, 1, 2]]), name="line")
    with pytest.raises(ValueError, match="'line'.*degenerate"):
        voxelize(flat)
    with pytest.raises(ValueError, match="resolution"):
        voxelize(good, 0)


def test_grid_to_points_canonical_and_metric():
    grid = np.zeros((4, 4, 4), dtype=bool)
    grid[3, 0, 1] = True
    np.testing.assert_allclose(grid_to_points(grid), [[0.375, -0.375, -0.125]])
    n = Normalization(center=np.array([1.0, 0.0, 0.0]), scale=2.0)
    np.testing.assert_allclose(grid_to_points(grid, n), [[1.1875, -0.1875, -0.0625]])
    prob = grid * 0.45
    assert len(grid_to_points(prob, threshold=0.5)) == 0
    assert len(grid_to_points(prob, threshold=0.4)) == 1
