import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from vtr_perception.nbv.object_grid import ObjectGrid
from vtr_perception.perception.reference_frame import Cube, resample_cube, yaw_matrix
from vtr_perception.sim import loop as sim_loop
from vtr_perception.sim.loop import demo_planner_config, shipped_perception_config
from vtr_perception.sim.scenes import make_tabletop_scene
from vtr_perception.sim.truth import true_grid, truth_in_cube
from vtr_perception.train.loop_crops import (
    QUARTER_TURNS,
    LoopCropConfig,
    LoopCropDataset,
    LoopCropSamples,
    SameViewCountBatches,
    collect_scene,
    write_loop_crops,
)

CONFIG = LoopCropConfig(split="val", first_seed=3, scenes=1, views_per_object=3)


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    from vtr_perception.infer import load_backend

    samples = LoopCropSamples()
    collect_scene(CONFIG.first_seed, CONFIG, shipped_perception_config(), load_backend("onnxruntime"), samples)
    path = write_loop_crops(tmp_path_factory.mktemp("crops") / "val.npz", samples, CONFIG)
    return path, samples


def _iou(a, b):
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_truth_in_an_axis_aligned_cube_is_the_demos_truth():
    obj = make_tabletop_scene("pybullet", num_objects=1, split="val", seed=2).objects[0]
    cube = Cube(obj.center + 0.01, obj.size * 1.1, np.eye(3))
    grid = ObjectGrid(0, np.zeros((32,) * 3), np.zeros((32,) * 3), cube.center, cube.side, 1)
    np.testing.assert_array_equal(truth_in_cube(obj, cube.center, cube.side, 32, cube.rotation), true_grid(obj, grid))
    turned = Cube(cube.center, cube.side, yaw_matrix(0.4))
    back = (
        resample_cube(
            truth_in_cube(obj, turned.center, turned.side, 32, turned.rotation).astype(np.float32), turned, cube
        )
        >= 0.5
    )
    assert _iou(back, true_grid(obj, grid)) > 0.75


def test_samples_are_the_pipelines_inputs_after_every_view(crops):
    path, samples = crops
    assert 3 <= len(samples) <= 3 * CONFIG.views_per_object
    assert all(1 <= v <= CONFIG.views_per_object for v in samples.num_views)
    with np.load(path) as f:
        assert f["images"].dtype == np.uint8 and f["images"].shape[1:] == (3, 64, 64)
        assert len(f["images"]) == len(f["rotations"]) == len(f["directions"]) == sum(samples.num_views)
        assert f["voxels"].shape == (len(samples), 32**3 // 8)
        rotations = f["rotations"]
    np.testing.assert_allclose(rotations @ np.swapaxes(rotations, 1, 2), np.broadcast_to(np.eye(3), rotations.shape),
                               atol=1e-5)  # fmt: skip
    dataset = LoopCropDataset([path])
    occupied = [dataset[i]["voxels"].mean().item() for i in range(len(dataset))]
    assert min(occupied) > 0.01  # the truth is inside every sample's cube
    # each object's samples grow one view at a time, up to the views it was given
    first = {}
    for key, views in zip(samples.objects, samples.num_views, strict=True):
        first.setdefault(key, []).append(views)
    assert all(v[0] == 1 and v == sorted(v) for v in first.values())


def test_quarter_turn_augmentation_turns_rotations_targets_and_voxels_together(crops):
    path, _ = crops
    plain, turned = LoopCropDataset([path]), LoopCropDataset([path], augment=True)
    i = max(range(len(plain)), key=plain.num_views)
    seen = set()
    for seed in range(12):
        torch.manual_seed(seed)
        item = turned[i]
        ref = plain[i]
        k = next(
            k
            for k in range(4)
            if np.allclose(item["rotations"].numpy(), QUARTER_TURNS[k].T @ ref["rotations"].numpy(), atol=1e-5)
        )
        seen.add(k)
        unit = Cube(np.zeros(3), 1.0, np.eye(3))
        expected = resample_cube(ref["voxels"].numpy(), unit, Cube(np.zeros(3), 1.0, QUARTER_TURNS[k]), order=0)
        np.testing.assert_array_equal(item["voxels"].numpy(), expected)
        np.testing.assert_allclose((item["azimuth"] - ref["azimuth"] + 90 * k + 180) % 360 - 180, 0, atol=1e-3)
        np.testing.assert_allclose(item["elevation"], ref["elevation"], atol=1e-4)
    assert seen == {0, 1, 2, 3}


def test_batches_have_one_view_count_and_cover_every_sample_once(crops):
    path, _ = crops
    dataset = LoopCropDataset([path])
    batches = list(SameViewCountBatches(dataset, 2, torch.Generator().manual_seed(0)))
    assert sorted(i for b in batches for i in b) == list(range(len(dataset)))
    assert all(len({dataset.num_views(i) for i in b}) == 1 and len(b) <= 2 for b in batches)
    assert len(batches) == len(SameViewCountBatches(dataset, 2))


def test_fine_tune_keeps_the_best_validation_checkpoint(crops, tmp_path):
    from vtr_perception.models.checkpoint import load_checkpoint
    from vtr_perception.train.loop_finetune import LoopFineTuneConfig, crop_iou, fine_tune

    path, _ = crops
    out = tmp_path / "ft.pt"
    config = LoopFineTuneConfig(crops=(str(path),), val_crops=(str(path),), out=str(out), max_minutes=10.0,
                                max_steps=4, batch_size=4, val_every=2, progress=False)  # fmt: skip
    metrics = fine_tune(config)
    assert metrics["steps"] == 4 and [h["step"] for h in metrics["history"]] == [0, 2, 4]
    assert metrics["val_crop_iou"] == max(h["val_iou"] for h in metrics["history"])
    model, _, metadata = load_checkpoint(out)
    assert crop_iou(model, LoopCropDataset([path])) == pytest.approx(metrics["val_crop_iou"], abs=1e-6)
    assert metadata["loop_finetune"]["crops"] == [str(path)]


def _two_sources(path, tmp_path):
    """A copy of the crops in which the second half of the samples claims to be procedural objects."""
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    half = len(arrays["object"]) // 2
    arrays["object"] = np.asarray([f"procedural_cup_{i:04d}" if i >= half else key
                                   for i, key in enumerate(arrays["object"])])  # fmt: skip
    out = tmp_path / "two_sources.npz"
    np.savez(out, **arrays)
    return out, half


def test_validation_averages_the_sources_and_the_learning_curve_is_written(crops, tmp_path):
    from vtr_perception.geometry.metrics import iou_batch
    from vtr_perception.models.checkpoint import load_checkpoint
    from vtr_perception.train.loop_finetune import LoopFineTuneConfig, crop_iou, crop_iou_by_source, fine_tune

    path, _ = crops
    mixed, half = _two_sources(path, tmp_path)
    model = load_checkpoint("models/reconstructor.pt")[0].eval()
    dataset = LoopCropDataset([mixed])
    per_sample = []
    with torch.no_grad():
        for i in range(len(dataset)):
            item = dataset[i]
            occupancy = model(item["images"][None], item["rotations"][None])["occupancy"].numpy()
            per_sample.append(iou_batch(occupancy, item["voxels"].numpy()[None] > 0.5)[0])
    by_source = crop_iou_by_source(model, dataset)
    assert list(by_source) == ["procedural", "pybullet"]
    assert by_source["pybullet"] == pytest.approx(np.mean(per_sample[:half]), abs=1e-5)
    assert by_source["procedural"] == pytest.approx(np.mean(per_sample[half:]), abs=1e-5)
    assert crop_iou(model, dataset) == pytest.approx(np.mean(list(by_source.values())), abs=1e-6)

    out = tmp_path / "ft.pt"
    config = LoopFineTuneConfig(crops=(str(path),), val_crops=(str(mixed),), out=str(out), max_minutes=10.0,
                                max_steps=2, batch_size=4, val_every=1, progress=False)  # fmt: skip
    metrics = fine_tune(config)
    for entry in metrics["history"]:
        assert entry["val_iou"] == pytest.approx(np.mean(list(entry["val_iou_by_source"].values())))
    curve = json.loads(out.with_suffix(".json").read_text())
    assert curve["val_crop_iou"] == metrics["val_crop_iou"] and len(curve["history"]) == len(metrics["history"])
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_stopped_fine_tune_resumes_where_it_stopped(crops, tmp_path):
    from vtr_perception.models.checkpoint import read_checkpoint
    from vtr_perception.train.loop_finetune import LoopFineTuneConfig, fine_tune, last_path

    path, _ = crops
    config = LoopFineTuneConfig(crops=(str(path),), val_crops=(str(path),), out=str(tmp_path / "ft.pt"),
                                max_minutes=10.0, max_steps=2, batch_size=4, val_every=2, progress=False)  # fmt: skip
    first = fine_tune(config)
    stopped = read_checkpoint(last_path(config))
    assert stopped["step"] == 2 and stopped["optimizer"]["state"] and stopped["seconds"] > 0
    resumed = fine_tune(dataclasses.replace(config, max_steps=4, resume=True))
    assert resumed["steps"] == 4 and [h["step"] for h in resumed["history"]] == [0, 2, 4]
    assert resumed["history"][:2] == first["history"]  # continued, not started again from the base
    again = fine_tune(dataclasses.replace(config, max_steps=4))  # without --resume: from the base again
    assert [h["step"] for h in again["history"]] == [0, 2, 4] and again["history"][0] == first["history"][0]


def test_cli_without_crops_is_one_readable_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "vtr_perception.cli", "train-loop", "--out", str(tmp_path / "x.pt")],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "vtr-perception train-loop: error: loop fine-tuning needs training crops and validation crops"
    )


def test_planned_views_are_the_planners_choices_not_the_random_stream():
    from vtr_perception.geometry import cameras
    from vtr_perception.infer import load_backend
    from vtr_perception.nbv.planner import NextBestViewPlanner

    config = LoopCropConfig(split="val", first_seed=3, scenes=1, objects_per_scene=1, views_per_object=3, views="nbv")
    planner = NextBestViewPlanner(demo_planner_config())
    backend = load_backend("onnxruntime")
    chosen, plan = [], sim_loop.SimulatedLoop.planned_view

    def recording(self, *args):
        chosen.append(plan(self, *args))
        return chosen[-1]

    samples = LoopCropSamples()
    sim_loop.SimulatedLoop.planned_view = recording
    try:
        collect_scene(config.first_seed, config, shipped_perception_config(), backend, samples, planner)
    finally:
        sim_loop.SimulatedLoop.planned_view = plan
    assert len(chosen) == 2 and all(T is not None for T in chosen)
    obj = make_tabletop_scene("pybullet", num_objects=1, split="val", seed=3).objects[0]
    for T in chosen:  # the shipped planner's band: 15-45 deg above the object, 0.6 m away
        _, elevation, distance = cameras.angles_from_camera(T, target=obj.center)
        assert 12.0 <= float(elevation) <= 48.0 and abs(float(distance) - 0.6) < 0.05
    assert samples.num_views == [1, 2, 3]
    # the sample after the last planned view ends with it: its direction from the cube (yaw-only axes) is the
    # chosen camera's from the object
    d = samples.directions[-1][-1]
    _, elevation, distance = cameras.angles_from_camera(chosen[-1], target=obj.center)
    assert np.degrees(np.arctan2(d[2], np.linalg.norm(d[:2]))) == pytest.approx(float(elevation), abs=3.0)
    assert np.linalg.norm(d) == pytest.approx(float(distance), abs=0.03)
    random = LoopCropSamples()
    collect_scene(config.first_seed, LoopCropConfig(**{**config.__dict__, "views": "random"}),
                  shipped_perception_config(), backend, random)  # fmt: skip
    assert not np.allclose(random.directions[-1], samples.directions[-1], atol=1e-3)


def test_planned_views_need_a_planner_and_a_known_view_source():
    with pytest.raises(ValueError, match="need a planner"):
        collect_scene(3, LoopCropConfig(split="val", views="nbv"), shipped_perception_config(), None,
                      LoopCropSamples())  # fmt: skip
    with pytest.raises(ValueError, match="views must be one of random, nbv"):
        LoopCropConfig(views="oracle")


def test_scenes_take_the_listed_sources_in_turn():
    from vtr_perception.train.loop_crops import LoopCropConfig, scene_source

    config = LoopCropConfig(source="pybullet, procedural", first_seed=10)
    assert [scene_source(config, s) for s in range(10, 14)] == ["pybullet", "procedural", "pybullet", "procedural"]
    assert scene_source(LoopCropConfig(), 1234) == "pybullet"


def test_scene_objects_are_in_the_split_under_both_rules():
    from vtr_perception.data.sources import open_source
    from vtr_perception.data.splits import split_of, split_of_record
    from vtr_perception.train.loop_crops import scene_keys

    records = {r.key: r for r in open_source("procedural:20").list_objects()}
    keys = scene_keys("procedural:20", "train", 3, 6)
    assert len(keys) == 6 and keys == scene_keys("procedural:20", "train", 3, 6)
    assert all(split_of_record(records[k]) == "train" == split_of(records[k].object_id) for k in keys)
