"""DANN (Ganin & Lempitsky, 2015): a label predictor and a domain classifier behind gradient
reversal share one extractor, so features that predict labels stop telling domains apart.

Done carefully, because a literal version lost to source-only here:
- source and target batches go through the extractor separately, so each BatchNorm normalises
  a batch of one domain (mixed batches would hide the shift that BN can absorb);
- the reversal strength follows the paper's 2 / (1 + exp(-10 p)) - 1 and the learning rate its
  annealing lr / (1 + 10 p)^0.75, where p is the training progress;
- the model kept is the best on the held-out source validation split (never target labels);
- optionally (default on) AdaBN: at the end the extractor's BatchNorm statistics are recomputed
  on the unlabelled target training images, the statistics its target batches had in training;
- optionally (``augment``, off in the homework's recipe) both domains' training batches are
  randomly zoomed, rotated, shifted and inverted (:func:`hw3lab.data.transforms.augment_digits`),
  so the extractor cannot tell the domains apart by digit size or polarity alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812

from hw3lab.data.transforms import digits_for_model
from hw3lab.models import DomainClassifier
from hw3lab.training.common import (
    Cycle,
    Run,
    adam,
    annealed_lr,
    dann_lambda,
    index_batches,
    progress_fraction,
    set_lr,
)
from hw3lab.training.digits import (
    DigitNets,
    Labelled,
    accuracy_of,
    adapt_batchnorm,
    keep_if_best,
    restore_best,
)


@dataclass
class DannConfig:
    epochs: int = 20
    lr: float = 1e-3
    batch_size: int = 256
    grey: bool = True
    gamma: float = 10.0  # steepness of the reversal-strength schedule
    max_lambda: float = 1.0
    anneal_lr: bool = True
    domain_weight: float = 1.0
    adapt_bn: bool = True
    augment: bool = False


def dann_step(nets: DigitNets, domain: DomainClassifier, source: torch.Tensor,
              labels: torch.Tensor, target: torch.Tensor, strength: float,
              config: DannConfig, augment_with: torch.Generator | None = None,
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(label loss, domain loss, domain accuracy) of one source batch and one target batch."""
    source_features = nets.extractor(digits_for_model(source, config.grey, augment_with))
    target_features = nets.extractor(digits_for_model(target, config.grey, augment_with))
    label_loss = F.nll_loss(nets.predictor(source_features).float(), labels)
    domain_log_probs = torch.cat([domain(source_features, strength),
                                  domain(target_features, strength)]).float()
    domain_labels = torch.cat([torch.zeros(len(source), dtype=torch.long, device=source.device),
                               torch.ones(len(target), dtype=torch.long, device=source.device)])
    domain_loss = F.nll_loss(domain_log_probs, domain_labels)
    domain_accuracy = (domain_log_probs.argmax(1) == domain_labels).float().mean()
    return label_loss, domain_loss, domain_accuracy


def train_dann(run: Run, nets: DigitNets, domain: DomainClassifier, source: Labelled,
               val: Labelled, target: torch.Tensor,
               config: DannConfig) -> Iterator[dict[str, Any]]:
    """Train on labelled ``source`` and unlabelled ``target`` images; yield per-epoch metrics;
    end on the best source-validation model (with target BatchNorm statistics if adapt_bn)."""
    optimizer = run.optimizers["dann"]
    target_batches = Cycle(len(target), config.batch_size, run.generator)

    def epoch(index: int, run: Run) -> dict[str, Any]:
        for module in (nets.extractor, nets.predictor, domain):
            module.train()
        batches = index_batches(len(source), config.batch_size, run.generator)
        bar = run.progress_bar(len(batches), f"epoch {index + 1}/{config.epochs}")
        sums = torch.zeros(3, device=run.device)  # read once an epoch
        for step, batch in enumerate(batches):
            p = progress_fraction(index, step, len(batches), config.epochs)
            strength = config.max_lambda * dann_lambda(p, config.gamma)
            if config.anneal_lr:
                set_lr(optimizer, annealed_lr(config.lr, p))
            with run.autocast():
                label_loss, domain_loss, domain_accuracy = dann_step(
                    nets, domain, source.images[batch], source.labels[batch],
                    target[target_batches.next()], strength, config,
                    run.generator if config.augment else None)
            loss = label_loss + config.domain_weight * domain_loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            values = torch.stack([label_loss, domain_loss, domain_accuracy]).detach()
            sums += values
            bar.step(2 * len(batch), loss=values[0], domain=values[1])
            if run.out_of_time():
                break
        rate = bar.close()
        means = (sums / (step + 1)).tolist()
        val_accuracy = accuracy_of(nets, val, config.grey)
        best = keep_if_best(run, nets, val_accuracy)
        return {"label_loss": means[0], "domain_loss": means[1], "domain_accuracy": means[2],
                "lambda": strength, "lr": optimizer.param_groups[0]["lr"],
                "val_accuracy": val_accuracy, "best": best, "images_per_s": round(rate, 1),
                "partial": step + 1 < len(batches)}

    yield from run.loop(config.epochs, epoch)
    restore_best(run, nets)
    if config.adapt_bn:
        adapt_batchnorm(nets.extractor, target, config.grey)


def dann_optimizer(nets: DigitNets, domain: DomainClassifier, lr: float) -> torch.optim.Adam:
    return adam([*nets.extractor.parameters(), *nets.predictor.parameters(),
                 *domain.parameters()], lr=lr)
