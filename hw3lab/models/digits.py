"""The homework's digit networks for DANN and ADDA (28x28 input, 512-d features).

``Extractor`` maps an image to features, ``Classifier`` maps features to log-probabilities:
with 10 outputs it is the label predictor, with 2 the domain classifier (DANN, behind a
gradient reversal layer) or the domain discriminator (ADDA).
"""

from __future__ import annotations

import torch
from torch import nn

from hw3lab.models.blocks import Conv_Block, Linear_Block
from hw3lab.models.gradient_reversal import reverse_gradient

FEATURE_DIM = 512
NUM_CLASSES = 10


def standardize_images(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Each image of a (N, C, H, W) batch shifted and scaled to zero mean and unit variance
    over its channels and pixels: x' = (x - mean(x)) / (std(x) + eps) (the per-image input
    standardisation of French et al., "Self-ensembling for visual domain adaptation", 2018).
    It removes each image's brightness and contrast, two ways the digit domains differ."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    std = x.std(dim=(1, 2, 3), correction=0, keepdim=True)
    return (x - mean) / (std + eps)


class Extractor(nn.Module):
    """(N, 3, 28, 28) -> (N, 512): four stride-2 3x3 convolutions then a 2x2 max-pool.

    ``standardize`` (off in the homework's network) first applies :func:`standardize_images`
    to the input. It holds no weights, so the state_dict is the homework's either way; a
    checkpoint records it in its metadata (:meth:`follow`)."""

    def __init__(self, standardize: bool = False) -> None:
        super().__init__()
        self.standardize = standardize
        self.extract = nn.Sequential(
            Conv_Block(3, 64, 3, 2, 1, leaky=False),
            Conv_Block(64, 128, 3, 2, 1, leaky=False),
            Conv_Block(128, 256, 3, 2, 1, leaky=False),
            Conv_Block(256, 512, 3, 2, 1, leaky=False),
            nn.MaxPool2d(2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.extract(standardize_images(x) if self.standardize else x).flatten(1)

    def follow(self, metadata: dict) -> Extractor:
        """This extractor set up as the checkpoint with ``metadata`` was trained."""
        self.standardize = bool(metadata.get("standardize", False))
        return self


class Classifier(nn.Module):
    """(N, 512) -> (N, outputs) log-probabilities through 1024-512-256-128-64 hidden units."""

    def __init__(self, outputs: int = NUM_CLASSES) -> None:
        super().__init__()
        self.preprocess = Linear_Block(FEATURE_DIM, 1024)
        self.predict = nn.Sequential(
            Linear_Block(1024, 512),
            Linear_Block(512, 256),
            Linear_Block(256, 128),
            Linear_Block(128, 64),
            nn.Linear(64, outputs),
            nn.LogSoftmax(dim=1),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.predict(self.preprocess(features))


class Predictor(Classifier):
    """The label predictor: 10 digit classes."""

    def __init__(self) -> None:
        super().__init__(outputs=NUM_CLASSES)


class DomainClassifier(Classifier):
    """DANN's domain head: source (0) or target (1), behind gradient reversal."""

    def __init__(self) -> None:
        super().__init__(outputs=2)

    def forward(self, features: torch.Tensor, reversal_strength: float = 1.0) -> torch.Tensor:
        return super().forward(reverse_gradient(features, reversal_strength))


class DomainDiscriminator(Classifier):
    """ADDA's discriminator: source (0) or target (1) features, no gradient reversal."""

    def __init__(self) -> None:
        super().__init__(outputs=2)
