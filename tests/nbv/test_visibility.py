import numpy as np
import pytest

from vtr_perception.geometry.cameras import camera_from_angles
from vtr_perception.nbv.visibility import GRID_BOUNDING_RADIUS, ray_bundle, visible_error, visible_error_from_bundle

R = 16
RAYS = 12


def _reference_chords(T, rays):
    """Per-ray chord length through the cube [-0.5, 0.5]^3 by the slab test (independent of the sampler)."""
    origin = T[:3, 3]
    distance = np.linalg.norm(origin)
    tangent = GRID_BOUNDING_RADIUS / np.sqrt(distance**2 - GRID_BOUNDING_RADIUS**2)
    u = (np.arange(rays) + 0.5) / rays * 2.0 - 1.0
    chords = []
    for v in u:
        for x in u:
            d = T[:3, :3] @ np.array([x * tangent, v * tangent, 1.0])
            d /= np.linalg.norm(d)
            with np.errstate(divide="ignore"):
                t1, t2 = (-0.5 - origin) / d, (0.5 - origin) / d
            t_in, t_out = np.max(np.minimum(t1, t2)), np.min(np.maximum(t1, t2))
            chords.append(max(t_out - t_in, 0.0))
    return np.array(chords)


@pytest.mark.parametrize("az,el", [(0.0, 0.0), (40.0, 25.0), (200.0, -60.0)])
def test_first_hit_fraction_matches_ray_box_intersection(az, el):
    T = camera_from_angles(az, el, 2.0)
    full = np.ones((R, R, R), dtype=np.float32)
    score = visible_error(full, full, T[None], rays=RAYS, free_space_weight=0.0)
    chords = _reference_chords(T, RAYS)
    assert score.shape == (1,)
    # Samples one voxel apart always land inside a chord at least one voxel long; shorter
    # grazing chords may be missed, so the fraction of hits is bracketed exactly.
    assert np.mean(chords >= 1.0 / R) - 1e-9 <= score[0] <= np.mean(chords > 0.0) + 1e-9
    assert np.mean(chords > 0.0) - np.mean(chords >= 1.0 / R) < 0.1


def test_free_space_error_matches_chord_length_in_voxels():
    T = camera_from_angles(30.0, 20.0, 2.0)
    empty = np.zeros((R, R, R), dtype=np.float32)
    error = np.ones((R, R, R), dtype=np.float32)
    score = visible_error(error, empty, T[None], rays=RAYS, free_space_weight=1.0)
    expected = np.mean(_reference_chords(T, RAYS)) * R
    assert score[0] == pytest.approx(expected, rel=0.06)


def test_error_behind_the_first_hit_is_hidden():
    occupancy = np.zeros((R, R, R), dtype=np.float32)
    occupancy[R // 2 :] = 1.0  # the +x half is solid
    error = np.zeros_like(occupancy)
    error[-1] = 1.0  # error on the far +x side only
    T = camera_from_angles(np.array([0.0, 180.0]), np.array([0.0, 0.0]), 2.0)  # from +x, from -x
    scores = visible_error(error, occupancy, T, rays=RAYS, free_space_weight=1.0)
    assert scores[0] > 0.3 and scores[1] == 0.0


def test_empty_and_zero_volumes_score_zero_not_nan():
    T = camera_from_angles(np.arange(0.0, 360.0, 60.0), np.zeros(6), 2.0)
    zeros = np.zeros((R, R, R), dtype=np.float32)
    ones = np.ones((R, R, R), dtype=np.float32)
    for error, occupancy, weight in [(zeros, zeros, 1.0), (ones, zeros, 0.0), (zeros, ones, 1.0)]:
        scores = visible_error(error, occupancy, T, rays=RAYS, free_space_weight=weight)
        assert np.all(np.isfinite(scores)) and np.all(scores == 0.0)


def test_camera_inside_the_bounding_sphere_is_defined():
    T = camera_from_angles(0.0, 0.0, 0.3)
    occupancy = np.ones((R, R, R), dtype=np.float32)
    score = visible_error(occupancy, occupancy, T[None], rays=RAYS)
    assert np.isfinite(score[0]) and score[0] > 0.0


def test_bundle_is_reusable_and_inputs_are_checked():
    T = camera_from_angles(np.array([0.0, 90.0]), np.array([10.0, 10.0]), 2.0)
    bundle = ray_bundle(T, resolution=R, rays=RAYS)
    assert bundle.indices.shape[0] == 2 and bundle.indices.shape[1] <= RAYS * RAYS  # rays missing the cube dropped
    assert bundle.rays_per_camera == RAYS * RAYS
    assert bundle.indices.min() >= 0 and bundle.indices.max() <= R**3
    with pytest.raises(ValueError, match="volume_error"):
        visible_error_from_bundle(bundle, np.zeros((8, 8, 8)), np.zeros((R, R, R)))
    bad = np.zeros((R, R, R), dtype=np.float32)
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        visible_error_from_bundle(bundle, bad, np.zeros((R, R, R)))
    with pytest.raises(ValueError, match="T_grid_cameras"):
        ray_bundle(np.eye(3), resolution=R)


def test_scoring_some_cameras_of_a_bundle_gives_their_scores_of_the_whole_bundle():
    T = camera_from_angles(np.array([0.0, 90.0, 180.0, 270.0]), np.array([10.0, 40.0, -20.0, 70.0]), 2.0)
    bundle = ray_bundle(T, resolution=R, rays=RAYS)
    rng = np.random.default_rng(0)
    occ, err = rng.random((R, R, R)).astype(np.float32), rng.random((R, R, R)).astype(np.float32)
    full = visible_error_from_bundle(bundle, err, occ, threshold=0.9, free_space_weight=0.5)
    assert len(np.unique(full)) == 4
    some = visible_error_from_bundle(bundle, err, occ, threshold=0.9, free_space_weight=0.5, cameras=[3, 1])
    np.testing.assert_array_equal(some, full[[3, 1]])
    mask = np.array([True, False, True, False])
    np.testing.assert_array_equal(
        visible_error_from_bundle(bundle, err, occ, threshold=0.9, cameras=mask),
        visible_error_from_bundle(bundle, err, occ, threshold=0.9)[mask],
    )
