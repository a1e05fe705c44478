"""3D refiner (encoder-decoder with skips) and the per-voxel error head."""

from __future__ import annotations

import torch
from torch import nn


def conv_block_3d(c_in: int, c_out: int, *, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.GroupNorm(min(8, max(1, c_out // 4)), c_out),
        nn.LeakyReLU(0.2, inplace=True),
    )


class Refiner(nn.Module):
    """(B, C_in, R, R, R) -> occupancy logits (B, 1, R, R, R) and the last decoder features."""

    def __init__(self, in_channels: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        self.stem = conv_block_3d(in_channels, widths[0])
        self.down = nn.ModuleList(conv_block_3d(a, b, stride=2) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.up = nn.ModuleList(
            nn.Sequential(
                nn.ConvTranspose3d(b, a, 4, stride=2, padding=1, bias=False),
                nn.GroupNorm(min(8, max(1, a // 4)), a),
                nn.LeakyReLU(0.2, inplace=True),
            )
            for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        self.head = nn.Conv3d(widths[0], 1, 1)
        self.out_channels = widths[0]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skips = [self.stem(x)]
        for down in self.down:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for up in reversed(self.up):
            y = up(y) + skips.pop()
        return self.head(y), y


class ErrorHead(nn.Module):
    """Per-voxel estimate of |ground truth - occupancy| in [0, 1] from refiner features and view disagreement."""

    def __init__(self, in_channels: int, hidden: int = 8) -> None:
        super().__init__()
        self.net = nn.Sequential(
            # 1x1x1 only: the refiner features already carry spatial context, and 3x3x3 convs with
            # few channels at full resolution are slow to train on a CPU
            nn.Conv3d(in_channels, hidden, 1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv3d(hidden, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x))
