"""The DCGAN loop: the homework's recipe, and the changes that make it work on a CPU budget.

The homework's recipe is BCE, Adam (lr 1e-4, beta1 0.9) for both players, a generator step then
a discriminator step per batch and horizontal flips of the real faces (``GanConfig.homework()``).
On 9,000 faces its discriminator wins early (D loss near 0, noise-like samples for the first
30 k images) and the faces stay blotchy. The default recipe (the shipped generator's) keeps the
networks and the loss and changes six things, each a field here:

* Adam beta1 0.5 and lr 2e-4 (Radford et al. 2016, the DCGAN paper's own setting);
* one-sided label smoothing, real target 0.9 (Salimans et al. 2016);
* DiffAugment on real and generated faces alike (Zhao et al. 2020), so that the discriminator
  cannot memorise the training faces;
* an exponential moving average of the generator's weights for sampling (Karras et al. 2018;
  Yazici et al. 2019), whose BatchNorm statistics are re-estimated before it is used;
* the R1 penalty at the real faces, gamma/2 E|grad D(x)|^2 with gamma 0.01 (``r1``, Mescheder
  et al. 2018), which keeps the discriminator's gradient at the data small;
* a mode-seeking term for the generator, weight 1 (``mode_seeking``, Mao et al. 2019), against
  the averaged generator's low diversity.

The loss is computed from the discriminator's pre-sigmoid output with a logits loss, which is
exact, stable and allowed under autocast; the saved state_dict is still the homework's.

Two options, off by default, for continuing a run: a linear lr decay from an epoch on
(``decay_from``) and a slower or faster discriminator (``disc_lr_scale``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from PIL import Image
from torch import nn

from hw3lab.data.transforms import diff_augment, faces_for_model, faces_to_uint8, horizontal_flip
from hw3lab.errors import UserInputError
from hw3lab.models import Discriminator, Generator
from hw3lab.models.gan import NOISE_DIM
from hw3lab.training.common import Run, adam, index_batches

GRID_FACES = 64  # an 8x8 grid of fixed noise
GRID_SEED = 1234


@dataclass
class GanConfig:
    epochs: int = 70
    lr: float = 2e-4
    beta1: float = 0.5
    batch_size: int = 64
    flip: bool = True
    real_label: float = 0.9
    diffaugment: bool = True
    ema: float = 0.999
    snapshot_every: int = 2
    decay_from: int = 0
    disc_lr_scale: float = 1.0
    r1: float = 0.01
    mode_seeking: float = 1.0

    def epoch_lr(self, index: int) -> float:
        """The generator's lr in epoch ``index`` (from 0; the discriminator's is
        ``disc_lr_scale`` times it): constant, or with ``decay_from`` set, falling linearly
        from that epoch on to lr / (epochs - decay_from) in the last."""
        if not self.decay_from or index < self.decay_from:
            return self.lr
        return self.lr * (self.epochs - index) / (self.epochs - self.decay_from)

    @classmethod
    def homework(cls, **overrides: Any) -> GanConfig:
        """The homework's recipe: lr 1e-4, beta1 0.9, hard labels, no augmentation, no EMA, no
        R1 and no mode seeking."""
        return cls(**{"lr": 1e-4, "beta1": 0.9, "real_label": 1.0, "diffaugment": False,
                      "ema": 0.0, "r1": 0.0, "mode_seeking": 0.0, **overrides})


def gan_optimizers(generator: Generator, discriminator: Discriminator,
                   config: GanConfig) -> dict[str, torch.optim.Adam]:
    betas = (config.beta1, 0.999)
    return {"generator": adam(generator.parameters(), lr=config.lr, betas=betas),
            "discriminator": adam(discriminator.parameters(), lr=config.lr, betas=betas)}


@torch.no_grad()
def update_average(average: nn.Module, live: nn.Module, decay: float) -> None:
    """average <- decay * average + (1 - decay) * live, over the weights only (in one
    multi-tensor operation)."""
    torch._foreach_lerp_(list(average.parameters()), list(live.parameters()), 1.0 - decay)


@torch.no_grad()
def recalibrate_batchnorm(generator: Generator, generator_rng: torch.Generator,
                          batches: int = 32, batch_size: int = 128) -> None:
    """Re-estimate the generator's BatchNorm running statistics as exact averages over
    ``batches`` noise batches: an averaged generator's weights do not match the statistics
    that the live one collected, and eval-mode sampling reads them."""
    norms = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average
    mode = generator.training
    generator.train()
    device = next(generator.parameters()).device
    for _ in range(batches):
        generator(torch.randn(batch_size, NOISE_DIM, device=device, generator=generator_rng))
    generator.train(mode)
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum


def fixed_noise(device: torch.device, count: int = GRID_FACES) -> torch.Tensor:
    return torch.randn(count, NOISE_DIM, generator=torch.Generator().manual_seed(GRID_SEED)).to(
        device)


@torch.no_grad()
def sample_grid(generator: Generator, noise: torch.Tensor, columns: int = 8) -> np.ndarray:
    """Eval-mode faces for ``noise`` tiled into one (rows*64, columns*64, 3) uint8 image."""
    mode = generator.training
    generator.eval()
    faces = faces_to_uint8(generator(noise))
    generator.train(mode)
    rows = len(faces) // columns
    return faces[:rows * columns].reshape(rows, columns, 64, 64, 3).transpose(
        0, 2, 1, 3, 4).reshape(rows * 64, columns * 64, 3)


def sampling_generator(run: Run, generator: Generator, config: GanConfig) -> Generator:
    """The generator that samples: the averaged one (BatchNorm re-estimated) or the live one."""
    if not config.ema:
        return generator
    averaged = run.modules["generator_ema"]
    recalibrate_batchnorm(averaged, torch.Generator(run.device).manual_seed(run.seed))
    return averaged


def snapshot_folder(run: Run) -> Path | None:
    return run.state_dir / run.name if run.state_dir else None


def train_gan(run: Run, generator: Generator, discriminator: Discriminator, train: torch.Tensor,
              config: GanConfig) -> Iterator[dict[str, Any]]:
    """Train on (N, 3, 64, 64) uint8 ``train`` faces; yield per-epoch losses and D outputs.

    With ``config.ema`` the run's modules must hold ``generator_ema`` (see
    :func:`averaged_copy`). Every ``snapshot_every`` epochs (and at the last) the sampling
    generator's fixed-noise grid is written to ``state_dir/<run>/grid-eNNN.png`` and both
    players' weights to ``snapshot-eNNN.pt``, to pick the shipped epoch from.
    """
    optimizers = run.optimizers
    averaged = run.modules.get("generator_ema")
    noise_grid = fixed_noise(run.device)

    def augment(images: torch.Tensor) -> torch.Tensor:
        return diff_augment(images, run.generator) if config.diffaugment else images

    def epoch(index: int, run: Run) -> dict[str, Any]:
        generator.train()
        discriminator.train()
        lr = config.epoch_lr(index)
        for player, scale in (("generator", 1.0), ("discriminator", config.disc_lr_scale)):
            for group in optimizers[player].param_groups:
                group["lr"] = lr * scale
        batches = index_batches(len(train), config.batch_size, run.generator, drop_last=True)
        bar = run.progress_bar(len(batches), f"epoch {index + 1}/{config.epochs}")
        sums = torch.zeros(4, device=run.device)
        for batch in batches:
            real = train[batch]
            if config.flip:
                real = horizontal_flip(real, run.generator)
            real = faces_for_model(real)
            noise = torch.randn(len(batch), NOISE_DIM, device=run.device,
                                generator=run.generator)
            discriminator.requires_grad_(False)  # the generator step needs no D weight grads
            with run.autocast():
                fake = generator(noise)
                fooled = discriminator.logits(augment(fake)).float()
                generator_loss = F.binary_cross_entropy_with_logits(
                    fooled, torch.ones_like(fooled))
            if config.mode_seeking:
                generator_loss = generator_loss + config.mode_seeking * mode_seeking_penalty(
                    fake.float(), noise)
            optimizers["generator"].zero_grad(set_to_none=True)
            generator_loss.backward()
            optimizers["generator"].step()
            if averaged is not None:
                update_average(averaged, generator, config.ema)
            discriminator.requires_grad_(True)
            real_input = augment(real).requires_grad_(config.r1 > 0)
            with run.autocast():
                real_score = discriminator.logits(real_input).float()
                fake_score = discriminator.logits(augment(fake.detach())).float()
                disc_loss = (F.binary_cross_entropy_with_logits(
                    real_score, torch.full_like(real_score, config.real_label))
                    + F.binary_cross_entropy_with_logits(fake_score, torch.zeros_like(fake_score)))
            if config.r1:
                disc_loss = disc_loss + config.r1 / 2 * r1_penalty(real_score, real_input)
            optimizers["discriminator"].zero_grad(set_to_none=True)
            disc_loss.backward()
            optimizers["discriminator"].step()
            sums += torch.stack([generator_loss, disc_loss, real_score.sigmoid().mean(),
                                 fake_score.sigmoid().mean()]).detach()
            bar.step(len(batch))
            if run.out_of_time():
                break
        rate, done = bar.close(), bar.steps
        means = (sums / max(done, 1)).tolist()
        last = index + 1 == config.epochs or run.out_of_time()
        if (index + 1) % config.snapshot_every == 0 or last:
            write_snapshot(run, sampling_generator(run, generator, config), noise_grid, index + 1)
        return {"generator_loss": means[0], "disc_loss": means[1], "d_real": means[2],
                "d_fake": means[3], "images_seen": (index + 1) * len(batches) * config.batch_size,
                "images_per_s": round(rate, 1), "partial": done < len(batches),
                "lr": lr}

    yield from run.loop(config.epochs, epoch)


def r1_penalty(scores: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """Mean squared norm of the discriminator's gradient at the real faces (R1, Mescheder et
    al. 2018): it keeps the discriminator from sharpening its edge around the training faces,
    the instability that a discriminator far ahead of its generator shows."""
    (gradient,) = torch.autograd.grad(scores.sum(), inputs, create_graph=True)
    return gradient.pow(2).flatten(1).sum(1).mean()


def mode_seeking_penalty(faces: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """1 / (mean |G(z1) - G(z2)| / mean |z1 - z2|) over the batch's two halves (MSGAN, Mao et
    al. 2019): small when faces of different noise differ, so the generator is pushed to spend
    its noise on variety instead of returning the faces that fool the discriminator best."""
    half = len(faces) // 2
    spread = (faces[:half] - faces[half:2 * half]).abs().mean() / (
        noise[:half] - noise[half:2 * half]).abs().mean()
    return 1.0 / (spread + 1e-5)


def averaged_copy(generator: Generator) -> Generator:
    """A frozen copy of ``generator`` to hold the moving average of its weights."""
    return copy.deepcopy(generator).requires_grad_(False)


def load_snapshot(run: Run, epoch: int) -> dict[str, dict[str, torch.Tensor]]:
    """The state_dicts of the run's snapshot of ``epoch``: ``generator`` (the sampling one),
    ``discriminator`` and, beside an averaged generator, ``live_generator``."""
    folder = snapshot_folder(run)
    path = folder / f"snapshot-e{epoch:03d}.pt" if folder else None
    if path is None or not path.is_file():
        raise UserInputError(f"no snapshot of epoch {epoch} in {folder}: snapshots are written "
                             "every --snapshot-every epochs")
    return torch.load(path, map_location=run.device, weights_only=True)


def write_snapshot(run: Run, generator: Generator, noise: torch.Tensor, epoch: int) -> None:
    folder = snapshot_folder(run)
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sample_grid(generator, noise)).save(folder / f"grid-e{epoch:03d}.png")
    players = {"generator": generator.state_dict(),
               "discriminator": run.modules["discriminator"].state_dict()}
    if generator is not run.modules["generator"]:  # the live one too, to compare with the average
        players["live_generator"] = run.modules["generator"].state_dict()
    torch.save(players, folder / f"snapshot-e{epoch:03d}.pt")
