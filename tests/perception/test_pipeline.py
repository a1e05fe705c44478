import dataclasses

import numpy as np
import pytest

from tests.perception.doubles import FixedShapeBackend
from tests.perception.scenes import Box, camera_on_circle, render
from vtr_perception.geometry.cameras import Intrinsics
from vtr_perception.perception.config import PerceptionConfig
from vtr_perception.perception.pipeline import REFUSION_INTERVAL_S, PerceptionPipeline

K = Intrinsics.from_fov(320, 240, 60)
BOX = Box((0.03, -0.02), (0.12, 0.06, 0.09), 35)


def _pipeline(**overrides):
    return PerceptionPipeline(PerceptionConfig(pixel_stride=2, **overrides), FixedShapeBackend(BOX.occupancy(16)))


def _feed(pipe, azimuths, start=0.0, **kw):
    result = None
    for i, az in enumerate(azimuths):
        T = camera_on_circle(az)
        rgb, depth, ids = render([BOX], K, T)
        result = pipe.process(rgb, depth, K, T, start + i, **kw)
    return result


def _state(pipe):
    return {t.id: (t.center.copy(), t.points.copy(), len(t.buffer), t.hits) for t in pipe.tracker.tracks.values()}


def _same(a, b):
    return a.keys() == b.keys() and all(
        np.array_equal(a[k][0], b[k][0]) and np.array_equal(a[k][1], b[k][1]) and a[k][2:] == b[k][2:] for k in a
    )


def test_config_fields_all_have_help():
    for f in dataclasses.fields(PerceptionConfig):
        assert f.metadata.get("help"), f.name
    with pytest.raises(ValueError, match="cluster_eps_m"):
        PerceptionConfig(cluster_eps_m=0.0)


def test_reconstructs_only_when_a_new_useful_view_arrives():
    pipe = _pipeline(evidence_fusion=False)  # with fusion, new depth alone updates the estimate (test_evidence.py)
    first = _feed(pipe, [0, 20])
    assert first.updated and first.timings["pipeline"] > 0
    calls = len(pipe.backend.calls)
    same = _feed(pipe, [21, 22, 23], start=2.0)  # near-duplicate viewpoints
    assert same.updated == [] and len(pipe.backend.calls) == calls
    assert len(same.estimates) == 1


def test_a_frame_that_may_not_reconstruct_keeps_its_view_for_the_next_frame():
    pipe = _pipeline(evidence_fusion=False)
    _feed(pipe, [0])
    calls = len(pipe.backend.calls)
    held = _feed(pipe, [20], start=1.0, reconstruct=False)  # a new view: due, but this frame may not run the network
    assert held.updated == [] and len(pipe.backend.calls) == calls and held.timings["network"] == 0.0
    assert len(next(iter(pipe.tracker.tracks.values())).buffer) == 2  # the view was kept
    later = _feed(pipe, [20.5], start=2.0)  # a near duplicate, no new view: the waiting one is reconstructed now
    assert later.updated and len(pipe.backend.calls) == calls + 1


@pytest.mark.parametrize("limit", [1, 0])
def test_reconstructions_per_frame_are_bounded_and_every_object_gets_its_turn(limit):
    boxes = [Box((-0.12, -0.05), (0.08, 0.06, 0.09), 10), BOX, Box((0.16, 0.08), (0.07, 0.07, 0.11), 60)]
    pipe = _pipeline(max_reconstructions_per_frame=limit, confirm_hits=1)
    per_frame = []
    for i, az in enumerate([0, 25, 50, 75]):
        T = camera_on_circle(az)
        rgb, depth, _ = render(boxes, K, T)
        calls = len(pipe.backend.calls)  # network runs (new depth alone also re-fuses every estimate)
        pipe.process(rgb, depth, K, T, float(i))
        per_frame.append(len(pipe.backend.calls) - calls)
    assert len(pipe.estimates()) == 3, per_frame
    if limit == 1:
        assert max(per_frame) == 1
    else:
        assert max(per_frame) == 3


@pytest.mark.parametrize("bad", ["nan_pose", "non_rigid_pose", "nan_depth", "inf_depth", "zero_depth"])
def test_bad_frames_are_skipped_counted_and_leave_tracks_untouched(bad):
    pipe = _pipeline()
    _feed(pipe, [0, 20, 40])
    before = _state(pipe)
    estimate = next(iter(pipe.estimates().values()))
    T = camera_on_circle(60)
    rgb, depth, _ = render([BOX], K, T)
    if bad == "nan_pose":
        T = T.copy()
        T[0, 3] = np.nan
    elif bad == "non_rigid_pose":
        T = T.copy()
        T[:3, :3] *= 2.0
    else:
        depth = np.full_like(depth, {"nan_depth": np.nan, "inf_depth": np.inf, "zero_depth": 0.0}[bad])
    result = pipe.process(rgb, depth, K, T, 10.0)
    assert result.skipped is not None and result.updated == []
    assert pipe.frames_skipped == 1 and sum(pipe.skip_counts.values()) == 1
    assert _same(before, _state(pipe))
    assert next(iter(pipe.estimates().values())) is estimate and estimate.frames_skipped == 1
    assert _feed(pipe, [60], start=11.0).skipped is None  # and the pipeline carries on


def test_partly_invalid_depth_still_updates_without_corruption():
    pipe = _pipeline()
    _feed(pipe, [0, 20])
    T = camera_on_circle(45)
    rgb, depth, _ = render([BOX], K, T)
    depth[::3, ::2] = np.nan
    depth[1::5] = 0.0
    result = pipe.process(rgb, depth, K, T, 5.0)
    assert result.skipped is None
    (est,) = result.estimates.values()
    assert np.linalg.norm(est.position - BOX.center) < 0.01


def test_camera_pose_jump_frame_is_skipped():
    pipe = _pipeline()
    _feed(pipe, [0, 20, 40])
    before = _state(pipe)
    T = camera_on_circle(60)
    rgb, depth, _ = render([BOX], K, T)
    T_wrong = T.copy()
    T_wrong[:3, 3] += [0.8, 0.0, 0.0]
    result = pipe.process(rgb, depth, K, T_wrong, 5.0)
    assert result.skipped == "camera_pose_jump" and pipe.skip_counts["camera_pose_jump"] == 1
    assert _same(before, _state(pipe))


def test_border_cut_object_adds_no_view():
    pipe = _pipeline()
    _feed(pipe, [0, 20])
    (track,) = pipe.tracker.tracks.values()
    views = len(track.buffer)
    from vtr_perception.geometry.cameras import look_at

    T = look_at(camera_on_circle(80)[:3, 3], np.array([0.0, 0.0, 0.05]))
    rgb, depth, ids = render([BOX], K, T)
    # Shift the frame so the object touches the left border (a crop of the scene).
    shift = int(np.nonzero(ids == 2)[1].min())
    rgb, depth = np.roll(rgb, -shift - 5, axis=1), np.roll(depth, -shift - 5, axis=1)
    K_shift = Intrinsics(K.fx, K.fy, K.cx - shift - 5, K.cy, K.width, K.height)
    result = pipe.process(rgb, depth, K_shift, T, 5.0)
    assert result.skipped is None and len(track.buffer) == views
    assert pipe.event_counts["border_cut_view_dropped"] == 1


def test_empty_instance_mask_and_touching_objects_do_not_crash():
    pipe = _pipeline(ignore_mask_ids=(0, 1))
    T = camera_on_circle(0)
    rgb, depth, ids = render([BOX], K, T)
    result = pipe.process(rgb, depth, K, T, 0.0, mask=np.zeros_like(ids))
    assert result.skipped is None and result.updated == [] and result.estimates == {}
    touching = [Box((0.0, 0.0), (0.08, 0.08, 0.1)), Box((0.08, 0.0), (0.08, 0.08, 0.06))]
    pipe = _pipeline()
    for i, az in enumerate((0, 20, 40)):
        T = camera_on_circle(az)
        rgb, depth, _ = render(touching, K, T)
        assert pipe.process(rgb, depth, K, T, float(i)).skipped is None
    assert len(pipe.tracker.tracks) == 1  # merged into one object, as DBSCAN sees it


def test_rgb_only_with_a_known_object_size():
    corners = np.array([[sx, sy] for sx in (-1, 1) for sy in (-1, 1)]) * np.array(BOX.size[:2]) / 2 @ BOX.R[:2, :2].T
    size = float(np.ptp(corners, axis=0).max())
    pipe = _pipeline(ignore_mask_ids=(0, 1), known_object_size_m=size)
    result = None
    for i, az in enumerate(range(0, 100, 20)):
        T = camera_on_circle(az)
        rgb, _, ids = render([BOX], K, T)
        result = pipe.process(rgb, None, K, T, float(i), mask=ids)
    assert result.skipped is None
    (est,) = result.estimates.values()
    # Degraded but usable: the centre is triangulated from mask-centre rays, the scale is the prior.
    print("rgb-only position error (m)", np.linalg.norm(est.position - BOX.center))
    assert np.linalg.norm(est.position - BOX.center) < 0.02
    assert est.scale == pytest.approx(size, rel=0.35)


def test_rgb_only_without_a_size_prior_or_mask_is_skipped_with_a_reason():
    pipe = _pipeline(ignore_mask_ids=(0, 1))
    T = camera_on_circle(0)
    rgb, _, ids = render([BOX], K, T)
    assert pipe.process(rgb, None, K, T, 0.0, mask=ids).skipped == "rgb_only_needs_known_object_size"
    assert pipe.process(rgb, None, K, T, 1.0).skipped == "no_depth_and_no_mask"
    assert pipe.skip_counts == {"rgb_only_needs_known_object_size": 1, "no_depth_and_no_mask": 1}


def test_wrong_image_shape_is_a_clear_error():
    pipe = _pipeline()
    with pytest.raises(ValueError, match="rgb must be"):
        pipe.process(np.zeros((10, 10, 3), np.uint8), None, K, np.eye(4), 0.0)


def test_non_finite_backend_output_keeps_the_previous_estimate():
    pipe = _pipeline(evidence_fusion=False)  # with fusion the new depth re-fuses the previous (good) answer
    _feed(pipe, [0, 20])
    good = next(iter(pipe.estimates().values()))
    pipe.backend.occupancy = np.full_like(pipe.backend.occupancy, np.nan)
    result = _feed(pipe, [45], start=2.0)
    assert result.skipped is None and result.updated == []
    assert next(iter(result.estimates.values())) is good
    assert pipe.event_counts["reconstruction_rejected_non_finite"] == 1


def test_a_view_a_neighbour_partly_hides_adds_no_view():
    az = 40.0
    a = np.radians(az)
    # A low block between the camera and BOX, hiding the lower part of BOX's silhouette.
    blocker = Box((0.03 + 0.13 * np.cos(a), -0.02 + 0.13 * np.sin(a)), (0.06, 0.06, 0.08), az, (40, 160, 60))
    T = camera_on_circle(az)
    rgb, depth, _ = render([BOX, blocker], K, T)
    for threshold, views_added in [(0.9, 0), (0.0, 1)]:
        pipe = _pipeline(view_min_visible_fraction=threshold)
        _feed(pipe, [0, 20])
        track = min(pipe.tracker.tracks.values(), key=lambda t: np.linalg.norm(t.center[:2] - BOX.center[:2]))
        views = len(track.buffer)
        assert pipe.process(rgb, depth, K, T, 5.0).skipped is None
        assert len(track.buffer) == views + views_added
        assert pipe.event_counts["occluded_view_dropped"] == 1 - views_added


def test_the_support_plane_is_carried_to_the_next_frame_and_dropped_on_reset_and_pose_jumps():
    pipe = _pipeline()
    assert pipe.plane_hint is None
    _feed(pipe, [0])
    first = pipe.plane_hint
    assert first is not None and first[2] > 0.999 and abs(first[3]) < 0.003  # the table top, z = 0
    _feed(pipe, [5], start=1.0)  # refitted from the hint: still the table
    assert pipe.plane_hint is not None and abs(pipe.plane_hint[3]) < 0.003
    T = camera_on_circle(10)
    rgb, depth, _ = render([BOX], K, T)
    T_wrong = T.copy()
    T_wrong[:3, 3] += [0.0, 0.0, 0.5]  # a jump: this frame's plane is 0.5 m off and must not become the hint
    pipe.process(rgb, depth, K, T_wrong, 2.0)
    assert abs(pipe.plane_hint[3]) < 0.003
    pipe.reset()
    assert pipe.plane_hint is None


def test_new_evidence_without_a_new_view_is_fused_at_most_once_per_refusion_interval():
    pipe = _pipeline()
    _feed(pipe, [0, 20, 40, 60])
    (est,) = pipe.estimates().values()
    calls, last = len(pipe.backend.calls), est.last_update
    soon = _feed(pipe, [61], start=last + 0.3 * REFUSION_INTERVAL_S)  # near-duplicate view, new depth
    assert soon.updated == [] and pipe.estimates()[est.id] is est
    later = _feed(pipe, [62], start=last + 1.2 * REFUSION_INTERVAL_S)  # the evidence of both frames is fused
    assert later.updated == [est.id] and len(pipe.backend.calls) == calls
    assert pipe.event_counts["evidence_refusions"] == 1
