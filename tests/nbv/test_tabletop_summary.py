"""benchmarks/tabletop.py's summary: the demo's criteria per object and per scene."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("tqdm", reason="the benchmarks need the development set (make setup), not the run-time one")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tabletop():
    spec = importlib.util.spec_from_file_location("tabletop_benchmark", ROOT / "benchmarks" / "tabletop.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scene_shares_judge_each_scene_as_the_demo_does(tabletop):
    # two scenes of two objects, IoU after views 1 and 2
    nbv = [
        [0.2, 0.5],
        [0.3, 0.4],  # scene 1: both rise; NBV above random for both
        [0.4, 0.6],
        [0.5, 0.45],
    ]  # scene 2: the second object falls; NBV below random for it, mean above
    random = [[0.2, 0.4], [0.3, 0.35],
              [0.4, 0.5], [0.5, 0.5]]  # fmt: skip
    summary = tabletop.summarise({"nbv": nbv, "random": random}, objects_per_scene=2)["nbv_vs_random"]
    assert summary["share_last_at_or_above_random"] == 0.75
    scenes = summary["scenes"]
    assert scenes["share_last_above_first_for_every_object"] == 0.5
    assert scenes["share_nbv_at_or_above_random_for_every_object"] == 0.5
    assert scenes["share_nbv_mean_at_or_above_random_mean"] == 1.0
    assert scenes["share_demo_criteria_per_object"] == 0.5
    assert scenes["share_demo_criteria_scene_mean"] == 0.5
    assert "scenes" not in tabletop.summarise({"nbv": nbv, "random": random})["nbv_vs_random"]


def test_the_shipped_error_head_planner_is_compared_when_it_runs_alone(tabletop):
    nbv_today, random = [[0.2, 0.5], [0.3, 0.3]], [[0.2, 0.4], [0.3, 0.35]]
    summary = tabletop.summarise({"nbv_today": nbv_today, "random": random})["nbv_vs_random"]
    assert summary["planner"] == "nbv_today" and summary["share_last_at_or_above_random"] == 0.5
    assert tabletop.summarise({"nbv": [[0.1, 0.2]], "nbv_today": [[0.1, 0.9]], "random": [[0.1, 0.5]]})[
        "nbv_vs_random"]["planner"] == "nbv"  # fmt: skip
