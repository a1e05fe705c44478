"""The demo's random-view run draws from the same elevation limits and distances as the NBV planner."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import yaml

from tests.ros.helpers import REPO
from vtr_perception.geometry import cameras
from vtr_perception.resources import section_parameters
from vtr_perception.ros.demo_monitor import looks_at
from vtr_perception.ros.demo_runner import planner_view_limits
from vtr_perception.sim.object_views import initial_view, random_view, track_of


def test_limits_come_from_the_shipped_nbv_parameters():
    planner = section_parameters(yaml.safe_load((REPO / "config" / "nbv.yaml").read_text()), "nbv")["planner"]
    shells = planner.get("num_distances", 1)
    assert shells == 1  # the shipped file: one shell, at the middle of the distance range
    assert planner_view_limits() == {
        "elevation_deg": (planner["elevation_min_deg"], planner["elevation_max_deg"]),
        "min_angle_deg": planner["min_angle_from_taken_deg"],
        "view_distances": ((planner["distance_min"] + planner["distance_max"]) / 2.0,),
    }


def test_random_views_stay_within_the_limits_and_look_at_the_object():
    obj = SimpleNamespace(center=np.array([0.1, -0.2, 0.05]))
    rng = np.random.default_rng(0)
    poses = np.stack([random_view(obj, rng, 0.5, (10.0, 50.0)) for _ in range(300)])
    _, el, dist = cameras.angles_from_camera(poses, target=obj.center)
    assert el.min() >= 10.0 - 1e-6 and el.max() <= 50.0 + 1e-6
    assert el.max() - el.min() > 30.0  # spread over the range, not one elevation
    np.testing.assert_allclose(dist, 0.5, atol=1e-9)
    forward = poses[:, :3, 2]  # optical axis (z) of each camera
    to_object = obj.center - poses[:, :3, 3]
    cos = np.sum(forward * to_object, axis=1) / np.linalg.norm(to_object, axis=1)
    assert cos.min() > 0.999


def test_random_views_keep_the_minimum_angle_from_views_taken():
    obj = SimpleNamespace(center=np.zeros(3))
    rng = np.random.default_rng(1)
    taken = [cameras.camera_from_angles(az, 30.0, 0.5) for az in (0.0, 90.0, 180.0, 270.0)]
    for _ in range(50):
        T = random_view(obj, rng, 0.5, (10.0, 50.0), taken=taken, min_angle_deg=25.0)
        d = T[:3, 3] / np.linalg.norm(T[:3, 3])
        angles = [np.degrees(np.arccos(np.clip(d @ (t[:3, 3] / 0.5), -1, 1))) for t in taken]
        assert min(angles) >= 25.0 - 1e-6


def test_every_run_starts_an_object_from_the_same_first_view():
    """The NBV and the random run are compared from the same start: the first view of an object
    depends on the seed and the object alone, not on how many random views were drawn before."""
    a, b = (SimpleNamespace(index=i, center=np.array([0.1 * i, 0.0, 0.05])) for i in (0, 1))
    first = initial_view(b, 7, 0.5)
    random_view(a, np.random.default_rng(7), 0.5)  # the random run's draws for the object before
    np.testing.assert_array_equal(initial_view(b, 7, 0.5), first)
    assert not np.allclose(initial_view(a, 7, 0.5)[:3, 3] - a.center, first[:3, 3] - b.center)
    assert not np.allclose(initial_view(b, 8, 0.5), first)
    _, el, dist = cameras.angles_from_camera(first, target=b.center)
    assert 25.0 <= float(el) <= 40.0 and np.isclose(float(dist), 0.5)


def test_the_track_followed_is_kept_while_near_enough_even_when_a_split_piece_is_nearer():
    obj = SimpleNamespace(center=np.array([0.0, 0.0, 0.05]), size=0.1)
    centers = {3: np.array([0.04, 0.0, 0.05]), 7: np.array([0.01, 0.0, 0.05])}  # 7: a newer, nearer piece
    assert track_of(obj, centers) == 7
    assert track_of(obj, centers, prefer=3) == 3
    far = {3: np.array([0.2, 0.0, 0.05]), 7: np.array([0.01, 0.0, 0.05])}
    assert track_of(obj, far, prefer=3) == 7  # the followed track drifted off the object
    assert track_of(obj, {7: centers[7]}, prefer=3) == 7  # or is gone
    assert track_of(obj, {}, prefer=3) is None
    assert track_of(obj, {3: np.array([0.2, 0.0, 0.05])}) is None


def test_a_suggestion_counts_only_for_the_object_it_looks_at():
    here, neighbour = np.array([0.0, 0.05, 0.09]), np.array([0.24, 0.0, 0.08])  # the demo's spacing
    T = cameras.camera_from_angles(120.0, 30.0, 0.6, target=here)
    assert looks_at(T, here, tolerance_m=0.04)
    assert looks_at(T, here + np.array([0.0, 0.0, 0.03]), tolerance_m=0.04)  # a grid centre a little off
    assert not looks_at(T, neighbour, tolerance_m=0.04)
    behind = T[:3, 3] - 0.3 * T[:3, 2]  # on the optical axis, behind the camera
    assert not looks_at(T, behind, tolerance_m=0.04)
