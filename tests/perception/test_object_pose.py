import numpy as np

from tests.perception.doubles import FixedShapeBackend
from tests.perception.scenes import Box, camera_on_circle, render
from vtr_perception.geometry.cameras import Intrinsics, camera_from_angles, rotation_angle_deg, rotation_from_angles
from vtr_perception.perception.config import PerceptionConfig
from vtr_perception.perception.object_pose import (
    average_rotations,
    fuse_canonical_rotation,
    grid_mesh,
    principal_frame,
)
from vtr_perception.perception.pipeline import PerceptionPipeline

K = Intrinsics.from_fov(320, 240, 60)


def _random_rotation(rng):
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    x, y, z, w = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def test_robust_rotation_average_rejects_outliers():
    rng = np.random.default_rng(0)
    truth = _random_rotation(rng)
    noisy = []
    for _ in range(6):  # ~3 deg noise
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        a = np.radians(3.0)
        Kx = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
        noisy.append(truth @ (np.eye(3) + np.sin(a) * Kx + (1 - np.cos(a)) * Kx @ Kx))
    outliers = [_random_rotation(rng) for _ in range(2)]
    mean, inliers = average_rotations(np.stack(noisy + outliers), outlier_deg=20.0)
    assert rotation_angle_deg(mean, truth) < 3.0
    assert inliers[:6].all() and not inliers[6:].any()


def test_canonical_pose_head_angles_fuse_into_the_object_rotation():
    rng = np.random.default_rng(1)
    R_world_object = _random_rotation(rng)
    az, el = rng.uniform(0, 360, 5), rng.uniform(-60, 60, 5)
    R_world_cameras = R_world_object @ rotation_from_angles(az, el)  # cameras around the object, no roll
    view_pose = np.stack(
        [np.sin(np.radians(az)), np.cos(np.radians(az)), np.sin(np.radians(el)), np.cos(np.radians(el))], axis=-1
    )
    view_pose[4] = [1.0, 0.0, 0.0, 1.0]  # one pose-head failure
    R, inliers = fuse_canonical_rotation(view_pose, R_world_cameras, outlier_deg=20.0)
    assert rotation_angle_deg(R, R_world_object) < 1e-6
    assert inliers.tolist() == [True] * 4 + [False]


def test_principal_frame_is_z_up_with_x_along_the_long_horizontal_axis():
    rng = np.random.default_rng(2)
    pts = rng.uniform(-1, 1, (2000, 3)) * [0.2, 0.05, 0.5]  # tall, long in x
    yaw = np.radians(30.0)
    Rz = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    R = principal_frame(pts @ Rz.T)
    assert np.allclose(R[:, 2], [0, 0, 1]) and np.isclose(np.linalg.det(R), 1.0)
    assert rotation_angle_deg(R, Rz) < 1.0


def test_grid_mesh_spans_the_canonical_cube():
    occ = np.zeros((16, 16, 16), np.float32)
    occ[4:12, 2:14, 0:16] = 1.0
    verts, tris = grid_mesh(occ, 0.4)
    assert len(tris) > 0
    assert np.allclose(verts.min(0), [-0.25, -0.375, -0.5], atol=0.04)
    assert np.allclose(verts.max(0), [0.25, 0.375, 0.5], atol=0.04)
    assert grid_mesh(np.zeros((8, 8, 8)), 0.4)[0].shape == (0, 3)


def test_pose_and_scale_of_a_known_shape_are_recovered_from_depth():
    box = Box((0.03, -0.02), (0.14, 0.06, 0.09), 35)
    backend = FixedShapeBackend(box.occupancy(32))  # a perfect reconstructor of this one object
    pipe = PerceptionPipeline(PerceptionConfig(pixel_stride=2), backend)
    for i, az in enumerate(range(-20, 100, 20)):
        T = camera_on_circle(az)
        rgb, depth, _ = render([box], K, T)
        result = pipe.process(rgb, depth, K, T, float(i))
        assert result.skipped is None
    (est,) = result.estimates.values()
    assert est.num_views >= 3
    assert np.linalg.norm(est.position - box.center) < 0.01  # < 1 cm
    side = np.ptp(
        (np.array([[sx, sy] for sx in (-1, 1) for sy in (-1, 1)]) * np.array(box.size[:2]) / 2) @ box.R[:2, :2].T,
        axis=0,
    ).max()
    assert abs(est.scale - side) / side < 0.05
    yaw_err = rotation_angle_deg(est.rotation, box.R)
    assert min(yaw_err, 180.0 - yaw_err) < 5.0  # the principal axis has no sign
    assert est.vertices.min(axis=0)[2] > -0.01 and abs(est.vertices.max(axis=0)[2] - 0.09) < 0.01
    assert est.grid_extent == est.scale and est.occupancy.shape == (32, 32, 32)
    # The backend got pose-aware inputs: world rotations of the virtual cameras.
    images, rotations = backend.calls[-1]
    assert images.shape[1] == est.num_views and rotations.shape == (1, est.num_views, 3, 3)


def test_every_view_given_to_the_model_is_centred_on_the_object():
    box = Box((0.0, 0.0), (0.1, 0.1, 0.1))
    backend = FixedShapeBackend(box.occupancy(16))
    pipe = PerceptionPipeline(PerceptionConfig(pixel_stride=2), backend)
    for i, az in enumerate((0, 30, 60)):
        T = camera_from_angles(az, 35.0, 0.5, target=(0.1, 0.1, 0.0))  # the box is off-centre
        rgb, depth, _ = render([box], K, T)
        pipe.process(rgb, depth, K, T, float(i))
    images = backend.calls[-1][0][0]
    for img in images:
        ys, xs = np.nonzero(img.min(axis=0) < 0.95)
        assert abs(xs.mean() - 15.5) < 2.0 and abs(ys.mean() - 15.5) < 2.5


def test_canonical_mode_places_the_canonical_grid_with_the_fused_rotation():
    from vtr_perception.geometry.cameras import look_at
    from vtr_perception.perception.object_pose import estimate_object

    box = Box((0.03, -0.02), (0.14, 0.06, 0.09), 35)
    canonical = Box((0.0, 0.0), box.size, 0.0).occupancy(32)  # the grid in the object's own frame
    azimuths, elevation = np.array([10.0, 80.0, 150.0]), 30.0
    R_world_cameras, view_pose = [], []
    for az in azimuths:
        eye = box.center + 0.5 * np.array(
            [
                np.cos(np.radians(az)) * np.cos(np.radians(elevation)),
                np.sin(np.radians(az)) * np.cos(np.radians(elevation)),
                np.sin(np.radians(elevation)),
            ]
        )
        R_world_cameras.append(look_at(eye, box.center)[:3, :3])
        a = np.radians(az - box.yaw_deg)  # the camera's azimuth in the object frame
        view_pose.append([np.sin(a), np.cos(a), np.sin(np.radians(elevation)), np.cos(np.radians(elevation))])
    outputs = {
        "occupancy": canonical[None],
        "error": np.zeros_like(canonical)[None],
        "view_pose": np.array(view_pose)[None],
    }
    est = estimate_object(
        track_id=1,
        outputs=outputs,
        mode="canonical",
        center=box.center,
        size=0.14,
        observed_points=np.zeros((0, 3)),
        R_world_cameras=np.stack(R_world_cameras),
        num_views=3,
        stamp=0.0,
        config=PerceptionConfig(),
    )
    assert rotation_angle_deg(est.rotation, box.R) < 1.0
    assert np.linalg.norm(est.position - box.center) < 0.005
    assert np.allclose(est.grid_rotation, box.R, atol=0.02)


def test_an_unsure_model_still_gets_a_mesh_at_a_lower_level():
    from vtr_perception.perception.object_pose import estimate_object

    occ = Box((0.0, 0.0), (0.1, 0.1, 0.1)).occupancy(16) * 0.3  # nothing reaches 0.4
    outputs = {"occupancy": occ[None], "error": np.zeros_like(occ)[None]}
    kw = dict(
        track_id=1,
        outputs=outputs,
        mode="pose_aware",
        center=np.array([0.0, 0.0, 0.05]),
        size=0.1,
        observed_points=np.zeros((0, 3)),
        R_world_cameras=np.tile(np.eye(3), (2, 1, 1)),
        num_views=2,
        stamp=0.0,
    )
    est = estimate_object(**kw, config=PerceptionConfig())
    assert len(est.triangles) and est.surface_threshold < 0.3
    assert np.allclose(np.ptp(est.vertices, axis=0), 0.1, atol=0.01)
    assert len(estimate_object(**kw, config=PerceptionConfig(fallback_threshold_frac=0.0)).triangles) == 0


def test_by_default_the_network_grid_stays_the_crops_cube_and_the_fit_is_an_option():
    from vtr_perception.perception.object_pose import estimate_object

    occ = np.zeros((16, 16, 16), dtype=np.float32)
    occ[8:16, 4:12, 4:12] = 1.0  # half the cube's side, in its +x half
    outputs = {"occupancy": occ[None], "error": np.zeros_like(occ)[None]}
    center = np.array([0.2, 0.0, 0.1])
    kw = dict(
        track_id=1,
        outputs=outputs,
        mode="pose_aware",
        center=center,
        size=0.2,
        observed_points=np.zeros((0, 3)),
        R_world_cameras=np.tile(np.eye(3), (2, 1, 1)),
        num_views=2,
        stamp=0.0,
    )
    fitted = estimate_object(**kw, config=PerceptionConfig(fit_to_observed_size=True))
    # fitted: the predicted box is scaled up (clipped at 1.33) and its bounding box centred on the measured centre
    np.testing.assert_allclose(fitted.vertices.mean(axis=0), center, atol=0.01)
    assert fitted.grid_extent > 0.2 * 1.3
    kept = estimate_object(**kw, config=PerceptionConfig())
    assert kept.grid_extent == 0.2
    np.testing.assert_allclose(kept.grid_center, center, atol=1e-9)
    lo, hi = kept.vertices.min(axis=0), kept.vertices.max(axis=0)
    np.testing.assert_allclose(hi - lo, [0.1, 0.1, 0.1], atol=0.015)
    np.testing.assert_allclose((lo + hi) / 2.0, center + [0.05, 0.0, 0.0], atol=0.01)
