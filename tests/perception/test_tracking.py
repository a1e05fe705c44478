import dataclasses

import numpy as np

from tests.perception.scenes import Box, camera_on_circle, render
from vtr_perception.geometry.cameras import Intrinsics
from vtr_perception.perception.config import PerceptionConfig
from vtr_perception.perception.segmentation import Detection, segment_depth
from vtr_perception.perception.tracking import Tracker, footprint_overlap, merge_fragments

K = Intrinsics.from_fov(320, 240, 60)
CFG = PerceptionConfig(pixel_stride=2)
BOXES = [
    Box((0.0, 0.0), (0.10, 0.06, 0.12), 20),
    Box((0.15, 0.10), (0.08, 0.08, 0.08), 0, (40, 160, 60)),
    Box((-0.12, 0.12), (0.15, 0.05, 0.05), -30, (40, 60, 200)),
]


def _det(center, size, cut=False) -> Detection:
    c = np.asarray(center, float)
    ext = np.full(3, size)
    pts = c + (np.random.default_rng(0).random((50, 3)) - 0.5) * ext
    return Detection(np.ones((2, 2), bool), pts, c, ext, cut)


def _frame(tracker, az, stamp):
    T = camera_on_circle(az)
    _, depth, _ = render(BOXES, K, T)
    return tracker.step(segment_depth(depth, K, T, CFG).detections, K, T, stamp)


def _owner(tracker, box):
    return min(tracker.tracks.values(), key=lambda t: np.linalg.norm(t.center[:2] - box.center[:2]))


def test_ids_stay_stable_while_the_camera_moves_around():
    tracker = Tracker(CFG)
    owners = None
    for i, az in enumerate(range(0, 180, 12)):
        step = _frame(tracker, az, float(i))
        assert step.skipped is None and step.retired == []
        ids = [_owner(tracker, b).id for b in BOXES]
        owners = owners or ids
        assert ids == owners
    assert len(tracker.tracks) == 3 and all(t.confirmed for t in tracker.tracks.values())
    for b in BOXES:  # geometry fused over views converges on the true boxes
        assert np.linalg.norm(_owner(tracker, b).center - b.center) < 0.01


def test_reset_forgets_every_track_and_never_reuses_an_id():
    tracker = Tracker(CFG)
    for i, az in enumerate((0, 12, 24)):
        _frame(tracker, az, float(i))
    old = sorted(tracker.tracks)
    assert tracker.reset() == old and tracker.tracks == {}
    step = _frame(tracker, 36, 3.0)  # a new track per object, from this frame alone
    assert step.skipped is None and len(step.created) == len(BOXES)
    assert min(tracker.tracks) > max(old)
    assert all(len(t.buffer) <= 1 for t in tracker.tracks.values())


def test_tracks_confirm_after_hits_and_retire_after_misses_in_view_only():
    cfg = PerceptionConfig(confirm_hits=2, retire_misses=3)
    tracker = Tracker(cfg)
    T = camera_on_circle(0)
    tracker.step([_det([0, 0, 0.05], 0.1)], K, T, 0.0)
    (track,) = tracker.tracks.values()
    assert not track.confirmed
    tracker.step([_det([0.005, 0, 0.05], 0.1)], K, T, 1.0)
    assert track.confirmed and tracker.tracks[track.id] is track
    away = camera_on_circle(0, target=(3.0, 0.0, 0.0))  # the object is out of view: no misses
    away[:3, 3] = T[:3, 3]
    for s in range(5):
        tracker.step([], K, away, 2.0 + s)
    assert track.id in tracker.tracks and track.misses == 0
    # Turning back is a pose jump to a view where the track is expected but not seen: skipped
    # once; the next frames from the same pose are normal frames and count misses.
    assert tracker.step([], K, T, 10.0).skipped == "camera_pose_jump"
    for s in range(3):
        assert tracker.step([], K, T, 11.0 + s).skipped is None
    assert track.id not in tracker.tracks


def _confirmed_track(cfg: PerceptionConfig):
    """A tracker holding one confirmed track: a 10 cm box at the origin seen from azimuth 0."""
    tracker = Tracker(cfg)
    T = camera_on_circle(0)
    box = Box((0.0, 0.0), (0.10, 0.10, 0.10), 0)
    _, depth, _ = render([box], K, T)
    dets = segment_depth(depth, K, T, cfg).detections
    for s in range(2):
        tracker.step(dets, K, T, float(s), depth)
    (track,) = tracker.tracks.values()
    assert track.confirmed and len(track.points) > cfg.min_object_points
    return tracker, track, T, depth


def test_an_occluded_track_counts_no_miss_but_a_visible_undetected_one_does():
    cfg = PerceptionConfig(confirm_hits=2, retire_misses=3)
    tracker, track, T, depth = _confirmed_track(cfg)
    wall = np.full_like(depth, 0.3)  # something 0.3 m in front of the camera covers the whole view
    for s in range(5):
        assert tracker.step([], K, T, 2.0 + s, wall).skipped is None
    assert track.id in tracker.tracks and track.misses == 0
    assert tracker.in_view(track, K, T)  # without depth there is no occlusion test: it would count misses
    empty = np.full_like(depth, np.nan)  # nothing in front, nothing detected: a real miss
    for s in range(3):
        tracker.step([], K, T, 10.0 + s, empty)
    assert track.id not in tracker.tracks


def test_a_frame_whose_support_plane_is_not_under_the_track_counts_no_miss():
    cfg = PerceptionConfig(confirm_hits=2, retire_misses=3)
    tracker, track, T, depth = _confirmed_track(cfg)
    table = np.array([0.0, 0.0, 1.0, -0.005])  # the box stands on it (within the tolerance)
    tracker.step(segment_depth(depth, K, T, cfg).detections, K, T, 1.5, depth, table)  # found on the table
    empty = np.full_like(depth, np.nan)
    tilt = np.radians(8.0)
    through_foot = np.array([np.sin(tilt), 0.0, np.cos(tilt), 0.0])  # a wrong fit through the box's foot
    above = through_foot.copy()
    above[3] = -above[:3] @ [0.3, 0.0, 0.0]  # through the table 30 cm away, 4 cm above the box's foot
    floor = np.array([0.0, 0.0, 1.0, 0.75])  # 75 cm below the table
    for s, plane in enumerate((through_foot, above, floor, through_foot, above)):
        assert tracker.step([], K, T, 2.0 + s, empty, plane).skipped is None
    assert track.id in tracker.tracks and track.misses == 0
    for s in range(3):
        tracker.step([], K, T, 10.0 + s, empty, table)
    assert track.id not in tracker.tracks
    assert Tracker(dataclasses.replace(cfg, miss_support_tolerance_m=0.0)).on_support(track, floor)


def test_a_well_found_track_whose_points_all_lie_in_the_noise_band_counts_no_miss():
    # a support tolerance that takes both planes below as under the box, so only the noise band decides
    cfg = PerceptionConfig(confirm_hits=2, retire_misses=3, miss_support_tolerance_m=0.2)
    tracker, track, T, depth = _confirmed_track(cfg)  # a 10 cm box on z = 0, found in 2 frames
    empty = np.full_like(depth, np.nan)
    table = np.array([0.0, 0.0, 1.0, 0.0])
    under_top = np.array([0.0, 0.0, 1.0, -0.097])  # a support 3 mm under the box's top: no point clears its band
    assert tracker.in_view(track, K, T, empty, table) and tracker.in_view(track, K, T, empty, under_top)
    track.hits = cfg.retire_misses  # found as often as it takes to retire it: a real object
    assert tracker.in_view(track, K, T, empty, table)
    assert not tracker.in_view(track, K, T, empty, under_top)  # segmentation could not find it: no miss
    for s in range(5):
        tracker.step([], K, T, 2.0 + s, empty, under_top)
    assert track.id in tracker.tracks and track.misses == 0
    for s in range(3):
        tracker.step([], K, T, 10.0 + s, empty, table)
    assert track.id not in tracker.tracks


def test_a_track_too_small_to_segment_from_here_counts_no_miss():
    cfg = PerceptionConfig(confirm_hits=2, retire_misses=3, pixel_stride=4)  # the cell counts below are at 4
    tracker, track, T, depth = _confirmed_track(cfg)
    far = camera_on_circle(0, radius=2.0, height=1.5)  # the box's points cover < 40 cells at stride 4
    empty = np.full_like(depth, np.nan)
    assert not tracker.in_view(track, K, far, empty) and tracker.in_view(track, K, far)
    strict = Tracker(PerceptionConfig(min_object_points=1, pixel_stride=4))
    assert strict.in_view(track, K, far, empty)  # any footprint is enough when segmentation keeps any blob
    # 54 cells at 0.8 m: above the 40 segmentation needs, but too near that limit to count a miss by default
    near_limit = camera_on_circle(0, radius=0.8, height=0.6)
    assert not tracker.in_view(track, K, near_limit, empty)
    assert Tracker(PerceptionConfig(expected_cells_factor=1.0, pixel_stride=4)).in_view(track, K, near_limit, empty)


def test_track_times_out():
    tracker = Tracker(PerceptionConfig(track_timeout_s=5.0, confirm_hits=1))
    T = camera_on_circle(0)
    tracker.step([_det([0, 0, 0.05], 0.1)], K, T, 0.0)
    far = camera_on_circle(0, target=(3.0, 0.0, 0.0))
    far[:3, 3] = T[:3, 3]
    assert tracker.step([], K, far, 4.0).retired == []
    assert len(tracker.step([], K, far, 6.0).retired) == 1


def test_merged_blob_of_touching_objects_never_updates_either_track():
    tracker = Tracker(PerceptionConfig(confirm_hits=1))
    T = camera_on_circle(0)
    tracker.step([_det([0, 0, 0.05], 0.08), _det([0, 0.1, 0.05], 0.08)], K, T, 0.0)
    before = {t.id: (t.center.copy(), t.points.copy()) for t in tracker.tracks.values()}
    step = tracker.step([_det([0, 0.05, 0.05], 0.18)], K, T, 1.0)  # the two merged by DBSCAN
    assert all(t.id not in before for t, _ in step.matches)  # a new (tentative) blob track, not an old one
    for tid, (c, p) in before.items():
        assert np.array_equal(tracker.tracks[tid].center, c) and np.array_equal(tracker.tracks[tid].points, p)


def test_border_cut_detection_keeps_the_track_alive_but_adds_no_geometry():
    tracker = Tracker(PerceptionConfig(confirm_hits=1))
    T = camera_on_circle(0)
    tracker.step([_det([0, 0, 0.05], 0.1)], K, T, 0.0)
    (track,) = tracker.tracks.values()
    points = track.points.copy()
    step = tracker.step([_det([0.02, 0, 0.05], 0.05, cut=True)], K, T, 1.0)
    assert [t.id for t, _ in step.matches] == [track.id]
    assert np.array_equal(track.points, points) and track.last_seen == 1.0
    assert not tracker.step([_det([0.5, 0, 0.05], 0.05, cut=True)], K, T, 2.0).created  # no track from a cut object


def test_camera_pose_jump_with_inconsistent_detections_is_skipped_and_tracks_untouched():
    tracker = Tracker(CFG)
    for i, az in enumerate((0, 10, 20)):
        _frame(tracker, az, float(i))
    snapshot = {t.id: (t.center.copy(), t.hits, t.misses) for t in tracker.tracks.values()}
    # The pose says the camera moved 1 m, but the image is the one from the true pose: the
    # detections land far from every track. (A wrong pose that also tilts the table is caught
    # earlier: segmentation finds no horizontal support plane.)
    T_true = camera_on_circle(30)
    _, depth, _ = render(BOXES, K, T_true)
    T_wrong = T_true.copy()
    T_wrong[:3, 3] += [0.0, 0.0, 1.0]
    step = tracker.step(segment_depth(depth, K, T_wrong, CFG).detections, K, T_wrong, 3.0)
    assert step.skipped == "camera_pose_jump"
    assert {t.id: (t.center.copy(), t.hits, t.misses) for t in tracker.tracks.values()}.keys() == snapshot.keys()
    for t in tracker.tracks.values():
        c, hits, misses = snapshot[t.id]
        assert np.array_equal(t.center, c) and t.hits == hits and t.misses == misses
    # A real large move whose detections agree with the tracks is accepted.
    step = _frame(tracker, 100, 4.0)
    assert step.skipped is None and len(step.matches) == 3 and not step.created


def _points_det(lo, hi, n=60, seed=0) -> Detection:
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    pts = lo + np.random.default_rng(seed).random((n, 3)) * (hi - lo)
    mask = np.zeros((4, 4), bool)
    mask[seed % 4, seed % 4] = True
    return Detection(mask, pts, 0.5 * (lo + hi), hi - lo, False)


def test_fragments_inside_one_tracked_box_are_joined_and_others_are_left_alone():
    box = (np.array([0.0, 0.0, 0.0]), np.array([0.2, 0.1, 0.15]))
    front = _points_det([0.0, 0.0, 0.0], [0.06, 0.1, 0.15], seed=1)
    back = _points_det([0.12, 0.0, 0.0], [0.2, 0.05, 0.15], seed=2)
    neighbour = _points_det([0.3, 0.0, 0.0], [0.4, 0.1, 0.1], seed=3)
    merged = merge_fragments([front, neighbour, back], [box], margin_m=0.02)
    assert len(merged) == 2 and merged[1] is neighbour
    joined = merged[0]
    assert len(joined.points_world) == 120 and joined.mask.sum() == 2
    np.testing.assert_allclose(joined.center - joined.extent / 2, [0.0, 0.0, 0.0])
    np.testing.assert_allclose(joined.center + joined.extent / 2, [0.2, 0.1, 0.15])
    # A piece inside two tracked boxes (overlapping neighbours) is not given to either.
    other = (np.array([0.1, -0.1, 0.0]), np.array([0.25, 0.06, 0.15]))
    assert len(merge_fragments([front, back], [box, other], margin_m=0.02)) == 2
    assert merge_fragments([front], [box], margin_m=0.02) == [front]


def test_an_object_split_in_two_by_clustering_updates_its_track_and_makes_no_new_one():
    cfg = PerceptionConfig(confirm_hits=2)
    tracker, track, T, _ = _confirmed_track(cfg)
    lo, hi = track.points.min(axis=0), track.points.max(axis=0)
    mid = 0.5 * (lo[0] + hi[0])
    halves = [_points_det(lo, [mid - 0.01, hi[1], hi[2]], seed=4), _points_det([mid + 0.01, lo[1], lo[2]], hi, seed=5)]
    step = tracker.step(halves, K, T, 5.0)
    assert step.created == [] and len(step.matches) == 1 and step.matches[0][0] is track
    assert len(step.matches[0][1].points_world) == 120
    unmerged = Tracker(dataclasses.replace(cfg, merge_fragments=False))
    unmerged.tracks = {track.id: track}
    assert len(unmerged.step(halves, K, T, 6.0).created) == 1


def _shell_det(radius: float, z0: float, z1: float, center=(0.0, 0.0), seed: int = 0) -> Detection:
    """Points of the half of an upright cylinder that a camera on +x sees; the box reaches down to the table."""
    a = np.radians(np.arange(-90.0, 90.1, 4.0))
    z = np.arange(z0, z1 + 1e-9, 0.005)
    A, Z = np.meshgrid(a, z)
    pts = np.stack([center[0] + radius * np.cos(A), center[1] + radius * np.sin(A), Z], axis=-1).reshape(-1, 3)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    lo[2] = 0.0
    mask = np.zeros((4, 4), bool)
    mask[seed % 4, seed % 4] = True
    return Detection(mask, pts, 0.5 * (lo + hi), hi - lo, False)


def test_footprint_overlap_is_the_share_of_the_smaller_hull_the_other_covers():
    base, shade = _shell_det(0.03, 0.0, 0.04).points_world, _shell_det(0.06, 0.08, 0.13).points_world
    assert footprint_overlap(base, shade, 0.005) > 0.9  # seen from one side, the base's half lies in the shade's
    beside = _shell_det(0.03, 0.0, 0.04, center=(0.0, 0.2)).points_world
    assert footprint_overlap(base, beside, 0.005) == 0.0
    line = np.array([[0.0, 0.0, 0.0], [0.01, 0.0, 0.0], [0.02, 0.0, 0.0]])
    assert footprint_overlap(line, shade, 0.005) == 0.0


def test_two_clusters_stacked_on_one_footprint_make_one_track():
    """A lamp's base and shade, split by clustering in the frame that makes the tracks, are one object."""
    tracker = Tracker(PerceptionConfig(confirm_hits=2))
    T = camera_on_circle(0)
    base, shade = _shell_det(0.03, 0.0, 0.04, seed=1), _shell_det(0.06, 0.08, 0.13, seed=2)
    step = tracker.step([base, shade], K, T, 0.0)
    (track,) = tracker.tracks.values()
    assert [t.id for t in step.created] == [track.id] == [1] and step.retired == []
    assert [t for t, _ in step.matches] == [track]
    np.testing.assert_allclose(track.center[2] + track.extent[2] / 2, 0.13, atol=0.003)  # the shade's top
    assert len(track.buffer) == 0  # both were pieces: their silhouettes give no view
    # the whole lamp seen next matches that track; split again later, it still makes no new track
    whole = _points_det([-0.06, -0.06, 0.0], [0.06, 0.06, 0.13], n=400, seed=3)
    assert tracker.step([whole], K, T, 1.0).created == [] and track.confirmed
    step = tracker.step([_shell_det(0.03, 0.0, 0.04, seed=1), _shell_det(0.06, 0.08, 0.13, seed=2)], K, T, 2.0)
    assert step.created == [] and list(tracker.tracks) == [track.id]


def test_a_stacked_fragment_track_joins_the_older_whole_one_which_keeps_its_views():
    tracker = Tracker(PerceptionConfig(confirm_hits=1, merge_fragments=False))
    T = camera_on_circle(0)
    tracker.step([_points_det([-0.06, -0.06, 0.0], [0.06, 0.06, 0.13], n=400, seed=3)], K, T, 0.0)
    (whole,) = tracker.tracks.values()
    whole.buffer.views.append("a view")  # stands for a View: the merge must keep it
    points = whole.points.copy()
    piece = _points_det([-0.015, -0.015, 0.10], [0.015, 0.015, 0.13], seed=2)  # too small to match: a new track
    step = tracker.step([piece], K, T, 1.0)
    assert list(tracker.tracks) == [whole.id] and whole.buffer.views == ["a view"]
    assert np.array_equal(whole.points, points)  # a piece of what it has seen whole adds nothing
    assert step.created == [] and step.retired == []  # the fragment's track never came out of the step
    # a piece at the edge of the box may be a neighbour the box reaches over: it keeps its own track
    edge = _points_det([0.025, 0.025, 0.0], [0.055, 0.055, 0.04], seed=4)
    assert len(tracker.step([edge], K, T, 2.0).created) == 1 and len(tracker.tracks) == 2


def test_neighbours_whose_boxes_overlap_but_footprints_do_not_stay_two_tracks():
    """Two long objects side by side along the diagonal: world-axis boxes overlap, their footprints do not."""
    tracker = Tracker(PerceptionConfig(confirm_hits=1))
    T = camera_on_circle(0)
    s = np.linspace(-0.1, 0.1, 60)
    dets = []
    for offset in (-0.025, 0.025):
        xy = np.stack([s + offset, s - offset], axis=1)
        pts = np.concatenate([np.column_stack([xy, np.full(len(s), z)]) for z in (0.0, 0.02, 0.04)])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        dets.append(Detection(np.ones((2, 2), bool), pts, 0.5 * (lo + hi), hi - lo, False))
    assert tracker.step(dets, K, T, 0.0).created and len(tracker.tracks) == 2


def test_a_younger_whole_track_over_an_older_piece_gives_it_its_geometry_views_and_detection():
    """The base seen first (its track confirmed), the whole lamp later (too big for the base's gate)."""
    tracker = Tracker(PerceptionConfig(confirm_hits=1, merge_fragments=False))
    T = camera_on_circle(0)
    tracker.step([_shell_det(0.03, 0.0, 0.04, seed=1)], K, T, 0.0)
    (base,) = tracker.tracks.values()
    base.estimate = "the base's estimate"
    whole = _points_det([-0.06, -0.06, 0.0], [0.06, 0.06, 0.13], n=400, seed=3)
    step = tracker.step([whole], K, T, 1.0)
    assert list(tracker.tracks) == [base.id] and step.created == [] and step.retired == []
    assert step.matches == [(base, whole)]  # the pipeline makes this frame's view of the whole lamp base's
    assert base.estimate is None  # estimated again, from views of the whole lamp
    np.testing.assert_allclose(base.center + base.extent / 2, [0.06, 0.06, 0.13], atol=0.005)


def test_a_mugs_far_wall_seen_apart_from_the_whole_mug_joins_its_track():
    """From far, a mug's far wall (its inside) is a cluster of its own beside the whole mug's: one track."""
    tracker = Tracker(PerceptionConfig(merge_fragments=False))
    T = camera_on_circle(0)
    tracker.step([_points_det([-0.05, -0.05, 0.0], [0.05, 0.05, 0.1], n=400, seed=3)], K, T, 0.0)
    (mug,) = tracker.tracks.values()
    far_wall = _points_det([-0.05, 0.01, 0.0], [0.05, 0.05, 0.095], seed=5)  # 3 cm off the mug's centre
    step = tracker.step([_points_det([-0.05, -0.05, 0.0], [0.05, 0.05, 0.1], n=400, seed=6), far_wall], K, T, 1.0)
    assert list(tracker.tracks) == [mug.id] and step.created == [] and step.retired == []
