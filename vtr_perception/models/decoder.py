"""Per-view 3D decoder: 2D features -> a coarse occupancy volume and context features (Pix2Vox++)."""

from __future__ import annotations

import torch
from torch import nn


def deconv_block_3d(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose3d(c_in, c_out, 4, stride=2, padding=1, bias=False),
        nn.GroupNorm(min(8, max(1, c_out // 4)), c_out),
        nn.LeakyReLU(0.2, inplace=True),
    )


class VolumeDecoder(nn.Module):
    """(N, C, 4, 4) -> coarse occupancy logits (N, 1, r, r, r) and context features (N, K, r, r, r)."""

    def __init__(self, in_channels: int, *, latent: int, widths: tuple[int, ...], context: int, resolution: int):
        super().__init__()
        self.start = resolution // 2 ** len(widths)  # one stride-2 upsampling per width reaches the resolution
        self.squeeze = nn.Conv2d(in_channels, latent // 16, 1)
        self.to_volume = nn.Linear(latent, widths[0] * self.start**3)
        self.widths = widths
        blocks = []
        c_in = widths[0]
        for c_out in (*widths[1:], context):
            blocks.append(deconv_block_3d(c_in, c_out))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.to_occupancy = nn.Conv3d(context, 1, 1)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = features.shape[0]
        x = torch.flatten(self.squeeze(features), 1)
        s = self.start
        x = torch.relu(self.to_volume(x)).reshape(n, self.widths[0], s, s, s)
        context = self.blocks(x)
        return self.to_occupancy(context), context
