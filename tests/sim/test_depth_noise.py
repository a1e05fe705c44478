"""sim/depth_noise.py: a sensor's depth errors, each one against what it should do."""

import numpy as np
import pytest

from vtr_perception.geometry.cameras import Intrinsics
from vtr_perception.sim.depth_noise import (
    PROFILES,
    DepthNoiseProfile,
    apply_depth_noise,
    axial_sigma,
    depth_noise_profile,
)

K = Intrinsics.from_fov(160, 120, 60.0)
QUIET = dict(edge_dropout=0.0, flying_pixels=0.0, dropout=0.0, registration_px=(0, 0), grazing_deg=89.9)


def _plane(z: float) -> np.ndarray:
    return np.full((K.height, K.width), z, dtype=np.float32)


def test_none_is_perfect_depth_and_unknown_names_are_refused():
    depth = _plane(0.7)
    assert depth_noise_profile("none") is None
    np.testing.assert_array_equal(apply_depth_noise(depth, K, None, np.random.default_rng(0)), depth)
    with pytest.raises(ValueError, match="realsense_d435"):
        depth_noise_profile("perfect")


@pytest.mark.parametrize("z", [0.5, 1.0, 2.0])
def test_axial_noise_grows_with_distance_squared(z):
    profile = DepthNoiseProfile("test", sigma_base_m=0.0, sigma_quadratic=0.004, quantisation_m=0.0, **QUIET)
    noisy = apply_depth_noise(_plane(z), K, profile, np.random.default_rng(1))
    assert np.nanstd(noisy - z) == pytest.approx(0.004 * z * z, rel=0.05)
    assert abs(np.nanmean(noisy - z)) < 0.1 * 0.004 * z * z  # unbiased


def test_depth_is_quantised_to_millimetres():
    profile = DepthNoiseProfile("test", sigma_base_m=0.002, sigma_quadratic=0.0, **QUIET)
    noisy = apply_depth_noise(_plane(0.8), K, profile, np.random.default_rng(2))
    mm = noisy[np.isfinite(noisy)] * 1000.0
    np.testing.assert_allclose(mm, np.round(mm), atol=1e-3)


def test_edges_lose_pixels_or_fly_between_foreground_and_background():
    depth = _plane(1.5)
    depth[:, : K.width // 2] = 0.6  # a step from 0.6 m to 1.5 m
    profile = DepthNoiseProfile("test", sigma_base_m=0.0, sigma_quadratic=0.0, quantisation_m=0.0,
                                edge_dropout=0.5, flying_pixels=1.0, dropout=0.0, registration_px=(0, 0),
                                grazing_deg=89.9)  # fmt: skip
    noisy = apply_depth_noise(depth, K, profile, np.random.default_rng(3))
    edge_col = noisy[:, K.width // 2 - 1]
    assert 0.3 < np.isnan(edge_col).mean() < 0.7
    flown = edge_col[np.isfinite(edge_col)]
    assert ((flown > 0.6) & (flown < 1.5)).all()
    np.testing.assert_allclose(noisy[:, : K.width // 2 - 2], 0.6, rtol=1e-6)  # away from the edge: untouched
    np.testing.assert_allclose(noisy[:, K.width // 2 :], 1.5, rtol=1e-6)  # the far side of an edge is no edge


def test_grazing_surfaces_and_out_of_range_depth_give_no_return():
    u, v = np.meshgrid(np.arange(K.width, dtype=np.float64), np.arange(K.height, dtype=np.float64))
    rays = np.stack([(u - K.cx) / K.fx, (v - K.cy) / K.fy, np.ones_like(u)], -1)
    normal = np.array([0.0, np.sin(np.radians(85.0)), np.cos(np.radians(85.0))])  # a plane through (0, 0, 1)
    facing = rays @ normal
    depth = np.where(facing > 0, normal[2] / np.where(facing > 0, facing, 1.0), np.nan).astype(np.float32)
    incidence = np.degrees(np.arccos(np.clip(facing / np.linalg.norm(rays, axis=-1), -1.0, 1.0)))
    profile = DepthNoiseProfile("test", sigma_base_m=0.0, sigma_quadratic=0.0, quantisation_m=0.0, min_range_m=0.05,
                                max_range_m=4.0, edge_dropout=0.0, flying_pixels=0.0, dropout=0.0,
                                registration_px=(0, 0), grazing_deg=78.0)  # fmt: skip
    noisy = apply_depth_noise(depth, K, profile, np.random.default_rng(4))
    inner = np.zeros_like(depth, dtype=bool)
    inner[2:-2, 2:-2] = True
    assert np.isnan(noisy[inner & (incidence > 80.0)]).all()
    assert np.isnan(noisy[depth > 4.0]).all()
    kept = inner & (incidence < 75.0) & (depth > 0.05) & (depth < 4.0)
    assert kept.sum() > 100 and np.isfinite(noisy[kept]).all()


def test_registration_offset_moves_depth_against_colour():
    depth = _plane(1.0)
    depth[40:60, 50:70] = 0.5
    profile = DepthNoiseProfile("test", sigma_base_m=0.0, sigma_quadratic=0.0, quantisation_m=0.0,
                                edge_dropout=0.0, flying_pixels=0.0, dropout=0.0, registration_px=(2, 1))  # fmt: skip
    noisy = apply_depth_noise(depth, K, profile, np.random.default_rng(5))
    assert noisy[41, 52] == pytest.approx(0.5) and noisy[41, 51] == pytest.approx(1.0)
    assert np.isnan(noisy[0]).all() and np.isnan(noisy[:, :2]).all()


def test_every_shipped_profile_keeps_most_of_a_table_top_view():
    depth = _plane(0.7)
    depth[30:90, 60:100] = 0.55
    for name, profile in PROFILES.items():
        noisy = apply_depth_noise(depth, K, profile, np.random.default_rng(6))
        assert noisy.dtype == np.float32 and noisy.shape == depth.shape
        assert np.isfinite(noisy).mean() > 0.9, name
        if profile is not None:
            err = noisy - depth
            assert np.nanmedian(np.abs(err)) < 3 * float(axial_sigma(profile, 0.7)) + 0.001, name
