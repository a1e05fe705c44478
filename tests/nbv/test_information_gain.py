"""Information-gain scoring: views of still-unknown space win over views of measured space."""

import numpy as np

from vtr_perception.geometry.cameras import camera_from_angles
from vtr_perception.nbv.config import PlannerConfig
from vtr_perception.nbv.information_gain import information_gain_from_bundle
from vtr_perception.nbv.planner import NextBestViewPlanner
from vtr_perception.nbv.visibility import ray_bundle

R = 16


def _half_known() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An object whose +x half is measured (free around a known occupied core) and whose -x half is unknown."""
    occupancy = np.full((R, R, R), 0.05, np.float32)
    uncertainty = np.zeros((R, R, R), np.float32)
    state = np.ones((R, R, R), np.uint8)  # free
    occupancy[6:10, 6:10, 6:10], state[6:10, 6:10, 6:10] = 1.0, 2
    unknown = np.zeros((R, R, R), bool)
    unknown[: R // 2] = True
    occupancy[unknown], uncertainty[unknown], state[unknown] = 0.5, 0.5, 0
    return occupancy, uncertainty, state


def test_the_planner_prefers_a_view_of_unknown_space():
    occupancy, uncertainty, state = _half_known()
    planner = NextBestViewPlanner(
        PlannerConfig(
            estimator="information_gain",
            candidates="fibonacci",
            num_candidates=64,
            elevation_min_deg=-10,
            elevation_max_deg=10,
        )
    )
    result = planner.plan_from_outputs({"occupancy": occupancy, "error": uncertainty, "state": state}, extent=0.2)
    assert result.best_pose[0, 3] < -0.1  # looks from -x, at the unknown half
    assert not result.stop and result.gains[0] > 2 * result.gains[-1]


def test_known_occupied_voxels_stop_the_rays():
    occupancy, uncertainty, _ = np.zeros((R, R, R), np.float32), np.full((R, R, R), 0.5, np.float32), None
    T = camera_from_angles(np.array([0.0]), np.array([0.0]), np.array([2.0]))
    bundle = ray_bundle(T, resolution=R, rays=8)
    open_gain = information_gain_from_bundle(bundle, uncertainty, occupancy)
    state = np.zeros((R, R, R), np.uint8)
    state[-2:] = 2  # a measured wall on the +x face, in front of the camera at +x
    walled = information_gain_from_bundle(bundle, uncertainty, occupancy, state=state)
    assert walled[0] < 0.25 * open_gain[0]


def test_the_planner_stops_when_nothing_is_left_to_learn():
    occupancy, _, state = _half_known()
    known = np.zeros((R, R, R), np.float32)
    planner = NextBestViewPlanner(PlannerConfig(estimator="information_gain"))
    result = planner.plan(known, occupancy, state=state, extent=0.2)
    assert result.stop and result.best_gain < planner.config.stop_information_gain
