"""ADDA (Tzeng et al., 2017): a target extractor, initialised from the source one, learns to
fool a domain discriminator while the source extractor and the label predictor stay frozen.

Done carefully, because a literal version collapsed to chance here:
- Adam with betas (0.5, 0.999) for both players, as in the paper;
- the GAN-style inverted-label loss for the target extractor (its features labelled 'source'),
  not a reversed discriminator loss, which saturates once the discriminator wins;
- each extractor normalises its own batches (``source_batch_stats``, default on: the frozen
  source extractor uses its batch's BatchNorm statistics too, as the target one does), so the
  discriminator cannot win on a normalisation mismatch alone; the target extractor sees
  target batches only, and AdaBN at the end (default on) makes its statistics exact;
- the discriminator skips its update while it already separates the domains better than
  ``max_disc_accuracy``, so it cannot overpower the target extractor;
- optionally (``augment``, as for DANN) both domains' batches are augmented;
- optionally (``class_weighted``) the discriminator weighs each source feature by its class's
  estimated target-to-source prior ratio (importance-weighted ADDA, after Combes et al., 2020):
  aligning the plain feature marginals of domains whose class mixes differ (USPS has twice
  SVHN's share of zeros) pushes target features of the over-represented classes into others.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812

from hw3lab.data.transforms import digits_for_model
from hw3lab.models import DomainDiscriminator, Extractor
from hw3lab.models.digits import NUM_CLASSES
from hw3lab.training.common import Cycle, Run, adam, index_batches
from hw3lab.training.digits import (
    DigitNets,
    Labelled,
    adapt_batchnorm,
    predict_labels,
)

ADDA_BETAS = (0.5, 0.999)
# The homework's learning rate per task, used where AddaConfig.lr is None.
HOMEWORK_TASK_LR = {"usps-mnistm": 1e-4, "mnistm-svhn": 1e-3, "svhn-usps": 1e-5}


@dataclass
class AddaConfig:
    epochs: int = 20
    lr: float | None = None  # None: the homework's rate for the task (HOMEWORK_TASK_LR)
    disc_lr: float | None = None  # None: the same as lr
    batch_size: int = 256
    grey: bool = True
    max_disc_accuracy: float = 0.9
    adapt_bn: bool = True
    source_batch_stats: bool = True
    augment: bool = False
    class_weighted: bool = False


def adda_optimizers(target_extractor: Extractor, discriminator: DomainDiscriminator,
                    config: AddaConfig) -> dict[str, torch.optim.Adam]:
    return {
        "target_extractor": adam(target_extractor.parameters(), lr=config.lr,
                                 betas=ADDA_BETAS),
        "discriminator": adam(discriminator.parameters(),
                              lr=config.disc_lr or config.lr, betas=ADDA_BETAS),
    }


def domain_labels(source: int, target: int, device: torch.device) -> torch.Tensor:
    return torch.cat([torch.zeros(source, dtype=torch.long, device=device),
                      torch.ones(target, dtype=torch.long, device=device)])


def class_weights(source_model: DigitNets, source_labels: torch.Tensor, target: torch.Tensor,
                  grey: bool, limit: float = 10.0) -> torch.Tensor:
    """Per-class weights p_target(c) / p_source(c), clipped to [1/limit, limit]. The target
    prior is the source model's predicted class mix on the unlabelled target images, with its
    BatchNorm statistics adapted to them (target labels are never read)."""
    adapted = copy.deepcopy(source_model.extractor)
    adapt_batchnorm(adapted, target, grey)
    predicted = torch.as_tensor(predict_labels(adapted, source_model.predictor, target, grey))
    target_prior = (torch.bincount(predicted, minlength=NUM_CLASSES) + 1).float()
    source_prior = (torch.bincount(source_labels.cpu(), minlength=NUM_CLASSES) + 1).float()
    ratio = (target_prior / target_prior.sum()) / (source_prior / source_prior.sum())
    return ratio.clamp(1 / limit, limit).to(source_labels.device)


def train_adda(run: Run, source_extractor: Extractor, target_extractor: Extractor,
               discriminator: DomainDiscriminator, source: Labelled, target: torch.Tensor,
               config: AddaConfig,
               weights: torch.Tensor | None = None) -> Iterator[dict[str, Any]]:
    """Adapt ``target_extractor`` to the unlabelled ``target`` images; yield per-epoch metrics.
    ``weights`` (per source class, see :func:`class_weights`) weigh the source side of the
    discriminator's loss. The last model is kept: without target labels there is nothing
    honest to select on."""
    optimizers = run.optimizers
    source_extractor.train(config.source_batch_stats).requires_grad_(False)
    target_batches = Cycle(len(target), config.batch_size, run.generator)

    def epoch(index: int, run: Run) -> dict[str, Any]:
        target_extractor.train()
        discriminator.train()
        batches = index_batches(len(source), config.batch_size, run.generator)
        bar = run.progress_bar(len(batches), f"epoch {index + 1}/{config.epochs}")
        sums, disc_updates = torch.zeros(3, device=run.device), 0  # sums read once an epoch
        augment_with = run.generator if config.augment else None
        for batch in batches:
            target_images = digits_for_model(target[target_batches.next()], config.grey,
                                        augment_with)
            with run.autocast():
                with torch.no_grad():
                    source_features = source_extractor(digits_for_model(
                        source.images[batch], config.grey, augment_with))
                target_features = target_extractor(target_images)
                labels = domain_labels(len(batch), len(target_features), run.device)
                log_probs = discriminator(torch.cat([source_features,
                                                     target_features.detach()])).float()
                losses = F.nll_loss(log_probs, labels, reduction="none")
                if weights is not None:
                    losses[:len(batch)] *= weights[source.labels[batch]]
                disc_loss = losses.mean()
            disc_accuracy = (log_probs.argmax(1) == labels).float().mean()
            # the one host sync per step: the skip rule needs the accuracy on the host
            if disc_accuracy.item() <= config.max_disc_accuracy:
                optimizers["discriminator"].zero_grad(set_to_none=True)
                disc_loss.backward()
                optimizers["discriminator"].step()
                disc_updates += 1
            with run.autocast():
                fooled = discriminator(target_features).float()
                target_loss = F.nll_loss(fooled, torch.zeros_like(labels[:len(fooled)]))
            optimizers["target_extractor"].zero_grad(set_to_none=True)
            target_loss.backward()
            optimizers["target_extractor"].step()
            values = torch.stack([disc_loss, target_loss, disc_accuracy]).detach()
            sums += values
            bar.step(len(batch) + len(target_features), disc=values[0], target=values[1])
            if run.out_of_time():
                break
        rate, done = bar.close(), bar.steps
        means = (sums / done).tolist()
        return {"disc_loss": means[0], "target_loss": means[1], "disc_accuracy": means[2],
                "disc_updates": disc_updates, "images_per_s": round(rate, 1),
                "partial": done < len(batches)}

    yield from run.loop(config.epochs, epoch)
    if config.adapt_bn:
        adapt_batchnorm(target_extractor, target, config.grey)
