"""Per-view 2D image encoder and the pose head.

A small strided CNN with GroupNorm (batch-independent, so any batch or view count gives
the same per-view result and ONNX export has no batch statistics). Images come in as
RGB in [0, 1]; normalisation happens here so every caller feeds the same thing.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)


def conv_block_2d(c_in: int, c_out: int, *, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.GroupNorm(min(8, c_out // 4), c_out),
        nn.LeakyReLU(0.2, inplace=True),
    )


class ImageEncoder(nn.Module):
    """(N, 3, S, S) images in [0, 1] -> (N, C, 4, 4) feature maps."""

    def __init__(self, widths: tuple[int, ...], image_size: int) -> None:
        super().__init__()
        n_stages = int(image_size).bit_length() - 3  # stride-2 stages from image_size down to 4
        widths = tuple(widths[min(i, len(widths) - 1)] for i in range(n_stages))
        layers: list[nn.Module] = []
        c_in = 3
        for c_out in widths:
            layers += [conv_block_2d(c_in, c_out, stride=2), conv_block_2d(c_out, c_out, stride=1)]
            c_in = c_out
        self.layers = nn.Sequential(*layers)
        self.out_channels = c_in
        self.register_buffer("mean", torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGE_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers((images - self.mean) / self.std)

    def load_pretrained(self, path: str | Path) -> None:
        """Load a local state dict (plain, or a reconstructor's with an ``encoder.`` prefix)."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"pretrained_encoder: no such file {path}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for a non-checkpoint file
            raise ValueError(f"pretrained_encoder: cannot read {path} as a torch state dict: {exc}") from exc
        if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
            state = state["model"]
        if any(k.startswith("encoder.") for k in state):
            state = {k[len("encoder.") :]: v for k, v in state.items() if k.startswith("encoder.")}
        missing, unexpected = self.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"pretrained_encoder {path} does not fit this encoder: missing {list(missing)[:5]}, "
                f"unexpected {list(unexpected)[:5]}"
            )


class PoseHead(nn.Module):
    """(N, C, 4, 4) features -> (N, 4) = (sin az, cos az, sin el, cos el), each pair on the unit circle."""

    def __init__(self, channels: int, hidden: int = 128) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.LeakyReLU(0.2, inplace=True), nn.Linear(hidden, 4))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        raw = self.mlp(features.mean(dim=(2, 3)))
        azimuth = F.normalize(raw[:, 0:2], dim=1, eps=1e-6)
        elevation = F.normalize(raw[:, 2:4], dim=1, eps=1e-6)
        return torch.cat([azimuth, elevation], dim=1)
