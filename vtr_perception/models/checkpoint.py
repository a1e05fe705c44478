"""Reconstructor checkpoints: weights + config + metadata + metrics in one atomic file.

Lives in models/ (not train/) because inference backends and ONNX export load checkpoints
and must not import the trainer. Files are read with ``weights_only=True``: the config,
metadata and metrics are stored as plain JSON-like values, never pickled objects.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from vtr_perception.config import from_mapping, to_dict
from vtr_perception.io_utils import atomic_write
from vtr_perception.models.config import ReconstructorConfig
from vtr_perception.models.reconstructor import Reconstructor

CHECKPOINT_FORMAT = "vtr_perception.reconstructor/1"


def save_checkpoint(
    path: str | Path,
    model: Reconstructor,
    *,
    metadata: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` with its config; ``extra`` holds training state (optimizer, epoch) for resuming."""
    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    config = dataclasses.replace(model.config, pretrained_encoder=None)  # the weights already contain it
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": to_dict(config),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metadata": dict(metadata or {}),
        "metrics": dict(metrics or {}),
        **(extra or {}),
    }
    path = atomic_write(path, lambda tmp: torch.save(payload, tmp))
    path.chmod(0o644)  # mkstemp creates 0600; a shipped or shared checkpoint must be readable by others
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The raw checkpoint dict (for resuming); ValueError naming the file if it is not one of ours."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint {path} does not exist")
    try:
        # TorchVersion (a str subclass) is allowed: early training runs stored torch.__version__ as-is
        with torch.serialization.safe_globals([torch.torch_version.TorchVersion]):
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors all mean "not a readable checkpoint"
        raise ValueError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a vtr_perception reconstructor checkpoint (format {CHECKPOINT_FORMAT})")
    return payload


def load_checkpoint(path: str | Path) -> tuple[Reconstructor, ReconstructorConfig, dict[str, Any]]:
    """(model in eval mode on CPU, its config, metadata with the stored metrics under ``"metrics"``)."""
    payload = read_checkpoint(path)
    config = from_mapping(ReconstructorConfig, payload["config"])
    model = Reconstructor(config)
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as exc:
        raise ValueError(f"checkpoint {path} does not match its own config: {exc}") from exc
    model.eval()
    metadata = dict(payload.get("metadata", {}))
    metadata["metrics"] = dict(payload.get("metrics", {}))
    return model, config, metadata
