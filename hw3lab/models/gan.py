"""The homework's DCGAN on 64x64 faces, with the homework's module names."""

from __future__ import annotations

import torch
from torch import nn

from hw3lab.models.blocks import Conv_Block, Tran_Block, scaled

NOISE_DIM = 128


class Generator(nn.Module):
    """Noise (N, 128) or (N, 128, 1, 1) -> 64x64 RGB in [-1, 1]."""

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        c512, c256, c128, c64 = (scaled(c, width) for c in (512, 256, 128, 64))
        self.decode = nn.Sequential(
            Tran_Block(NOISE_DIM, c512, 4, 1, 0),
            Tran_Block(c512, c256, 4, 2, 1),
            Tran_Block(c256, c128, 4, 2, 1),
            Tran_Block(c128, c64, 4, 2, 1),
            nn.ConvTranspose2d(c64, 3, 4, 2, 1),
            nn.Tanh(),
        )

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.decode(noise.view(noise.shape[0], NOISE_DIM, 1, 1))


class Discriminator(nn.Module):
    """64x64 RGB in [-1, 1] -> probability (N,) that the image is real."""

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        c64, c128, c256, c512 = (scaled(c, width) for c in (64, 128, 256, 512))
        self.encode = nn.Sequential(
            Conv_Block(3, c64, 4, 2, 1),
            Conv_Block(c64, c128, 4, 2, 1),
            Conv_Block(c128, c256, 4, 2, 1),
            Conv_Block(c256, c512, 4, 2, 1),
            nn.Conv2d(c512, 1, 4, 1, 0),
            nn.Sigmoid(),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.encode(image).view(-1)

    def logits(self, image: torch.Tensor) -> torch.Tensor:
        """The pre-sigmoid score (N,): what a numerically safe loss (and bf16 autocast) needs.
        The Sigmoid has no weights, so the state_dict stays the homework's."""
        return self.encode[:-1](image).view(-1)
