"""Checkpoints: identical outputs after a round trip; config, metadata and metrics come back; bad files named."""

from __future__ import annotations

import pytest
import torch

from vtr_perception.models import Reconstructor, ReconstructorConfig, load_checkpoint, save_checkpoint

torch.set_num_threads(2)


@pytest.mark.parametrize("mode", ["pose_aware", "canonical"])
def test_round_trip_gives_identical_outputs(tmp_path, mode: str) -> None:
    config = ReconstructorConfig(mode=mode, image_size=32, resolution=16, camera_cube_half_extent=0.8)
    model = Reconstructor(config).eval()
    path = save_checkpoint(tmp_path / "m.pt", model, metadata={"data": "toy", "epoch": 3}, metrics={"val_iou": 0.5})
    loaded, loaded_config, metadata = load_checkpoint(path)
    assert loaded_config == config
    assert metadata["data"] == "toy" and metadata["epoch"] == 3
    assert metadata["metrics"] == {"val_iou": 0.5}
    assert not loaded.training
    images, rotations = torch.rand(2, 3, 3, 32, 32), torch.eye(3).expand(2, 3, 3, 3)
    with torch.no_grad():
        a, b = model(images, rotations), loaded(images, rotations)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)
    assert not list(tmp_path.glob(".*"))  # atomic write left no temporary file


def test_bad_checkpoint_files_are_named(tmp_path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"a": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a vtr_perception reconstructor checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
