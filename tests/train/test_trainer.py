"""Trainer: a few steps on a tiny real cache, checkpoints with config/metadata/metrics, resume, YAML config."""

from __future__ import annotations

import csv

import pytest
import torch

from vtr_perception.models import ReconstructorConfig, load_checkpoint, read_checkpoint
from vtr_perception.train.losses import pose_error_deg, pose_targets, reconstruction_losses
from vtr_perception.train.trainer import TrainConfig, load_train_yaml, train

torch.set_num_threads(2)
TINY_MODEL = ReconstructorConfig(image_size=32, resolution=16)


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    from vtr_perception.data.cache import build_cache

    cache = tmp_path_factory.mktemp("cache") / "pybullet"
    build_cache(
        "pybullet",
        cache,
        size=32,
        resolution=16,
        views={"aligned": 3, "hemisphere": 2, "sphere": 2},
        object_ids=[f"{i:03d}" for i in range(12)],
        workers=1,
        progress=False,
    )
    return cache


def test_few_steps_write_checkpoints_and_log_and_resume(tiny_cache, tmp_path) -> None:
    config = TrainConfig(
        caches=(str(tiny_cache),), batch_size=4, epochs=1, val_objects=2, out_dir=str(tmp_path / "run"), progress=False
    )
    metrics = train(TINY_MODEL, config)
    assert metrics["epoch"] == 1 and metrics["steps"] >= 1
    model, model_config, metadata = load_checkpoint(tmp_path / "run" / "last.pt")
    assert model_config == TINY_MODEL
    assert metadata["train_config"]["batch_size"] == 4
    assert metadata["metrics"]["steps"] == metrics["steps"]
    rows = list(csv.DictReader((tmp_path / "run" / "log.csv").open()))
    losses = [float(r["loss"]) for r in rows if r["loss"]]
    assert len(losses) == metrics["steps"] and all(loss > 0 for loss in losses)
    assert {int(r["views"]) for r in rows if r["views"]} <= {1, 2, 3}

    resumed = train(TINY_MODEL, TrainConfig(**{**config.__dict__, "epochs": 2}), resume=True)
    assert resumed["epoch"] == 2 and resumed["steps"] == 2 * metrics["steps"]
    assert read_checkpoint(tmp_path / "run" / "last.pt")["epoch"] == 1


def test_init_from_fine_tunes_from_a_checkpoint_and_rejects_another_architecture(tiny_cache, tmp_path) -> None:
    from vtr_perception.models import Reconstructor, save_checkpoint

    torch.manual_seed(3)
    start = Reconstructor(TINY_MODEL)
    save_checkpoint(tmp_path / "start.pt", start, metadata={}, metrics={})
    # lr 0: the fine-tuned weights must be the initial ones, not a fresh initialisation
    config = TrainConfig(
        caches=(str(tiny_cache),), batch_size=4, epochs=1, val_objects=0, lr=0.0, weight_decay=0.0,
        out_dir=str(tmp_path / "ft"), progress=False, init_from=str(tmp_path / "start.pt"),
    )  # fmt: skip
    train(TINY_MODEL, config)
    tuned, _, _ = load_checkpoint(tmp_path / "ft" / "last.pt")
    for name, value in start.state_dict().items():
        torch.testing.assert_close(tuned.state_dict()[name], value, msg=name)
    other = ReconstructorConfig(image_size=32, resolution=24)
    with pytest.raises(ValueError, match="init_from .* has model config"):
        train(other, TrainConfig(**{**config.__dict__, "out_dir": str(tmp_path / "ft2")}))


def test_training_reduces_the_loss_on_a_fixed_batch() -> None:
    """Overfitting one synthetic batch: the reconstruction loss must fall (the loop really optimises)."""
    from vtr_perception.models import Reconstructor

    torch.manual_seed(0)
    model = Reconstructor(TINY_MODEL)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    images, rotations = torch.rand(2, 2, 3, 32, 32), torch.eye(3).expand(2, 2, 3, 3)
    voxels = torch.zeros(2, 16, 16, 16)
    voxels[:, 4:12, 4:12, 2:10] = 1.0
    az, el = torch.tensor([[10.0, 100.0], [200.0, 300.0]]), torch.full((2, 2), 25.0)
    first = None
    for _ in range(15):
        terms = reconstruction_losses(model(images, rotations), voxels, az, el)
        loss = terms["occupancy"] + terms["view"] + terms["pose"] + terms["error"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first = first if first is not None else float(loss.detach())
    assert float(loss) < 0.7 * first


def test_pose_targets_and_error() -> None:
    az, el = torch.tensor([0.0, 90.0]), torch.tensor([0.0, 30.0])
    torch.testing.assert_close(pose_targets(az, el)[1], torch.tensor([1.0, 0.0, 0.5, 3**0.5 / 2]))
    assert float(pose_error_deg(pose_targets(az, el), az, el).max()) < 0.1
    shifted = pose_targets(az + 90.0, el * 0)
    torch.testing.assert_close(pose_error_deg(shifted, torch.zeros(2), torch.zeros(2)), torch.tensor([90.0, 180.0]))


def test_yaml_config_and_errors(tmp_path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("model:\n  mode: canonical\ntrain:\n  batch_size: 3\n")
    model_config, train_config = load_train_yaml(path)
    assert model_config.mode == "canonical" and train_config.batch_size == 3
    path.write_text("modle: {}\n")
    with pytest.raises(ValueError, match="unknown section"):
        load_train_yaml(path)
    with pytest.raises(ValueError, match="no index.json"):
        train(TINY_MODEL, TrainConfig(caches=(str(tmp_path),), out_dir=str(tmp_path / "o")))


def test_datasets_per_cache_and_view_set_with_repeats_in_training_only(tiny_cache):
    from vtr_perception.train.trainer import make_datasets

    config = TrainConfig(caches=(str(tiny_cache), str(tiny_cache)), view_set="aligned, sphere")
    train_parts = make_datasets(config, "train", num_views=2, fixed=False, seed=0)
    assert sorted(train_parts) == ["pybullet#1/aligned", "pybullet#1/sphere", "pybullet/aligned", "pybullet/sphere"]
    val_parts = make_datasets(config, "val", num_views=2, fixed=True, seed=1)
    assert sorted(val_parts) == ["pybullet/aligned", "pybullet/sphere"]
    assert {p.view_set for p in val_parts.values()} == {"aligned", "sphere"}
