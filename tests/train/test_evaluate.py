"""Evaluation: result JSON schema (DESIGN.md "Result files") on a tiny cache, markdown table, CLI errors."""

from __future__ import annotations

import json

import pytest
import torch

from vtr_perception.cli import main
from vtr_perception.models import Reconstructor, ReconstructorConfig, save_checkpoint

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from vtr_perception.data.cache import build_cache

    root = tmp_path_factory.mktemp("eval")
    cache = root / "cache"
    build_cache(
        "pybullet",
        cache,
        size=32,
        resolution=16,
        views={"aligned": 3, "hemisphere": 2, "sphere": 2},
        object_ids=[f"{i:03d}" for i in range(10)],
        workers=1,
        progress=False,
    )
    model = Reconstructor(ReconstructorConfig(image_size=32, resolution=16))
    path = save_checkpoint(root / "m.pt", model, metadata={"train_config": {"caches": [str(cache)]}})
    return cache, path


def test_eval_json_has_the_design_schema(tiny, tmp_path) -> None:
    cache, model = tiny
    out = tmp_path / "eval.json"
    code = main(
        [
            "eval",
            "--model",
            str(model),
            "--source",
            str(cache),
            "--split",
            "all",
            "--view-sets",
            "aligned,sphere",
            "--num-views",
            "1,2",
            "--json",
            str(out),
            "--surface-points",
            "200",
            "--clusters",
            "3",
            "--no-progress",
        ]
    )
    assert code == 0
    result = json.loads(out.read_text())
    assert {"model", "source", "split", "results"} <= set(result)
    methods = {"model", "clustering", "retrieval", "oracle_nn", "mean_shape"}
    assert {r["method"] for r in result["results"]} == methods
    assert len(result["results"]) == 2 * 2 * len(methods)
    for row in result["results"]:
        assert {"method", "view_set", "num_views", "iou", "iou_best", "fscore", "pose_deg", "objects"} <= set(row)
        assert 0.0 <= row["iou"] <= row["iou_best"] <= 1.0 and row["objects"] == 10
        assert row["pose_deg"] is None if row["method"] != "model" else isinstance(row["pose_deg"], float)
        assert set(row["per_category"]) == {"random"}
    oracle = [r for r in result["results"] if r["method"] == "oracle_nn"]
    assert all(r["normalized"] == pytest.approx(1.0) for r in oracle)
    model_rows = [r for r in result["results"] if r["method"] == "model"]
    assert all("error_spearman" in r for r in model_rows)
    table = out.with_suffix(".md").read_text()
    assert "| oracle_nn | sphere | 2 |" in table


def test_eval_bad_arguments_are_one_line_errors(tiny, capsys) -> None:
    cache, model = tiny
    assert main(["eval", "--model", str(model), "--source", str(cache), "--view-sets", "upside"]) == 2
    assert "--view-sets" in capsys.readouterr().err
    assert main(["eval", "--model", str(cache / "none.pt"), "--source", str(cache)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_vtr_fine_tune_names_its_base_training_caches() -> None:
    from vtr_perception.train.evaluate import recorded_train_caches

    base = {"train_config": {"caches": ["a", "b"]}}
    assert recorded_train_caches(base) == ["a", "b"]
    assert recorded_train_caches({"vtr": {"caches": ["a"]}, "base_metadata": base}) == ["a", "b"]
    assert recorded_train_caches({"vtr": {}}) == []


def test_eval_without_baselines_scores_the_model_alone(tiny, tmp_path) -> None:
    cache, model = tiny
    out = tmp_path / "model_only.json"
    argv = ["eval", "--model", str(model), "--source", str(cache), "--split", "all", "--view-sets", "aligned",
            "--num-views", "2", "--no-baselines", "--surface-points", "100", "--json", str(out),
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    result = json.loads(out.read_text())
    assert [r["method"] for r in result["results"]] == ["model"] and result["baselines"] is None
    assert result["results"][0]["normalized"] is None and 0.0 <= result["results"][0]["iou"] <= 1.0


def test_a_missing_training_cache_names_its_build_command(tmp_path) -> None:
    from vtr_perception.data.cache import standard_build_command
    from vtr_perception.train.evaluate import training_baselines

    with pytest.raises(ValueError, match="vtr-perception data build --source SPEC --out"):
        training_baselines([str(tmp_path / "mine")], clusters=2, seed=0, progress=False)
    assert (
        standard_build_command("C/pybullet64")
        == "vtr-perception data build --source pybullet --limit 400 --out C/pybullet64"
    )
    assert (
        standard_build_command("C/procedural64")
        == "vtr-perception data build --source procedural:100 --out C/procedural64"
    )
