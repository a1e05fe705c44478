"""Evidence grid: depth and silhouettes into measured free/occupied space, and its fusion with the network."""

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from tests.perception.doubles import FixedShapeBackend
from tests.perception.scenes import Box, camera_on_circle, render
from vtr_perception.geometry.cameras import Intrinsics, look_at
from vtr_perception.geometry.metrics import iou
from vtr_perception.geometry.voxels import voxel_centers
from vtr_perception.perception.config import PerceptionConfig
from vtr_perception.perception.evidence import EvidenceGrid, clean_depth, make_frame
from vtr_perception.perception.fusion import FREE, OCCUPIED, UNKNOWN, fuse
from vtr_perception.perception.pipeline import PerceptionPipeline
from vtr_perception.sim.depth_noise import apply_depth_noise, depth_noise_profile

K = Intrinsics.from_fov(320, 240, 60)
CFG = PerceptionConfig()
# Perfect depth needs no noise margin and no guard against registration offsets (their defaults are for real sensors).
PERFECT = PerceptionConfig(evidence_margin_m=0.001, evidence_guard_px=0)
R = 32
SPHERE_C, SPHERE_R, SIDE = np.array([0.0, 0.0, 0.1]), 0.06, 0.14
SIX = [np.array(d, float) for d in ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1))]


def _sphere_frame(direction: np.ndarray, distance: float = 0.5):
    """(depth, mask, T_world_camera) of the sphere seen from ``direction`` before a wall 1 m behind it."""
    up = (0.0, 1.0, 0.0) if abs(direction[2]) > 0.9 else (0.0, 0.0, 1.0)
    T = look_at(SPHERE_C + distance * direction, SPHERE_C, up=up)
    rays = K.pixel_rays().reshape(-1, 3)
    d = rays @ T[:3, :3].T
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    o = T[:3, 3] - SPHERE_C
    b = d @ o
    disc = b**2 - (o @ o - SPHERE_R**2)
    t = -b - np.sqrt(np.maximum(disc, 0.0))
    hit = disc > 0
    z = np.where(hit, t * (d @ T[:3, 2]), (distance + 1.0) / (d @ T[:3, 2]) * (d @ T[:3, 2])).astype(np.float32)
    return z.reshape(K.height, K.width), hit.reshape(K.height, K.width), T


def _sphere_truth() -> np.ndarray:
    centres = voxel_centers(R) * SIDE + SPHERE_C
    return np.linalg.norm(centres - SPHERE_C, axis=-1) <= SPHERE_R


def _grid(center=SPHERE_C, side=SIDE, config=PERFECT) -> EvidenceGrid:
    grid = EvidenceGrid(config, R)
    grid.follow(center, side)
    return grid


def _add(grid, depth, mask, T):
    cfg = grid.config
    frame = make_frame(None if depth is None else clean_depth(depth, cfg), mask, K, T, grid.center, grid.side, R, cfg)
    return grid.integrate(frame)


def _posterior(grid):
    half = np.full((R, R, R), 0.5, np.float32)
    return fuse(half, half, grid.logodds, CFG)


def test_sphere_seen_from_six_sides_with_perfect_depth():
    grid = _grid()
    for direction in SIX:
        _add(grid, *_sphere_frame(direction))
    post = _posterior(grid)
    truth = _sphere_truth()
    assert iou(post.occupancy, truth, 0.4) >= 0.95
    # Nothing inside the object is carved: only rim voxels whose centre projects within a pixel of a silhouette
    # edge (the pixel's ray misses the sphere) may be measured free, and few of them.
    rim = truth & ~ndimage.binary_erosion(truth)
    assert (post.state[truth & ~rim] != FREE).all()
    assert np.mean(post.state[truth] == FREE) < 0.01


def test_a_voxel_behind_the_measured_surface_stays_unknown():
    grid = _grid()
    depth, mask, T = _sphere_frame(SIX[0])
    _add(grid, depth, mask, T)
    centres = voxel_centers(R) * SIDE + SPHERE_C
    far_side = (centres[..., 0] < SPHERE_C[0] - 0.02) & _sphere_truth()  # behind the front surface and its band
    assert far_side.any() and (grid.logodds[far_side] == 0).all()
    assert (_posterior(grid).state[far_side] == UNKNOWN).all()
    # The band starts evidence_occupied_offset_m behind the surface: the voxels up to two voxels deep get occupied.
    front = _sphere_truth() & (centres[..., 0] > SPHERE_C[0] + SPHERE_R - 2 * SIDE / R)
    assert (grid.logodds[front] > 0).any()


def test_a_thin_rod_survives_noisy_depth():
    rod = Box((0.0, 0.0), (0.01, 0.01, 0.12), 0.0)
    center, side = rod.center, 0.13
    grid = _grid(center, side, CFG)  # the default margins, made for a real sensor
    rng = np.random.default_rng(0)
    noise = depth_noise_profile("realsense_d435")
    for az in range(0, 360, 45):
        T = camera_on_circle(az, radius=0.5, height=0.3, target=center)
        _, depth, ids = render([rod], K, T)
        _add(grid, apply_depth_noise(depth, K, noise, rng), ids == 2, T)
    centres = voxel_centers(R) * side + center
    truth = np.all(np.abs(centres - center) <= np.array([0.005, 0.005, 0.06]), axis=-1)
    post = _posterior(grid)
    assert truth.sum() > 20
    assert np.mean(post.occupancy[truth] >= 0.4) >= 0.95  # the rod is not carved away
    assert np.mean(post.state[truth] == FREE) == 0.0
    far = np.linalg.norm((centres - center)[..., :2], axis=-1) > 0.02
    assert np.mean(post.state[far & (centres[..., 2] > 0.01)] == FREE) > 0.5  # and the space around it is


def _noisy_box_evidence(config: PerceptionConfig):
    """(grid, voxels inside the box, voxels more than a voxel inside) of a box seen from 8 sides with D435 depth."""
    box = Box((0.0, 0.0), (0.10, 0.07, 0.08), 25)
    side = 0.12
    grid = _grid(box.center, side, config)
    rng = np.random.default_rng(0)
    noise = depth_noise_profile("realsense_d435")
    for az in range(0, 360, 45):
        T = camera_on_circle(az, radius=0.5, height=0.3, target=box.center)
        _, depth, ids = render([box], K, T)
        _add(grid, apply_depth_noise(depth, K, noise, rng), ids == 2, T)
    local = np.abs((voxel_centers(R) * side + grid.center - box.center) @ box.R)
    half = np.asarray(box.size) / 2
    return grid, np.all(local <= half, axis=-1), np.all(local <= half - side / R, axis=-1)


def test_noisy_depth_marks_no_skin_of_occupied_voxels_outside_the_object():
    grid, inside, deep = _noisy_box_evidence(CFG)
    occupied = grid.logodds >= CFG.evidence_known_logodds
    skin = np.mean(~inside[occupied])  # measured occupied, centre outside the box
    assert occupied[inside].sum() > 0.25 * inside.sum()
    assert skin < 0.1
    assert not (grid.logodds[deep] <= -CFG.evidence_known_logodds).any()  # nothing a voxel inside is carved
    # Without the offset, voxel centres just in front of the surface are marked occupied by the noise.
    no_offset, _, _ = _noisy_box_evidence(dataclasses.replace(CFG, evidence_occupied_offset_m=0.0))
    occupied0 = no_offset.logodds >= CFG.evidence_known_logodds
    assert np.mean(~inside[occupied0]) > skin + 0.02


def test_silhouette_carving_keeps_the_object_and_carves_around_it():
    grid = _grid()
    for direction in SIX:
        _, mask, T = _sphere_frame(direction)
        _add(grid, None, mask, T)
    assert (grid.logodds[_sphere_truth()] == 0).all()  # a silhouette never carves inside itself
    offset = voxel_centers(R) * SIDE
    margin = SPHERE_R + 3 * SIDE / R
    outside_hull = np.stack([np.linalg.norm(np.delete(offset, a, axis=-1), axis=-1) > margin for a in range(3)]).any(0)
    assert np.mean(grid.logodds[outside_hull] < 0) > 0.95
    assert (grid.logodds >= 0).all() or (grid.logodds[grid.logodds > 0].size == 0)


@pytest.mark.parametrize("bad", ["nan", "inf", "zero", "too_far"])
def test_invalid_depth_leaves_the_evidence_untouched(bad):
    grid = _grid()
    depth, mask, T = _sphere_frame(SIX[0])
    _add(grid, depth, mask, T)
    before = grid.logodds.copy()
    value = {"nan": np.nan, "inf": np.inf, "zero": 0.0, "too_far": 50.0}[bad]
    result = _add(grid, np.full_like(depth, value), mask, T)
    assert result.changed == 0 and np.array_equal(before, grid.logodds)


def _taken_away_frame():
    depth, mask, T = _sphere_frame(SIX[0])
    return np.full_like(depth, 0.5 + SPHERE_R + 0.3), np.zeros_like(mask), T  # a wall far behind the sphere's place


@pytest.mark.parametrize("frames", [1, 2])
def test_an_object_taken_away_resets_its_evidence_after_the_configured_frames_in_a_row(frames):
    grid = _grid(config=dataclasses.replace(PERFECT, evidence_reset_frames=frames))
    for direction in SIX[:4]:
        _add(grid, *_sphere_frame(direction))
    assert (grid.logodds >= CFG.evidence_known_logodds).sum() > 50
    for i in range(frames):
        result = _add(grid, *_taken_away_frame())
        assert result.contradicted > CFG.evidence_reset_fraction
        assert result.reset == (i == frames - 1) and grid.resets == (i == frames - 1)
    assert len(grid) == 1 and (grid.logodds > 0).sum() == 0 and grid.contradicting == 0


def test_one_contradicting_frame_between_agreeing_ones_never_resets():
    # A new view of a thin or hollow part carves the band behind the surface an earlier view put there: one
    # frame that contradicts, then frames that agree again. Only frames in a row that contradict reset.
    grid = _grid()
    for direction in SIX[:4]:
        _add(grid, *_sphere_frame(direction))
    for _ in range(3):
        assert not _add(grid, *_taken_away_frame()).reset and grid.contradicting == 1
        assert not _add(grid, *_sphere_frame(SIX[1])).reset and grid.contradicting == 0
    assert grid.resets == 0 and (grid.logodds >= CFG.evidence_known_logodds).sum() > 50


def test_a_frame_that_does_not_match_the_track_but_sees_the_object_keeps_its_evidence():
    grid = _grid()
    for direction in SIX[:4]:
        _add(grid, *_sphere_frame(direction))
    depth, mask, T = _sphere_frame(SIX[0])
    # The object still stands there (measured 3 mm farther: its front layer is carved), but the frame's mask is
    # not the track's (a blob with a neighbour, say): its surface counts as seen, so no reset.
    result = _add(grid, depth + 0.003, np.zeros_like(mask), T)
    assert not result.reset and result.contradicted < CFG.evidence_reset_fraction
    assert (grid.logodds < -0.5).sum() > 0 and grid.resets == 0


def test_the_evidence_survives_its_cube_moving_and_growing():
    grid = _grid()
    for direction in SIX:
        _add(grid, *_sphere_frame(direction))
    assert grid.follow(SPHERE_C + 0.01, SIDE * 1.2)  # re-integrated into the new cube
    centres = voxel_centers(R) * grid.side + grid.center
    truth = np.linalg.norm(centres - SPHERE_C, axis=-1) <= SPHERE_R
    half = np.full((R, R, R), 0.5, np.float32)
    assert iou(fuse(half, half, grid.logodds, CFG).occupancy, truth, 0.4) >= 0.9
    assert not grid.follow(grid.center + 1e-4, grid.side)  # a tiny move changes nothing


def test_fusion_clamps_the_network_so_evidence_overrides_it():
    occ = np.full((4, 4, 4), 0.8, np.float32)
    evidence = np.full((4, 4, 4), CFG.evidence_min_logodds, np.float32)
    post = fuse(occ, np.zeros_like(occ), evidence, CFG)
    assert (post.occupancy < 0.4).all() and (post.state == FREE).all()
    assert np.allclose(post.uncertainty, 2 * post.occupancy * (1 - post.occupancy))
    unseen = fuse(occ, np.full_like(occ, 0.3), np.zeros_like(occ), CFG)
    assert np.allclose(unseen.uncertainty, 0.32) and (unseen.state == UNKNOWN).all()  # 2p(1-p) of p = 0.8
    unsure = fuse(occ, np.full_like(occ, 0.6), np.zeros_like(occ), CFG)
    assert np.allclose(unsure.uncertainty, 0.6)  # the error head where it says more
    seen = fuse(occ, np.zeros_like(occ), np.full_like(occ, 2.0), CFG)
    assert (seen.state == OCCUPIED).all()


BOX = Box((0.03, -0.02), (0.12, 0.06, 0.09), 35)


def _pipeline():
    return PerceptionPipeline(PerceptionConfig(pixel_stride=2), FixedShapeBackend(np.full((16, 16, 16), 0.5)))


def _feed(pipe, azimuths, start=0.0):
    for i, az in enumerate(azimuths):
        T = camera_on_circle(az)
        rgb, depth, _ = render([BOX], K, T)
        pipe.process(rgb, depth, K, T, start + i)


def test_the_pipeline_publishes_the_fused_posterior_with_a_state():
    pipe = _pipeline()
    _feed(pipe, [0, 20, 40, 60])
    (est,) = pipe.estimates().values()
    assert est.state is not None and (est.state == OCCUPIED).any() and (est.state == FREE).any()
    assert est.occupancy.min() < 0.4 < est.occupancy.max()  # evidence moved the flat 0.5 prior both ways
    assert pipe.event_counts["evidence_frames"] >= 4
    calls = len(pipe.backend.calls)
    T = camera_on_circle(61)  # a near-duplicate view: no network run, but the new depth is fused
    rgb, depth, _ = render([BOX], K, T)
    result = pipe.process(rgb, depth, K, T, 9.0)
    assert len(pipe.backend.calls) == calls and result.updated == [est.id]


@pytest.mark.parametrize("bad", ["wrong_size", "pose_jump"])
def test_bad_frames_leave_the_evidence_untouched_and_are_counted(bad):
    pipe = _pipeline()
    _feed(pipe, [0, 20, 40])
    (track,) = pipe.tracker.confirmed()
    before, version = track.evidence.logodds.copy(), track.evidence.version
    T = camera_on_circle(60)
    rgb, depth, _ = render([BOX], K, T)
    if bad == "wrong_size":
        pipe.process(rgb, depth[:-2], K, T, 10.0)
        assert pipe.skip_counts["depth_size_mismatch"] == 1
    else:
        T_wrong = T.copy()
        T_wrong[:3, 3] += [0.0, 0.0, 0.35]  # a jump the tracker may accept: the same object is still matched
        pipe.process(rgb, depth, K, T_wrong, 10.0)
        counted = pipe.event_counts["evidence_rejected_after_pose_jump"] + pipe.skip_counts["camera_pose_jump"]
        assert counted == 1
    assert track.evidence.version == version and np.array_equal(before, track.evidence.logodds)


def test_a_box_moved_by_hand_resets_its_evidence_and_a_still_one_never_does():
    pipe = _pipeline()
    _feed(pipe, [0, 20, 40, 60, 80])
    assert pipe.event_counts["evidence_reset"] == 0
    moved = dataclasses.replace(BOX, center_xy=(BOX.center_xy[0] + 0.06, BOX.center_xy[1]))
    for i, az in enumerate([80, 80, 90]):
        T = camera_on_circle(az)
        rgb, depth, _ = render([moved], K, T)
        pipe.process(rgb, depth, K, T, 10.0 + i)
    assert pipe.event_counts["evidence_reset"] >= 1
