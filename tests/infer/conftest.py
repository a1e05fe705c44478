"""A tiny reconstructor, its checkpoint and its ONNX export, shared by the infer tests (built once per session)."""

from __future__ import annotations

import pytest
import torch

from onnx_export.export import export_model
from vtr_perception.models import Reconstructor, ReconstructorConfig, save_checkpoint


@pytest.fixture(scope="session")
def tiny_model_files(tmp_path_factory):
    """(model dir with reconstructor.pt + reconstructor.onnx, the model) for a 32 px, 8^3 pose-aware model."""
    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = Reconstructor(ReconstructorConfig(image_size=32, resolution=8)).eval()
    directory = tmp_path_factory.mktemp("models")
    save_checkpoint(directory / "reconstructor.pt", model)
    export_model(model, directory / "reconstructor.onnx", checkpoint_sha256="0" * 64, simplify=False)
    return directory, model
