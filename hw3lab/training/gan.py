"""The homework's DCGAN recipe: BCE, Adam for both players, a generator step then a
discriminator step per batch, horizontal flips on the real faces."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812

from hw3lab.data.transforms import faces_for_model, horizontal_flip
from hw3lab.models import Discriminator, Generator
from hw3lab.models.gan import NOISE_DIM
from hw3lab.training.common import Run, autocast, index_batches


@dataclass
class GanConfig:
    epochs: int = 100
    lr: float = 1e-4
    beta1: float = 0.9
    batch_size: int = 64
    flip: bool = True


def gan_optimizers(generator: Generator, discriminator: Discriminator,
                   config: GanConfig) -> dict[str, torch.optim.Adam]:
    betas = (config.beta1, 0.999)
    return {"generator": torch.optim.Adam(generator.parameters(), lr=config.lr, betas=betas),
            "discriminator": torch.optim.Adam(discriminator.parameters(), lr=config.lr,
                                              betas=betas)}


def train_gan(run: Run, generator: Generator, discriminator: Discriminator, train: torch.Tensor,
              config: GanConfig) -> Iterator[dict[str, Any]]:
    """Train on (N, 3, 64, 64) uint8 ``train`` faces; yield per-epoch losses and D outputs."""
    optimizers = run.optimizers

    def epoch(index: int, run: Run) -> dict[str, Any]:
        generator.train()
        discriminator.train()
        batches = index_batches(len(train), config.batch_size, run.generator)
        bar = run.progress_bar(len(batches), f"epoch {index + 1}/{config.epochs}")
        sums = torch.zeros(4)
        for batch in batches:
            real = train[batch]
            if config.flip:
                real = horizontal_flip(real, run.generator)
            real = faces_for_model(real)
            ones = torch.ones(len(batch), device=run.device)
            noise = torch.randn(len(batch), NOISE_DIM, device=run.device,
                                generator=run.generator)
            with autocast(run.device):
                fake = generator(noise)
                fooled = discriminator(fake).float()
                generator_loss = F.binary_cross_entropy(fooled, ones)
            optimizers["generator"].zero_grad(set_to_none=True)
            generator_loss.backward()
            optimizers["generator"].step()
            with autocast(run.device):
                real_score = discriminator(real).float()
                fake_score = discriminator(fake.detach()).float()
                disc_loss = (F.binary_cross_entropy(real_score, ones)
                             + F.binary_cross_entropy(fake_score, torch.zeros_like(ones)))
            optimizers["discriminator"].zero_grad(set_to_none=True)
            disc_loss.backward()
            optimizers["discriminator"].step()
            values = torch.stack([generator_loss, disc_loss, real_score.mean(),
                                  fake_score.mean()]).detach().cpu()
            sums += values
            bar.step(len(batch), g=values[0].item(), d=values[1].item())
            if run.out_of_time():
                break
        rate, done = bar.close(), bar.steps
        means = (sums / done).tolist()
        return {"generator_loss": means[0], "disc_loss": means[1], "d_real": means[2],
                "d_fake": means[3], "images_per_s": round(rate, 1),
                "partial": done < len(batches)}

    yield from run.loop(config.epochs, epoch)
