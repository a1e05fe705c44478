import numpy as np
import pytest

from vtr_perception.geometry.cameras import camera_from_angles
from vtr_perception.nbv.config import PlannerConfig
from vtr_perception.nbv.planner import NextBestViewPlanner

R = 16


def _cube():
    occupancy = np.zeros((R, R, R), dtype=np.float32)
    occupancy[4:12, 4:12, 4:12] = 1.0
    return occupancy


def _planner(**overrides):
    """The 72-bin grid over the whole sphere, no elevation preference: each test narrows what it needs."""
    options = dict(distance_min=2.0, distance_max=2.0, rays=16, min_angle_from_taken_deg=0.0, candidates="grid",
                   elevation_min_deg=-90.0, elevation_max_deg=90.0, outside_preferred_factor=1.0)  # fmt: skip
    options.update(overrides)
    return NextBestViewPlanner(PlannerConfig(**options))


def _direction(pose, center=(0.0, 0.0, 0.0)):
    d = pose[:3, 3] - np.asarray(center)
    return d / np.linalg.norm(d)


def test_error_on_the_plus_x_face_is_seen_best_from_plus_x():
    occupancy = _cube()
    error = np.zeros_like(occupancy)
    error[11, 4:12, 4:12] = 1.0  # the +x face of the cube
    result = _planner().plan(error, occupancy)
    assert not result.stop
    assert _direction(result.best_pose)[0] > 0.9
    assert np.all(np.diff(result.scores) <= 0.0)  # ranked best first
    # the camera is an optical frame looking at the object centre
    assert np.allclose(result.best_pose[:3, 2], -_direction(result.best_pose), atol=1e-9)


def test_error_on_the_bottom_is_seen_from_below_or_from_the_lowest_allowed_view():
    occupancy = _cube()
    error = np.zeros_like(occupancy)
    error[4:12, 4:12, 4] = 1.0  # the bottom slab of the cube
    free = _planner().plan(error, occupancy)
    assert _direction(free.best_pose)[2] < -0.9  # from below (elevation -75)
    limited = _planner(elevation_min_deg=0.0).plan(error, occupancy)
    elevations = np.degrees(np.arcsin([_direction(p)[2] for p in limited.poses]))
    assert elevations.min() >= 0.0
    assert elevations[0] == pytest.approx(15.0)  # the lowest allowed ring sees the slab's sides


def test_planner_works_around_an_object_anywhere_in_the_world():
    occupancy = _cube()
    error = np.zeros_like(occupancy)
    error[4:12, 11, 4:12] = 1.0  # +y face
    center, extent = np.array([1.0, -2.0, 0.7]), 0.3
    planner = _planner(distance_min=0.5, distance_max=0.7, num_distances=2)
    result = planner.plan(error, occupancy, center=center, extent=extent)
    assert _direction(result.best_pose, center)[1] > 0.9
    distances = np.linalg.norm(result.poses[:, :3, 3] - center, axis=1)
    assert distances.min() >= 0.5 - 1e-9 and distances.max() <= 0.7 + 1e-9
    # at 0.6 m = 2 grid sides the views are those of the canonical placement at distance 2
    moved = _planner(distance_min=0.6, distance_max=0.6).plan(error, occupancy, center=center, extent=extent)
    reference = _planner().plan(error, occupancy)
    np.testing.assert_allclose(moved.gains, reference.gains, atol=1e-9)
    np.testing.assert_allclose(moved.poses[:, :3, 3], center + extent * reference.poses[:, :3, 3], atol=1e-9)


def test_workspace_box_and_distance_limits_are_respected():
    occupancy = _cube()
    error = np.zeros_like(occupancy)
    error[11] = 1.0  # +x error, but the camera may not go to x > 0.1
    config = dict(workspace_min=(-5.0, -5.0, -5.0), workspace_max=(0.1, 5.0, 5.0))
    result = _planner(**config).plan(error, occupancy)
    assert len(result.poses) > 0
    assert np.all(result.poses[:, 0, 3] <= 0.1 + 1e-9)
    # a shell closer than the grid's bounding sphere would put the camera inside the object
    inside = NextBestViewPlanner(PlannerConfig(distance_min=0.3, distance_max=0.3)).plan(error, occupancy)
    assert inside.best_pose is None and inside.stop and "limits" in inside.reason


def test_minimum_angle_from_taken_views_excludes_nearby_candidates():
    occupancy = _cube()
    error = np.zeros_like(occupancy)
    error[11, 4:12, 4:12] = 1.0
    taken = camera_from_angles(0.0, 0.0, 2.0)
    result = _planner(min_angle_from_taken_deg=40.0).plan(error, occupancy, taken_poses=[taken])
    cos = np.array([_direction(p) @ _direction(taken) for p in result.poses])
    assert np.all(cos <= np.cos(np.radians(40.0)) + 1e-9)
    assert len(result.poses) < 72


def test_motion_cost_prefers_the_nearer_of_equal_views():
    occupancy = _cube()
    error = np.ones_like(occupancy)  # every view sees the same amount of error by symmetry
    current = camera_from_angles(100.0, -20.0, 2.0)
    result = _planner(motion_weight=1.0).plan(error, occupancy, current_pose=current)
    az = np.degrees(np.arctan2(result.best_pose[1, 3], result.best_pose[0, 3])) % 360.0
    el = np.degrees(np.arcsin(_direction(result.best_pose)[2]))
    assert az == pytest.approx(105.0) and el == pytest.approx(-15.0)
    assert np.all(result.scores <= result.gains)


def test_spread_weight_turns_a_flat_error_estimate_to_the_far_side():
    occupancy = _cube()
    error = np.ones_like(occupancy)  # the same visible error from every side: no preference without spread
    taken = camera_from_angles(30.0, 15.0, 2.0)
    flat = _planner(spread_weight=0.0).plan(error, occupancy, taken_poses=[taken])
    spread = _planner(spread_weight=1.0).plan(error, occupancy, taken_poses=[taken])
    assert _direction(spread.best_pose) @ _direction(taken) < -0.9  # the opposite side
    assert _direction(flat.best_pose) @ _direction(taken) > -0.9  # candidate order decided, not spread
    np.testing.assert_allclose(np.sort(spread.gains), np.sort(flat.gains))  # gains (and stopping) unchanged
    # visible error still wins over spread: error on the taken side's face outweighs a weight of 1
    near = np.zeros_like(occupancy)
    near[11, 4:12, 4:12] = 1.0  # +x face, 30 deg from the taken view
    best = _planner(spread_weight=1.0).plan(near, occupancy, taken_poses=[taken]).best_pose
    assert _direction(best)[0] > 0.7


def test_preferred_elevation_band_wins_over_more_error_outside_it():
    occupancy = _cube()
    error = np.zeros_like(occupancy)
    error[4:12, 4:12, 11] = 1.0  # the top face: seen best from straight above
    error[11, 4:12, 4:12] = 0.5  # the +x face: half the error, seen from the side
    free = _planner().plan(error, occupancy)
    assert _direction(free.best_pose)[2] > 0.9
    prefer = _planner(preferred_elevation_deg=(10.0, 40.0), outside_preferred_factor=0.2).plan(error, occupancy)
    elevation = np.degrees(np.arcsin(_direction(prefer.best_pose)[2]))
    assert 10.0 <= elevation <= 40.0 and _direction(prefer.best_pose)[0] > 0.7
    np.testing.assert_allclose(np.sort(prefer.gains), np.sort(free.gains))  # gains (and stopping) unchanged
    # factor 0: outside candidates still come, ranked among themselves, after every inside one
    tiers = _planner(preferred_elevation_deg=(10.0, 40.0), outside_preferred_factor=0.0).plan(error, occupancy)
    inside = [10.0 - 1e-6 <= np.degrees(np.arcsin(_direction(p)[2])) <= 40.0 + 1e-6 for p in tiers.poses]
    assert len(tiers.poses) == len(free.poses) and inside == sorted(inside, reverse=True)
    with pytest.raises(ValueError, match="preferred_elevation_deg"):
        PlannerConfig(preferred_elevation_deg=(40.0, 10.0))
    with pytest.raises(ValueError, match="outside_preferred_factor"):
        PlannerConfig(outside_preferred_factor=1.5)


def test_seen_surface_angle_discounts_error_on_faces_the_taken_views_see():
    occupancy = _cube()
    error = np.zeros_like(occupancy)
    error[11, 4:12, 4:12] = 1.0  # +x face: the taken view sees it
    error[4, 4:12, 4:12] = 0.9  # -x face: hidden from the taken view
    taken = camera_from_angles(0.0, 0.0, 2.0)
    plain = _planner(seen_surface_angle_deg=0.0).plan(error, occupancy, taken_poses=[taken])
    seen = _planner(seen_surface_angle_deg=90.0).plan(error, occupancy, taken_poses=[taken])
    assert _direction(plain.best_pose)[0] > 0.5  # the larger error, seen again from near the taken view
    assert _direction(seen.best_pose)[0] < -0.5  # the surface no view has seen
    assert seen.scores.max() <= plain.scores.max() + 1e-12  # a discount, never a bonus
    np.testing.assert_allclose(np.sort(seen.gains), np.sort(plain.gains))  # stop_gain compares the visible error
    # no taken view: nothing is discounted
    none_taken = _planner(seen_surface_angle_deg=90.0).plan(error, occupancy)
    np.testing.assert_allclose(none_taken.gains, _planner(seen_surface_angle_deg=0.0).plan(error, occupancy).gains)


def test_seen_surface_weight_is_one_on_unseen_surface_and_grows_with_angle():
    from vtr_perception.nbv.visibility import seen_surface_weight

    res = 4
    seen = np.zeros((1, res**3 + 1), dtype=bool)
    seen[0, [5, 6]] = True  # the taken view saw voxels 5 and 6
    hits = np.array([[5, 7, res**3], [6, 5, 7]])
    taken = np.array([[1.0, 0.0, 0.0]])
    directions = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # 0 and 90 deg from the taken view
    w = seen_surface_weight(hits, directions, seen, taken, full_angle_deg=60.0)
    np.testing.assert_allclose(w, [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    thirty = np.array([[np.cos(np.pi / 6), np.sin(np.pi / 6), 0.0]])
    np.testing.assert_allclose(seen_surface_weight(hits[:1], thirty, seen, taken, full_angle_deg=60.0)[0, 0], 0.5,
                               atol=1e-6)  # fmt: skip
    with pytest.raises(ValueError, match="full_angle_deg"):
        seen_surface_weight(hits, directions, seen, taken, full_angle_deg=0.0)


def test_seen_surface_is_the_face_towards_the_camera():
    from vtr_perception.nbv.visibility import seen_surface

    occupancy = _cube()  # voxels 4..11 on each axis
    seen = seen_surface(occupancy, np.stack([camera_from_angles(0.0, 0.0, 2.0), camera_from_angles(0.0, 90.0, 2.0)]))
    ijk = np.stack(np.unravel_index(np.flatnonzero(seen[0, :-1]), (R, R, R)), axis=-1)
    assert set(ijk[:, 0]) == {11}  # from +x: the +x face only
    assert len(ijk) == 64  # every voxel of it
    top = np.stack(np.unravel_index(np.flatnonzero(seen[1, :-1]), (R, R, R)), axis=-1)
    assert set(top[:, 2]) == {11} and len(top) == 64
    assert not seen[:, -1].any()
    assert not seen_surface(np.zeros((R, R, R)), camera_from_angles(0.0, 0.0, 2.0)).any()


@pytest.mark.parametrize(
    "error,occupancy",
    [
        (np.zeros((R, R, R)), _cube()),  # no error anywhere
        (np.ones((R, R, R)) * 0.3, np.ones((R, R, R))),  # everything occupied
        (np.zeros((R, R, R)), np.zeros((R, R, R))),  # empty grid
    ],
    ids=["no-error", "all-occupied", "empty"],
)
def test_degenerate_volumes_give_a_defined_answer(error, occupancy):
    result = _planner().plan(error, occupancy)
    assert result.best_pose is not None and result.best_pose.shape == (4, 4)
    assert np.all(np.isfinite(result.scores)) and np.all(np.isfinite(result.gains))
    assert len(result.poses) == 72
    if not error.any():
        assert result.stop and "stop_gain" in result.reason


def test_max_views_stops_planning():
    occupancy = _cube()
    taken = camera_from_angles(np.arange(3) * 120.0, np.zeros(3), 2.0)
    result = _planner(max_views=3).plan(np.ones_like(occupancy), occupancy, taken_poses=taken)
    assert result.stop and "max views" in result.reason
    assert result.best_pose is not None


def test_max_views_counts_the_reconstructions_views_when_given():
    """Places the camera was sent to whose frames were not used are taken poses, not views."""
    occupancy = _cube()
    taken = camera_from_angles(np.arange(4) * 90.0, np.zeros(4), 2.0)
    planner = _planner(max_views=3)
    assert not planner.plan(np.ones_like(occupancy), occupancy, taken_poses=taken, views=2).stop
    result = planner.plan(np.ones_like(occupancy), occupancy, taken_poses=taken[:1], views=3)
    assert result.stop and "max views reached (3 >= 3)" in result.reason


def test_plan_from_outputs_uses_the_configured_estimator():
    occupancy = np.zeros((R, R, R), dtype=np.float32)
    occupancy[4:12, 4:12, 4:12] = 0.98
    occupancy[11, 4:12, 4:12] = 0.5  # uncertain +x face
    outputs = {"occupancy": occupancy, "error": np.zeros_like(occupancy), "view_occupancy": occupancy[None]}
    result = _planner(estimator="entropy").plan_from_outputs(outputs)
    assert _direction(result.best_pose)[0] > 0.9
    with pytest.raises(ValueError, match="estimator"):
        PlannerConfig(estimator="magic")


def test_bad_inputs_name_the_parameter():
    planner = _planner()
    with pytest.raises(ValueError, match="error_volume"):
        planner.plan(np.zeros((8, 8, 8)), _cube())
    with pytest.raises(ValueError, match="extent"):
        planner.plan(_cube(), _cube(), extent=0.0)
    nan = _cube()
    nan[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        planner.plan(nan, _cube())


def test_a_re_estimated_extent_reuses_the_cached_rays():
    occupancy = _cube()
    error = np.zeros_like(occupancy)
    error[11] = 1.0
    planner = _planner(distance_min=0.6, distance_max=0.6)
    first = planner.plan(error, occupancy, extent=0.3)
    second = planner.plan(error, occupancy, extent=0.3001)  # same grid distance to 1%
    assert len(planner._bundles) == 1
    np.testing.assert_allclose(first.gains, second.gains)
    planner.plan(error, occupancy, extent=0.2)
    assert len(planner._bundles) == 2
