"""The homework's VAE on 64x64 faces: six strided convolutions down to a 128-d latent and back.

Module and attribute names match the homework (``encode``, ``meanGen``, ``logvarGen``,
``preprocess``, ``decode``) so its state_dicts load with ``strict=True``.
"""

from __future__ import annotations

import torch
from torch import nn

from hw3lab.models.blocks import Conv_Block, Tran_Block, scaled

LATENT_DIM = 128
ENCODER_CHANNELS = (3, 64, 128, 256, 512, 1024, 2048)


def _channels(width: float) -> list[int]:
    return [3] + [scaled(c, width) for c in ENCODER_CHANNELS[1:]]


class Encoder(nn.Module):
    """64x64 RGB in [-1, 1] -> mean and log-variance of a 128-d Gaussian."""

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        ch = _channels(width)
        self.encode = nn.Sequential(*[Conv_Block(ch[i], ch[i + 1], 4, 2, 1) for i in range(6)])
        self.meanGen = nn.Linear(ch[-1], LATENT_DIM)
        self.logvarGen = nn.Linear(ch[-1], LATENT_DIM)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feature = self.encode(x).flatten(1)
        return self.meanGen(feature), self.logvarGen(feature)


class Decoder(nn.Module):
    """128-d latent -> 64x64 RGB in [-1, 1]."""

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        ch = _channels(width)[::-1]  # 2048, 1024, ..., 64, 3
        self.preprocess = nn.Sequential(
            nn.Linear(LATENT_DIM, ch[0]), nn.BatchNorm1d(ch[0]), nn.ReLU(inplace=True)
        )
        self.decode = nn.Sequential(
            *[Tran_Block(ch[i], ch[i + 1], 4, 2, 1) for i in range(5)],
            nn.ConvTranspose2d(ch[5], 3, 4, 2, 1),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        feature = self.preprocess(z)
        return self.decode(feature.view(feature.shape[0], -1, 1, 1))


class VAE(nn.Module):
    """Encoder + decoder with the reparameterisation trick."""

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        self.width = width
        self.encoder = Encoder(width)
        self.decoder = Decoder(width)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mean, logvar = self.encoder(x)
        return self.decoder(reparameterize(mean, logvar)), mean, logvar


def reparameterize(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Sample z = mean + sigma * eps so that gradients flow through mean and logvar."""
    return mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The homework's KL term: the per-element mean of KL(N(mean, var) || N(0, 1))."""
    return torch.mean(-0.5 * (1 + logvar - mean.pow(2) - logvar.exp()))


def homework_kl_weight(mse: torch.Tensor, base: float = 1e-5,
                       threshold: float = 0.015) -> torch.Tensor:
    """The homework's KL weight: ``base``, divided by mse^2 once the MSE falls below ``threshold``.

    As reconstruction improves the KL term is weighted up, so the latent is pulled towards the
    prior only once the decoder can already reconstruct. ``mse`` is a tensor and so is the
    result (no gradient), so a training step never waits to read the MSE back from the device.
    """
    mse = mse.detach()
    return torch.where(mse < threshold, base / (mse * mse), torch.full_like(mse, base))
