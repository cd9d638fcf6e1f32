"""The homework's VAE recipe: MSE + weighted KL, Adam, horizontal flips, on 64x64 faces; and an
annealed fixed KL weight as the alternative schedule."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812

from hw3lab.data.transforms import faces_for_model, horizontal_flip
from hw3lab.models import VAE, homework_kl_weight, kl_divergence
from hw3lab.training.common import Run, adam, index_batches


@dataclass
class VaeConfig:
    """``kl_schedule`` 'homework': ``kl_base``, raised to kl_base / mse^2 once the batch MSE
    falls below ``kl_threshold``; 'anneal': ramp linearly from 0 to ``kl_weight`` over
    ``kl_warmup`` epochs, then hold it (Bowman et al. 2016), a VAE whose latent is pulled to the
    prior for the whole run, so that N(0, I) samples decode to faces."""

    epochs: int = 100
    lr: float = 1e-4
    batch_size: int = 32
    flip: bool = True
    kl_schedule: str = "homework"
    kl_base: float = 1e-5
    kl_threshold: float = 0.015
    kl_weight: float = 2.5e-4
    kl_warmup: float = 10.0


def kl_weight(config: VaeConfig, mse: torch.Tensor, progress: float) -> torch.Tensor:
    """The KL term's weight for a batch with reconstruction error ``mse`` (on [-1, 1]) at
    ``progress`` epochs into training."""
    if config.kl_schedule == "anneal":
        return torch.full_like(mse, config.kl_weight * min(1.0, progress / config.kl_warmup))
    return homework_kl_weight(mse, config.kl_base, config.kl_threshold)


def vae_optimizer(vae: VAE, config: VaeConfig) -> torch.optim.Adam:
    return adam(vae.parameters(), lr=config.lr)


@torch.inference_mode()
def reconstruction_mse(vae: VAE, images: torch.Tensor, batch_size: int = 256) -> float:
    """Per-pixel mean squared error of the mean reconstruction, on [0, 1] pixels as the
    homework reports it (the model works on [-1, 1], where the same error reads 4x larger);
    eval mode, fp32."""
    training = vae.training
    vae.eval()
    total = torch.zeros((), dtype=torch.float64, device=images.device)  # read once, at the end
    for chunk in images.split(batch_size):
        x = faces_for_model(chunk)
        mean, _ = vae.encoder(x)
        total += F.mse_loss(vae.decoder(mean).float(), x, reduction="sum")
    vae.train(training)
    return total.item() / 4.0 / images[0].numel() / len(images)


def train_vae(run: Run, vae: VAE, train: torch.Tensor, test: torch.Tensor,
              config: VaeConfig) -> Iterator[dict[str, Any]]:
    """Train on (N, 3, 64, 64) uint8 ``train`` faces; yield per-epoch metrics with test MSE."""
    optimizer = run.optimizers["vae"]

    def epoch(index: int, run: Run) -> dict[str, Any]:
        vae.train()
        batches = index_batches(len(train), config.batch_size, run.generator)
        bar = run.progress_bar(len(batches), f"epoch {index + 1}/{config.epochs}")
        sums = torch.zeros(3, device=run.device)
        for step, batch in enumerate(batches):
            x = train[batch]
            if config.flip:
                x = horizontal_flip(x, run.generator)
            x = faces_for_model(x)
            with run.autocast():
                reconstruction, mean, logvar = vae(x)
                mse = F.mse_loss(reconstruction.float(), x)
                kl = kl_divergence(mean.float(), logvar.float())
            weight = kl_weight(config, mse, index + step / len(batches))
            loss = mse + weight * kl
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            sums += torch.stack([mse.detach(), kl.detach(), weight])
            bar.step(len(batch))
            if run.out_of_time():
                break
        rate = bar.close()
        means = (sums / (step + 1)).tolist()
        return {"mse": means[0], "kl": means[1], "kl_weight": means[2],
                "test_mse": reconstruction_mse(vae, test), "images_per_s": round(rate, 1),
                "partial": step + 1 < len(batches)}

    yield from run.loop(config.epochs, epoch)
