"""benchmarks/view_oracle.py: trying a view and undoing it, and the summary of what the views tried gave."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tqdm", reason="the benchmarks need the development set (make setup), not the run-time one")

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def view_oracle():
    return _load("view_oracle")


def _tried(ious, scores):
    return [{"rank": i, "iou_after": v, "score": s, "elevation_deg": 20.0 + i, "distance_m": 0.5,
             "nearest_taken_deg": 30.0} for i, (v, s) in enumerate(zip(ious, scores, strict=True))]  # fmt: skip


def test_summary_measures_the_planner_choice_against_the_other_candidates(view_oracle):
    states = [
        # the planner's choice (first) is the best of four, and IoU rises with the score
        {"step": 1, "iou_before": 0.3, "tried": _tried([0.6, 0.5, 0.4, 0.35], [4.0, 3.0, 2.0, 1.0])},
        # the planner's choice is the worst, IoU falls as the score rises
        {"step": 1, "iou_before": 0.5, "tried": _tried([0.4, 0.5, 0.55, 0.6], [4.0, 3.0, 2.0, 1.0])},
    ]
    summary = view_oracle.summarise([[0.3, 0.6], [0.5, 0.6]], states)
    assert summary["oracle_iou_per_step"] == [0.4, 0.6]
    (step,) = summary["per_step"]
    assert step["step"] == 2 and step["states"] == 2
    assert step["gain_planner_choice"] == pytest.approx(np.mean([0.3, -0.1]), abs=1e-4)
    alternatives = [(0.5 + 0.4 + 0.35) / 3 - 0.3, (0.5 + 0.55 + 0.6) / 3 - 0.5]
    assert step["gain_alternative"] == pytest.approx(np.mean(alternatives), abs=1e-4)
    assert step["gain_best"] == pytest.approx(np.mean([0.3, 0.1]), abs=1e-4)
    assert step["share_alternatives_at_or_below_planner_choice"] == 0.5
    assert summary["share_alternatives_at_or_below_planner_choice"]["mean"] == 0.5
    rho = summary["spearman_within_state"]
    assert rho["score"]["mean"] == pytest.approx(0.0) and rho["score"]["n"] == 2
    assert rho["elevation_deg"]["mean"] == pytest.approx(0.0)
    assert rho["distance_m"]["n"] == 0  # the same for every candidate: no correlation to measure


def test_the_planner_choice_tried_is_the_view_the_nbv_loop_takes(view_oracle):
    """With fusion and depth noise on, the first candidate tried is the loop's next view: same IoU after it."""
    from vtr_perception.infer import load_backend
    from vtr_perception.sim.camera import SimCameraConfig
    from vtr_perception.sim.loop import run_scene
    from vtr_perception.sim.scenes import make_tabletop_scene

    scene = make_tabletop_scene("pybullet", num_objects=1, split="val", seed=3)
    backend = load_backend("onnxruntime")
    config = view_oracle.planner_config([])
    perception = view_oracle.perception_config([])
    camera = SimCameraConfig(depth_noise="realsense_d435")
    assert perception.evidence_fusion
    paths, states = view_oracle.oracle_scene(scene, backend, config, seed=3, steps=2, alternatives=2,
                                             perception=perception, camera=camera)  # fmt: skip
    (nbv,) = run_scene(scene, backend, config, "nbv", seed=3, steps=2, perception=perception, camera=camera)
    (state,) = states
    assert [t["rank"] for t in state["tried"]][0] == 0 and len(state["tried"]) == 3
    assert state["iou_before"] == pytest.approx(nbv[0])
    assert state["tried"][0]["iou_after"] == pytest.approx(nbv[1])
    assert paths[0][1] == max(t["iou_after"] for t in state["tried"])
