import numpy as np
import pytest

from vtr_perception.nbv.error_estimates import ESTIMATORS, get_estimator


def _outputs(occupancy, views=None, error=None):
    occupancy = np.asarray(occupancy, dtype=np.float32)
    return {
        "occupancy": occupancy,
        "error": np.zeros_like(occupancy) if error is None else error,
        "view_occupancy": np.stack([occupancy, occupancy]) if views is None else views,
    }


def test_registry_names_match_the_design():
    assert set(ESTIMATORS) == {"error_head", "entropy", "disagreement", "oracle", "information_gain"}
    with pytest.raises(ValueError, match="unknown error estimator"):
        get_estimator("magic")


def test_entropy_is_one_bit_at_one_half_and_zero_at_certainty():
    p = np.linspace(0.0, 1.0, 11, dtype=np.float32)
    occupancy = np.broadcast_to(p[:, None, None], (11, 11, 11)).copy()
    h = get_estimator("entropy")(_outputs(occupancy))[:, 0, 0]
    assert h.shape == (11,)
    assert np.argmax(h) == 5 and h[5] == pytest.approx(1.0, abs=1e-5)
    assert h[0] < 1e-4 and h[-1] < 1e-4
    np.testing.assert_allclose(h, h[::-1], atol=1e-5)  # symmetric about 0.5
    # reference: binary entropy in bits at p = 0.2
    assert h[2] == pytest.approx(-(0.2 * np.log2(0.2) + 0.8 * np.log2(0.8)), abs=1e-5)


def test_disagreement_is_zero_for_identical_views_and_the_std_otherwise():
    rng = np.random.default_rng(0)
    occupancy = rng.random((4, 4, 4)).astype(np.float32)
    same = get_estimator("disagreement")(_outputs(occupancy, views=np.stack([occupancy] * 3)))
    np.testing.assert_allclose(same, 0.0, atol=1e-6)
    views = rng.random((3, 4, 4, 4)).astype(np.float32)
    different = get_estimator("disagreement")(_outputs(occupancy, views=views))
    np.testing.assert_allclose(different, views.std(axis=0), atol=1e-6)
    assert different.shape == (4, 4, 4)


def test_oracle_is_the_absolute_error_and_needs_ground_truth():
    occupancy = np.full((4, 4, 4), 0.25, dtype=np.float32)
    gt = np.zeros((4, 4, 4), dtype=np.float32)
    gt[0] = 1.0
    err = get_estimator("oracle")(_outputs(occupancy), gt=gt)
    assert np.allclose(err[0], 0.75) and np.allclose(err[1:], 0.25)
    with pytest.raises(ValueError, match="ground-truth"):
        get_estimator("oracle")(_outputs(occupancy))
    with pytest.raises(ValueError, match="shape"):
        get_estimator("oracle")(_outputs(occupancy), gt=np.zeros((2, 2, 2)))


def test_error_head_passes_the_prediction_clipped_to_its_range():
    error = np.linspace(-0.5, 1.5, 64, dtype=np.float32).reshape(4, 4, 4)
    out = get_estimator("error_head")(_outputs(np.zeros((4, 4, 4)), error=error))
    np.testing.assert_allclose(out, np.clip(error, 0.0, 1.0))


def test_bad_outputs_give_readable_errors():
    with pytest.raises(ValueError, match="'error'"):
        get_estimator("error_head")({"occupancy": np.zeros((4, 4, 4))})
    bad = _outputs(np.zeros((4, 4, 4)))
    bad["occupancy"][0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        get_estimator("entropy")(bad)
    with pytest.raises(ValueError, match="cubic"):
        get_estimator("entropy")({"occupancy": np.zeros((4, 4))})
