"""Context-aware fusion (Pix2Vox++): per-view score maps, softmax across views, weighted sum."""

from __future__ import annotations

import torch
from torch import nn


class ContextFusion(nn.Module):
    """Fuse V coarse volumes into one, weighting each voxel by how reliable each view looks there."""

    def __init__(self, context: int, hidden: int = 8) -> None:
        super().__init__()
        self.score = nn.Sequential(
            # 1x1x1 (Pix2Vox++ uses 3x3x3): the context features already carry the neighbourhood, and
            # per-view full-resolution 3x3x3 convs dominate CPU training time
            nn.Conv3d(context + 1, hidden, 1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv3d(hidden, 1, 1),
        )

    def forward(self, volumes: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """volumes (B, V, R, R, R) probabilities, context (B, V, K, R, R, R) -> fused (B, R, R, R)."""
        b, v, r = volumes.shape[0], volumes.shape[1], volumes.shape[-1]
        x = torch.cat([context, volumes.unsqueeze(2)], dim=2).flatten(0, 1)
        scores = self.score(x).reshape(b, v, r, r, r)
        # softmax across views, written out: ONNX Runtime's Softmax on a non-last axis transposes twice
        exp = torch.exp(scores - scores.amax(dim=1, keepdim=True))
        return (exp * volumes).sum(dim=1) / exp.sum(dim=1)
