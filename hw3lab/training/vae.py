"""The homework's VAE recipe: MSE + weighted KL, Adam, horizontal flips, on 64x64 faces."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812

from hw3lab.data.transforms import faces_for_model, horizontal_flip
from hw3lab.models import VAE, homework_kl_weight, kl_divergence
from hw3lab.training.common import Run, autocast, index_batches


@dataclass
class VaeConfig:
    epochs: int = 100
    lr: float = 1e-4
    batch_size: int = 32
    flip: bool = True
    kl_base: float = 1e-5
    kl_threshold: float = 0.015


def vae_optimizer(vae: VAE, config: VaeConfig) -> torch.optim.Adam:
    return torch.optim.Adam(vae.parameters(), lr=config.lr)


@torch.inference_mode()
def reconstruction_mse(vae: VAE, images: torch.Tensor, batch_size: int = 256) -> float:
    """Per-pixel mean squared error of the mean reconstruction, on [0, 1] pixels as the
    homework reports it (the model works on [-1, 1], where the same error reads 4x larger);
    eval mode."""
    training = vae.training
    vae.eval()
    total = 0.0
    with autocast(images.device):
        for chunk in images.split(batch_size):
            x = faces_for_model(chunk)
            mean, _ = vae.encoder(x)
            total += F.mse_loss(vae.decoder(mean).float(), x, reduction="sum").item()
    vae.train(training)
    return total / 4.0 / images[0].numel() / len(images)


def train_vae(run: Run, vae: VAE, train: torch.Tensor, test: torch.Tensor,
              config: VaeConfig) -> Iterator[dict[str, Any]]:
    """Train on (N, 3, 64, 64) uint8 ``train`` faces; yield per-epoch metrics with test MSE."""
    optimizer = run.optimizers["vae"]

    def epoch(index: int, run: Run) -> dict[str, Any]:
        vae.train()
        batches = index_batches(len(train), config.batch_size, run.generator)
        bar = run.progress_bar(len(batches), f"epoch {index + 1}/{config.epochs}")
        sums = torch.zeros(3)
        for step, batch in enumerate(batches):
            x = train[batch]
            if config.flip:
                x = horizontal_flip(x, run.generator)
            x = faces_for_model(x)
            with autocast(run.device):
                reconstruction, mean, logvar = vae(x)
                mse = F.mse_loss(reconstruction.float(), x)
                kl = kl_divergence(mean.float(), logvar.float())
            weight = homework_kl_weight(mse.item(), config.kl_base, config.kl_threshold)
            loss = mse + weight * kl
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            sums += torch.tensor([mse.item(), kl.item(), weight])
            bar.step(len(batch), mse=sums[0].item() / (step + 1))
            if run.out_of_time():
                break
        rate = bar.close()
        means = (sums / (step + 1)).tolist()
        return {"mse": means[0], "kl": means[1], "kl_weight": means[2],
                "test_mse": reconstruction_mse(vae, test), "images_per_s": round(rate, 1),
                "partial": step + 1 < len(batches)}

    yield from run.loop(config.epochs, epoch)
