"""Building blocks shared by the homework's networks.

Each block keeps the homework's layout (a module with one ``block`` Sequential) so that the
state_dict keys are identical: ``encode.0.block.0.weight`` and so on.
"""

from __future__ import annotations

import torch
from torch import nn


def scaled(channels: int, width: float) -> int:
    """Channel count after a width multiplier (width 1.0 is the homework's network)."""
    return max(1, int(round(channels * width)))


class Conv_Block(nn.Module):
    """Conv2d, BatchNorm2d, then LeakyReLU(0.2) (faces) or ReLU (digits)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int,
                 padding: int, leaky: bool = True) -> None:
        super().__init__()
        activation = nn.LeakyReLU(0.2, inplace=True) if leaky else nn.ReLU(inplace=True)
        self.block = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding),
            nn.BatchNorm2d(out_channels),
            activation,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Tran_Block(nn.Module):
    """ConvTranspose2d, BatchNorm2d, ReLU: one upsampling step of the decoders."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int,
                 padding: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride, padding),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Linear_Block(nn.Module):
    """Linear then ReLU, the unit of the digit classifiers."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.Linear(in_features, out_features), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)
