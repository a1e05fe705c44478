"""The support surface under real sensor noise, and the region that keeps clutter from becoming objects."""

import dataclasses

import numpy as np
import pytest

from tests.perception.scenes import Box, camera_on_circle, render
from vtr_perception.geometry.cameras import Intrinsics
from vtr_perception.perception import support
from vtr_perception.perception.config import PerceptionConfig
from vtr_perception.perception.segmentation import backproject, segment_depth, segmentation_stride, valid_depth
from vtr_perception.perception.support import noise_threshold
from vtr_perception.sim.depth_noise import apply_depth_noise, depth_noise_profile

VGA = Intrinsics.from_fov(640, 480, 65)
ON_TABLE = [Box((-0.1, 0.0), (0.08, 0.08, 0.12), 20), Box((0.15, 0.05), (0.12, 0.06, 0.08), -10, (40, 160, 60))]
CLUTTER = [
    Box((0.0, 1.0), (2.0, 0.05, 1.6), color=(220, 220, 210), base_z=-0.75),  # a wall behind the table
    Box((0.0, 0.8), (1.4, 0.3, 0.9), color=(180, 30, 30), base_z=-0.75),  # a counter, top 0.15 above the table
    Box((-0.3, 0.8), (0.1, 0.1, 0.15), color=(30, 30, 200), base_z=0.15),  # items on the counter
    Box((0.35, 0.75), (0.08, 0.08, 0.2), color=(30, 200, 200), base_z=0.15),
    Box((-0.18, 0.56), (0.03, 0.03, 0.9), color=(60, 50, 40), base_z=-0.75),  # a chair back: two posts ...
    Box((0.18, 0.56), (0.03, 0.03, 0.9), color=(60, 50, 40), base_z=-0.75),
    Box((0.0, 0.56), (0.4, 0.03, 0.05), color=(60, 50, 40), base_z=0.08),  # ... and its top rail
    Box((0.47, -0.25), (0.2, 0.08, 0.03), color=(200, 200, 40)),  # a tray across the table's edge (x = 0.5)
]


def _found(detections, boxes, tol=0.05):
    return [b for b in boxes if any(np.linalg.norm(d.center[:2] - b.center[:2]) < tol for d in detections)]


def test_stride_scales_with_the_focal_length():
    cfg = PerceptionConfig()
    assert segmentation_stride(cfg, Intrinsics.from_fov(320, 240, 60)) == 3
    assert segmentation_stride(cfg, VGA) == 5
    assert segmentation_stride(cfg, Intrinsics.from_fov(1280, 720, 65)) == 11
    assert segmentation_stride(PerceptionConfig(stride_focal_px=0), VGA) == 3


def test_only_the_table_objects_are_found_in_a_cluttered_scene():
    T = camera_on_circle(-90, radius=0.7, height=0.45)  # looking over the table at the wall, counter and chair
    _, depth, ids = render(ON_TABLE + CLUTTER, VGA, T)
    for i in range(len(ON_TABLE), len(ON_TABLE) + len(CLUTTER)):
        assert (ids == 2 + i).sum() > 200, f"clutter box {i - len(ON_TABLE)} is not in view"
    seg = segment_depth(depth, VGA, T, PerceptionConfig())
    assert seg.reason is None
    assert len(_found(seg.detections, ON_TABLE)) == 2
    assert len(seg.detections) == 2, [np.round(d.center, 2).tolist() for d in seg.detections]
    # Widening the region lets the counter's items, the chair and the tray through: the limit is what holds them.
    wide = segment_depth(depth, VGA, T, PerceptionConfig(region_margin_m=10.0, support_contact_m=1.0))
    assert len(wide.detections) > 2


@pytest.mark.parametrize("sensor", ["kinect_v1", "realsense_d435"])
def test_support_plane_and_objects_under_sensor_noise(sensor):
    K = Intrinsics.from_fov(640, 480, 60)
    T = camera_on_circle(-60, radius=1.0, height=0.6)  # the table 0.8-1.6 m away: sigma 3-12 mm
    _, depth, _ = render(ON_TABLE, K, T)
    noisy = apply_depth_noise(depth, K, depth_noise_profile(sensor), np.random.default_rng(3))
    seg = segment_depth(noisy, K, T, PerceptionConfig())
    assert seg.reason is None
    assert seg.plane_world[2] > 0.999 and abs(seg.plane_world[3]) < 0.004
    assert len(_found(seg.detections, ON_TABLE)) == 2
    assert len(seg.detections) == 2, [np.round(d.center, 2).tolist() for d in seg.detections]


def test_a_fixed_6mm_band_lets_noise_through_at_range():
    """From 1.5 m a fixed 6 mm band holds a third less of the table, which falls apart into patches: its largest
    patch alone hides both objects' footing. The sensor's band holds the table whole and finds both objects
    (with a DBSCAN radius and point count for the sparser points)."""
    K = Intrinsics.from_fov(640, 480, 60)
    T = camera_on_circle(-60, radius=1.5, height=0.8)
    _, depth, _ = render(ON_TABLE, K, T)
    noisy = apply_depth_noise(depth, K, depth_noise_profile("realsense_d435"), np.random.default_rng(3))
    fixed = PerceptionConfig(plane_noise_sigmas=1e-6)
    assert noise_threshold(np.array([1.4]), fixed)[0] == pytest.approx(0.006)
    assert noise_threshold(np.array([1.4]), PerceptionConfig())[0] > 0.02
    assert _table_share(noisy, K, T, fixed) < 0.75 < 0.95 < _table_share(noisy, K, T, PerceptionConfig())
    seg = segment_depth(noisy, K, T, dataclasses.replace(fixed, support_patch_fraction=1.0))
    assert seg.reason == "no_support_plane" or len(seg.detections) != 2
    seg = segment_depth(noisy, K, T, PerceptionConfig())
    assert len(_found(seg.detections, ON_TABLE)) == 2
    assert len(seg.detections) == 2, [np.round(d.center, 2).tolist() for d in seg.detections]


def _table_share(depth, K, T, config) -> float:
    """The share of a frame's valid strided points on the support plane."""
    g, d = backproject(depth, K, T, segmentation_stride(config, K))
    valid = valid_depth(d, config)
    surface = support.fit_support(g, valid, noise_threshold(np.nan_to_num(d), config), T[:3, 3], config)
    return surface.inliers / valid.sum()


def _noisy_view(azimuth=-60, seed=3):
    K = Intrinsics.from_fov(640, 480, 60)
    T = camera_on_circle(azimuth, radius=1.0, height=0.6)
    _, depth, _ = render(ON_TABLE, K, T)
    return apply_depth_noise(depth, K, depth_noise_profile("kinect_v1"), np.random.default_rng(seed)), K, T


def test_a_plane_hint_that_still_fits_replaces_the_search(monkeypatch):
    depth, K, T = _noisy_view()
    searched = segment_depth(depth, K, T, PerceptionConfig())
    hint = searched.plane_world + np.array([0.0, 0.0, 0.0, 0.004])  # 4 mm off: refitted to this frame's points

    def no_search(*args, **kwargs):
        raise AssertionError("RANSAC ran although the hint fits")

    monkeypatch.setattr(support, "ransac_plane", no_search)
    hinted = segment_depth(depth, K, T, PerceptionConfig(), plane_hint=hint)
    assert hinted.reason is None and abs(hinted.plane_world[3] - searched.plane_world[3]) < 0.002
    assert hinted.plane_world[:3] @ searched.plane_world[:3] > np.cos(np.radians(0.5))
    assert len(_found(hinted.detections, ON_TABLE)) == 2 and len(hinted.detections) == 2


@pytest.mark.parametrize("hint", [[0.0, 0.0, 1.0, -0.3], [0.0, np.sin(0.7), np.cos(0.7), 0.0], [1.0, 0.0, 0.0, 0.0]])
def test_a_plane_hint_that_no_longer_fits_falls_back_to_the_search(hint):
    """A plane 30 cm up, one tilted 40 deg through the table, a wall: the table is found as without a hint."""
    depth, K, T = _noisy_view(azimuth=30, seed=4)
    searched = segment_depth(depth, K, T, PerceptionConfig())
    hinted = segment_depth(depth, K, T, PerceptionConfig(), plane_hint=np.array(hint))
    assert hinted.reason is None and abs(hinted.plane_world[3] - searched.plane_world[3]) < 0.002
    assert hinted.plane_world[:3] @ searched.plane_world[:3] > np.cos(np.radians(0.5))
    assert len(_found(hinted.detections, ON_TABLE)) == 2 and len(hinted.detections) == 2


def test_inlier_counts_match_the_plain_float64_count():
    rng = np.random.default_rng(0)
    points = rng.uniform(-1.0, 1.0, (500, 3))
    threshold = rng.uniform(0.005, 0.05, 500)
    normals = rng.normal(size=(40, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    offsets = rng.uniform(-0.5, 0.5, 40)
    plain = (np.abs(points @ normals.T + offsets) < threshold[:, None]).sum(axis=0)
    assert np.abs(support._inlier_counts(points, threshold, normals, offsets) - plain).max() <= 1  # float32 ties
    assert plain.max() > 0


def test_steep_cells_are_the_wall_not_the_floor():
    """A floor (z = 0) meeting a wall (x = 0.5) on a grid: only the wall's inner cells are steep."""
    h, w = 20, 30
    x = np.linspace(0.0, 1.0, w)[None, :].repeat(h, axis=0)
    y = np.linspace(0.0, 0.6, h)[:, None].repeat(w, axis=1)
    z = np.where(x > 0.5, (x - 0.5) * 4.0, 0.0)  # the wall rises 4 m per metre of x
    grid = np.stack([np.minimum(x, 0.5), y, z], axis=-1)
    cells = np.ones((h, w), dtype=bool)
    cells[5, 5] = False
    steep = support.steep_cells(grid, cells, np.array([0.0, 0.0, 1.0]))
    wall = (x > 0.55)[1:-1, 1:-1]
    assert steep[1:-1, 1:-1][wall].all() and not steep[1:-1, 1:-1][(x < 0.45)[1:-1, 1:-1]].any()
    assert not steep[[0, -1]].any() and not steep[:, [0, -1]].any() and not steep[5, 5]


@pytest.mark.parametrize("fraction, shift, beyond", [(0.25, 0.0, False), (1.0, 0.0, True), (0.25, 1.0, True)])
def test_a_table_split_in_two_by_an_object_near_the_camera_keeps_both_halves(fraction, shift, beyond):
    """The image of the table: 26 columns left of a near object, 24 right of it, 12.5 cm apart: the right half is
    the table too. Shifted 1 m away, the right patch is another surface at the table's height: not the table."""
    h, w = 40, 60
    rows, cols = np.mgrid[0:h, 0:w]
    x = np.where(cols < 26, -0.5 + cols * 0.017, 0.05 + shift + (cols - 36) * 0.019)
    grid = np.stack([x, -0.3 + rows * 0.015, np.zeros((h, w))], axis=-1)
    grid[:, 26:36, 2] = 0.2  # the object near the camera: not the plane
    config = PerceptionConfig(support_patch_fraction=fraction)
    surface = support.fit_support(grid, np.ones((h, w), bool), np.full((h, w), 0.005), np.array([0, -1.0, 0.5]),
                                  config)  # fmt: skip
    assert abs(surface.plane[2]) > 0.999
    far_side = np.array([[0.3 + shift, 0.0, 0.0]])
    assert (surface.outside_m(far_side)[0] > 0.1) == beyond
    assert surface.outside_m(np.array([[-0.3, 0.0, 0.0]]))[0] <= 0.0
