"""MarkerScene applies arrays like rviz; MarkerKeyframes sends changes, and the last arrays rebuild the scene."""

from __future__ import annotations

import pytest

pytest.importorskip("visualization_msgs.msg", exc_type=ImportError, reason="ROS 2 message packages not installed")

from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from vtr_perception.ros import conversions as conv  # noqa: E402
from vtr_perception.ros.marker_scene import MarkerKeyframes, MarkerScene  # noqa: E402

pytestmark = pytest.mark.ros


def label(i: int, text: str, ns: str = "labels") -> Marker:
    return conv.text_marker(text, (0.0, 0.0, 0.0), marker_id=i, ns=ns, frame_id="world")


def test_scene_applies_add_modify_delete_and_delete_all():
    scene = MarkerScene()
    scene.apply(MarkerArray(markers=[label(1, "a"), label(2, "b"), label(1, "x", ns="other")]))
    scene.apply(MarkerArray(markers=[label(1, "a2")]))  # same (ns, id): replaced
    assert [m.text for m in scene.in_namespace("labels")] == ["a2", "b"]
    scene.apply(MarkerArray(markers=conv.delete_markers([2], ns="labels")))
    assert [m.id for m in scene.in_namespace("labels")] == [1]
    scene.apply(MarkerArray(markers=[conv.delete_all_markers(ns="labels")]))
    assert scene.in_namespace("labels") == [] and len(scene.in_namespace("other")) == 1
    scene.apply(MarkerArray(markers=[conv.delete_all_markers()]))
    assert scene.markers == {}


def test_arrays_carry_changes_and_the_last_every_arrays_rebuild_the_scene():
    every = 4
    keyframes = MarkerKeyframes(every)
    estimates = {i: object() for i in range(3)}
    published: list[MarkerArray] = []
    live = MarkerScene()  # a subscriber from the start
    for step in range(23):
        changed = {0} if step % 5 else {1}  # one object changes per update, object 0 most often, 2 never
        retired = []
        if step == 10:
            retired = [2]
            changed.discard(2)
            del estimates[2]
        if step == 15:
            changed.add(7)  # a new object
        for i in changed:
            estimates[i] = object()
        ids, keyframe = keyframes.select(estimates)
        keyframes.retire(retired)
        assert keyframe == (step % every == 0)
        assert ids == (sorted(estimates) if keyframe else sorted(changed))
        array = MarkerArray(markers=[label(i, f"{i}@{step}") for i in ids] + conv.delete_markers(retired, ns="labels"))
        published.append(array)
        keyframes.published()
        live.apply(array)

        late = MarkerScene()  # joins now: gets the last `every` arrays (transient local, depth every)
        for old in published[-every:]:
            late.apply(old)
        assert sorted(m.id for m in late.in_namespace("labels")) == sorted(estimates), step
        assert late.markers.keys() == live.markers.keys()
        assert all(late.markers[k].text == live.markers[k].text for k in live.markers)


def test_keyframe_interval_must_be_positive():
    with pytest.raises(ValueError, match=">= 1"):
        MarkerKeyframes(0)
