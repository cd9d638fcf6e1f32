"""A small face-attribute classifier: the lab's own judge of generated faces.

No Inception weights can be fetched here, so the lab trains this network on the 13 attributes
of the 9,000 training faces and uses it twice: its sigmoid outputs label faces (the GAN's
attribute directions, the sliders' read-out) and its pooled features are the space of the
local Frechet distance (:mod:`hw3lab.analysis.face_quality`).
"""

from __future__ import annotations

import torch
from torch import nn

from hw3lab.data.layout import FACE_ATTRIBUTES

FEATURE_DIM = 256


def _stage(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 convolutions, the first halving the side."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, 2, 1, bias=False), nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False), nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class AttributeNet(nn.Module):
    """64x64 RGB in [-1, 1] -> 13 attribute logits; ``features`` gives the pooled 256-d vector."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(_stage(3, 32), _stage(32, 64), _stage(64, 128),
                                  _stage(128, FEATURE_DIM))
        self.head = nn.Linear(FEATURE_DIM, len(FACE_ATTRIBUTES))

    def features(self, image: torch.Tensor) -> torch.Tensor:
        return self.body(image).mean(dim=(2, 3))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(image))
