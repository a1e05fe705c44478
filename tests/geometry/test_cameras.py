import numpy as np
import pytest

from vtr_perception.geometry import cameras as C
from vtr_perception.geometry.view_sets import candidate_grid, elevation_bin, sample_views


class TestIntrinsics:
    def test_fov_and_camera_info_round_trip(self):
        K = C.Intrinsics.from_fov(640, 480, 90.0)
        assert K.fx == pytest.approx(320.0)
        info = K.to_camera_info()
        back = C.Intrinsics.from_camera_info(info["k"], info["width"], info["height"])
        assert back == K

    def test_rejects_bad_sizes(self):
        with pytest.raises(ValueError, match="image size"):
            C.Intrinsics(100.0, 100.0, 0.0, 0.0, 0, 10)
        with pytest.raises(ValueError, match="9 elements"):
            C.Intrinsics.from_camera_info([1.0, 2.0], 10, 10)

    def test_project_centre_ray(self):
        K = C.Intrinsics.from_fov(64, 48, 60.0)
        uv = K.project(np.array([[0.0, 0.0, 2.0]]))
        np.testing.assert_allclose(uv, [[32.0, 24.0]])


class TestPoses:
    @pytest.mark.parametrize("az,el", [(0, 0), (37, 25), (200, -60), (90, 90), (10, -90)])
    def test_camera_looks_at_target_with_optical_axes(self, az, el):
        T = C.camera_from_angles(az, el, 2.0, target=(0.1, -0.2, 0.3))
        R = T[:3, :3]
        np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-12)
        assert np.linalg.det(R) == pytest.approx(1.0)
        to_target = np.array([0.1, -0.2, 0.3]) - T[:3, 3]
        np.testing.assert_allclose(R[:, 2], to_target / np.linalg.norm(to_target), atol=1e-12)
        a, e, d = C.angles_from_camera(T, target=(0.1, -0.2, 0.3))
        assert d == pytest.approx(2.0)
        assert e == pytest.approx(el)
        if abs(el) < 90:
            assert a == pytest.approx(az % 360)

    def test_no_roll_image_up_is_world_up(self):
        R = C.rotation_from_angles(30.0, 20.0)
        # optical y points down: its world z component must be negative, and x is horizontal
        assert R[2, 1] < 0
        assert R[2, 0] == pytest.approx(0.0, abs=1e-12)

    def test_look_at_matches_closed_form(self):
        T = C.camera_from_angles(123.0, 31.0, 1.5)
        T2 = C.look_at(T[:3, 3], np.zeros(3))
        np.testing.assert_allclose(T, T2, atol=1e-9)

    def test_invert_and_quaternion(self):
        T = C.camera_from_angles(50.0, -10.0, 3.0, roll_deg=15.0)
        np.testing.assert_allclose(T @ C.invert(T), np.eye(4), atol=1e-12)
        q = C.quaternion_from_matrix(T[:3, :3])
        np.testing.assert_allclose(C.matrix_from_quaternion(q), T[:3, :3], atol=1e-9)
        assert C.rotation_angle_deg(T[:3, :3], T[:3, :3]) == pytest.approx(0.0, abs=1e-5)

    @pytest.mark.parametrize("angle", [1e-7, 1e-3, 37.0, 90.0, 179.9999, 180.0])
    def test_rotation_angle_is_accurate_near_0_and_180(self, angle):
        axis = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
        K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
        t = np.radians(angle)
        R_rel = np.eye(3) + np.sin(t) * K + (1 - np.cos(t)) * K @ K  # Rodrigues
        R_a = C.camera_from_angles(50.0, -10.0, 3.0, roll_deg=15.0)[:3, :3]
        assert C.rotation_angle_deg(R_a, R_a @ R_rel) == pytest.approx(angle, rel=1e-6, abs=1e-9)

    def test_degenerate_look_at(self):
        with pytest.raises(ValueError, match="degenerate"):
            C.look_at(np.zeros(3), np.zeros(3))
        T = C.look_at(np.array([0, 0, 2.0]), np.zeros(3))  # straight down: still defined
        assert np.isfinite(T).all()


class TestViewSets:
    def test_ranges(self):
        rng = np.random.default_rng(0)
        az, el = sample_views("aligned", 2000, rng)
        assert az.min() >= 0 and az.max() < 360 and el.min() >= 20 and el.max() <= 35
        az, el = sample_views("hemisphere", 2000, rng)
        assert el.min() >= 0 and el.max() <= 90
        az, el = sample_views("sphere", 20000, rng)
        # uniform on the sphere: z = sin(el) is uniform in [-1, 1]
        z = np.sin(np.radians(el))
        assert abs(z.mean()) < 0.02 and abs((z > 0.5).mean() - 0.25) < 0.02
        with pytest.raises(ValueError, match="unknown view set"):
            sample_views("upside-down", 1, rng)

    def test_candidate_grid(self):
        az, el = candidate_grid()
        assert az.shape == (72,) and len(set(el)) == 6 and len(set(az)) == 12
        assert el.min() == -75 and el.max() == 75
        assert list(elevation_bin([-90, -60.1, -59.9, 0, 89.9, 90])) == [0, 0, 1, 3, 5, 5]
