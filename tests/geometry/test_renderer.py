import numpy as np
import open3d as o3d
import pytest
from scipy.spatial import ConvexHull

from vtr_perception.geometry.cameras import Intrinsics, camera_from_angles, invert, transform_points
from vtr_perception.geometry.mesh import MeshData
from vtr_perception.geometry.renderer import BACKGROUND_RGB, Renderer, render_object_views


def sphere(radius=0.5, center=(0.0, 0.0, 0.0), name="sphere", color=(0.7, 0.7, 0.7)) -> MeshData:
    s = o3d.geometry.TriangleMesh.create_sphere(radius=radius, resolution=60)
    s.translate(center)
    return MeshData(np.asarray(s.vertices), np.asarray(s.triangles), name=name, color=color)


def unit_cube(name="cube", color=(0.2, 0.4, 0.8)) -> MeshData:
    b = o3d.geometry.TriangleMesh.create_box(1.0, 1.0, 1.0)
    b.translate((-0.5, -0.5, -0.5))
    return MeshData(np.asarray(b.vertices), np.asarray(b.triangles), name=name, color=color)


def test_sphere_depth_matches_ray_sphere_intersection():
    K = Intrinsics.from_fov(65, 65, 52.0)  # odd size: the centre pixel's ray is the optical axis
    T = camera_from_angles(30.0, 20.0, 2.0)
    r = Renderer([sphere(0.5)]).render(K, T)
    assert r.depth.dtype == np.float32 and r.mask.dtype == np.int32
    assert r.depth[32, 32] == pytest.approx(1.5, abs=2e-3)
    # every pixel against the analytic intersection of its ray with the ball (z-depth)
    d = K.pixel_rays()  # optical frame, z = 1
    c = transform_points(invert(T), np.zeros((1, 3)))[0]  # sphere centre in the camera frame
    a, b, cc = (d * d).sum(-1), -2 * (d @ c), c @ c - 0.25
    disc = b * b - 4 * a * cc
    analytic = np.where(disc >= 0, (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a), np.nan)
    hit_both = np.isfinite(analytic) & np.isfinite(r.depth)
    assert np.abs(r.depth[hit_both] - analytic[hit_both]).max() < 5e-3
    # silhouettes agree up to the pixels on the rim
    assert np.sum(np.isfinite(analytic) != (r.mask > 0)) < 0.02 * np.isfinite(analytic).sum()
    assert np.all(np.isnan(r.depth[r.mask == 0]))
    # normals are unit, world frame, facing the camera
    n = r.normals[r.mask > 0]
    np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-4)
    np.testing.assert_allclose(r.normals[32, 32], T[:3, 3] / 2.0, atol=0.05)


def test_shading_colour_and_background():
    K = Intrinsics.from_fov(33, 33, 40.0)
    r = Renderer([sphere(color=(1.0, 0.5, 0.0))], ambient=0.3, diffuse=0.6).render(K, camera_from_angles(0, 0, 2.0))
    # the surface at the image centre faces the headlight: albedo * (ambient + diffuse)
    np.testing.assert_allclose(r.rgb[16, 16], np.array([1.0, 0.5, 0.0]) * 0.9 * 255, atol=2)
    assert tuple(r.rgb[0, 0]) == BACKGROUND_RGB
    # darker towards the rim (Lambertian)
    row = r.rgb[16, :, 0][r.mask[16] > 0].astype(int)
    assert row[0] < row[len(row) // 2] and row[-1] < row[len(row) // 2]


@pytest.mark.parametrize("az,el", [(0.0, 0.0), (45.0, 0.0), (30.0, 35.0), (200.0, -60.0)])
def test_cube_silhouette_area_matches_projected_hull(az, el):
    K = Intrinsics.from_fov(128, 128, 52.0)
    T = camera_from_angles(az, el, 2.0)
    cube = unit_cube()
    r = Renderer([cube]).render(K, T)
    corners = transform_points(invert(T), cube.vertices)
    hull_area = ConvexHull(K.project(corners)).volume  # 2-D hull "volume" is its area
    assert (r.mask > 0).sum() == pytest.approx(hull_area, rel=0.02)


def test_instance_ids_occlusion_and_several_objects():
    a = sphere(0.3, (0.0, -0.6, 0.0), "left", (1.0, 0.0, 0.0))
    b = sphere(0.3, (0.0, 0.6, 0.0), "right", (0.0, 1.0, 0.0))
    c = sphere(0.2, (-1.0, 0.6, 0.0), "behind_right", (0.0, 0.0, 1.0))  # hidden behind b from +x
    K = Intrinsics.from_fov(97, 97, 70.0)
    T = camera_from_angles(0.0, 0.0, 3.0)  # camera on +x looking at -x
    r = Renderer([a, b, c]).render(K, T)
    assert set(np.unique(r.mask)) == {0, 1, 2}
    for mesh, instance in ((a, 1), (b, 2)):
        u, v = K.project(transform_points(invert(T), mesh.vertices.mean(axis=0, keepdims=True)))[0].astype(int)
        assert r.mask[v, u] == instance
        assert r.depth[v, u] == pytest.approx(3.0 - 0.3, abs=0.01)
    # image x points to world +y when looking along -x: the "right" sphere is on the right
    assert np.argwhere(r.mask == 2)[:, 1].mean() > np.argwhere(r.mask == 1)[:, 1].mean()


def test_batch_equals_single_renders():
    R = Renderer([unit_cube()])
    K = Intrinsics.from_fov(40, 30, 52.0)
    Ts = camera_from_angles(np.array([0.0, 90.0, 250.0]), np.array([10.0, 30.0, -45.0]))
    batch = R.render_batch(K, Ts)
    for T, b in zip(Ts, batch, strict=True):
        s = R.render(K, T)
        np.testing.assert_array_equal(s.rgb, b.rgb)
        np.testing.assert_array_equal(s.mask, b.mask)
        np.testing.assert_allclose(s.depth, b.depth, equal_nan=True)
        assert b.rgb.shape == (30, 40, 3)


def test_vertex_colours_interpolate_with_barycentrics():
    m = sphere(0.5)
    colours = m.vertices + 0.5  # colour = position in the unit cube
    m = MeshData(m.vertices, m.triangles, vertex_colors=colours)
    K = Intrinsics.from_fov(31, 31, 52.0)
    T = camera_from_angles(20.0, 10.0, 2.0)
    r = Renderer([m], ambient=1.0, diffuse=0.0).render(K, T)
    hit = r.mask > 0
    points = transform_points(T, (K.pixel_rays() * r.depth[..., None])[hit])
    np.testing.assert_allclose(r.rgb[hit], np.clip(points + 0.5, 0, 1) * 255, atol=1.0)


def test_render_object_views_fit_the_frame():
    az = np.array([0.0, 90.0, 180.0, 45.0])
    el = np.array([0.0, 30.0, 90.0, -90.0])
    images, masks, Ts, K = render_object_views(unit_cube(), az, el, size=48)
    assert images.shape == (4, 48, 48, 3) and images.dtype == np.uint8
    assert masks.shape == (4, 48, 48) and masks.dtype == bool
    assert Ts.shape == (4, 4, 4) and K.width == 48
    assert masks.all(axis=(1, 2)).sum() == 0 and masks.any(axis=(1, 2)).all()
    border = np.concatenate([masks[:, 0], masks[:, -1], masks[:, :, 0], masks[:, :, -1]], axis=1)
    assert not border.any()  # the whole cube is in view from every direction


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="inside mesh 'cube'"):
        Renderer([unit_cube()]).render(Intrinsics.from_fov(8, 8, 52.0), camera_from_angles(0, 0, 0.2))
    with pytest.raises(ValueError, match="image size"):
        Intrinsics(10.0, 10.0, 0.0, 0.0, 0, 16)
    with pytest.raises(ValueError, match="image size"):
        render_object_views(unit_cube(), [0.0], [0.0], size=0)
    with pytest.raises(ValueError, match="'hollow'.*empty"):
        Renderer([MeshData(np.zeros((0, 3)), np.zeros((0, 3)), name="hollow")])
    bad = unit_cube()
    bad.vertices[0] = np.nan
    with pytest.raises(ValueError, match="'cube'.*NaN"):
        Renderer([bad])
    with pytest.raises(ValueError, match="4x4"):
        Renderer([unit_cube()]).render(Intrinsics.from_fov(8, 8, 52.0), np.eye(3))
    with pytest.raises(ValueError, match="at least one mesh"):
        Renderer([])
