"""PyTorch backend: the training checkpoint run eagerly (the reference the exported models match)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vtr_perception.infer.base import OUTPUT_NAMES, ModelInfo, check_inputs

DEFAULT_MAX_VIEWS = 8


def model_info_from_config(config, *, max_views: int = DEFAULT_MAX_VIEWS) -> ModelInfo:
    """ModelInfo of a ReconstructorConfig (the same values the exporter writes into the ONNX metadata)."""
    return ModelInfo(
        image_size=int(config.image_size),
        resolution=int(config.resolution),
        mode=str(config.mode),
        view_extent=float(config.camera_cube_half_extent),
        max_views=max_views,
    )


class TorchBackend:
    name = "torch"

    def __init__(self, checkpoint: str | Path | None = None, *, model=None, device: str = "cpu") -> None:
        import torch

        if model is None:
            if checkpoint is None:
                raise ValueError("TorchBackend needs a checkpoint path or a model")
            from vtr_perception.models import load_checkpoint

            model, _, _ = load_checkpoint(checkpoint)
        self._torch = torch
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.info = model_info_from_config(model.config)

    def run(self, images: np.ndarray, rotations: np.ndarray | None = None) -> dict[str, np.ndarray]:
        images, rotations = check_inputs(self.info, images, rotations)
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(images).to(self.device)
            r = torch.from_numpy(rotations).to(self.device) if rotations is not None else None
            out = self.model(x, r)
        return {name: out[name].float().cpu().numpy() for name in OUTPUT_NAMES}
