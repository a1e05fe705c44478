"""sim/loop.py: the demo's loop in one process, scored against the truth; trying a view and undoing it."""

import numpy as np

from vtr_perception.infer import load_backend
from vtr_perception.sim.loop import FRAMES_PER_VIEW, SimulatedLoop, run_scene
from vtr_perception.sim.object_views import initial_view
from vtr_perception.sim.scenes import make_tabletop_scene


def test_a_view_tried_and_undone_leaves_the_loop_as_it_was():
    scene = make_tabletop_scene("pybullet", num_objects=2, split="val", seed=1)
    loop = SimulatedLoop(scene, load_backend("onnxruntime"))
    obj = scene.objects[0]
    loop.pipeline.reset()
    loop.look(initial_view(obj, 2, 0.5), obj)
    assert loop.views_of(obj) == 1
    iou = loop.iou_of(obj)
    before = loop.snapshot()

    other = initial_view(obj, 7, 0.6)
    loop.look(other, obj)
    assert loop.views_of(obj) == 2
    tried = loop.iou_of(obj)
    assert tried != iou

    loop.restore(before)
    assert loop.views_of(obj) == 1
    assert loop.iou_of(obj) == iou
    np.testing.assert_array_equal(loop.pose, initial_view(obj, 2, 0.5))
    loop.look(other, obj)  # the same view again from the restored state gives the same reconstruction
    assert loop.iou_of(obj) == tried


def test_run_scene_scores_every_object_after_every_view():
    scene = make_tabletop_scene("pybullet", num_objects=2, split="val", seed=1)
    backend = load_backend("onnxruntime")
    rows = run_scene(scene, backend, SimulatedLoop(scene, backend).planner.config, "random", seed=1, steps=2)
    assert len(rows) == 2 and all(len(r) == 2 for r in rows)
    assert all(0.0 < v <= 1.0 for r in rows for v in r)  # every object found and reconstructed


def test_a_view_is_taken_within_the_frames_the_demo_waits():
    scene = make_tabletop_scene("pybullet", num_objects=1, split="val", seed=2)
    loop = SimulatedLoop(scene, load_backend("onnxruntime"), look_at_start=False)
    assert loop.stamp == 0.0  # no frame rendered yet
    obj = scene.objects[0]
    loop.look(initial_view(obj, 3, 0.5), obj)
    assert loop.views_of(obj) == 1
    assert 0 < loop.stamp <= FRAMES_PER_VIEW * 0.25
