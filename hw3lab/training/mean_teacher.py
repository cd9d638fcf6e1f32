"""A mean teacher for domain adaptation (self-ensembling, French, Mackiewicz & Fisher, ICLR 2018),
with the distribution alignment of ReMixMatch (Berthelot et al., ICLR 2020).

The student learns the labelled source digits and, on an augmented view of each unlabelled
target digit, the class that the teacher (an exponential moving average of the student's
weights) predicts for the plain view, where the teacher is confident. As in the paper:
- the two domains go through the network in separate batches, so each BatchNorm normalises
  one domain (their AdaBN-like trick), and AdaBN makes the statistics exact at the end;
- only confident pseudo-labels count (``threshold``), and a class-balance term keeps the
  student's mean target prediction from piling into one class.
What we added, because the source model is confidently wrong on many target digits (on
usps->mnistm it calls a third of MNIST-M an 8, and plain pseudo-labels reinforce that):
- distribution alignment: the teacher's probabilities are scaled by a target class mix over
  their running mean over target batches (and renormalised) before the threshold, so a class
  the teacher over-predicts needs more evidence to become a pseudo-label;
- a band instead of a uniform prior (``prior_band``): the target class mix of the alignment
  and of the balance term is the running mean itself, clamped to within a factor of the
  uniform share (1.5: 6.7-15 %). Target domains are not balanced (a USPS digit is a 0 twice as
  often as an 8): a uniform prior pulled svhn->usps's 0s and 1s into other classes, while the
  band leaves a plausible mix alone and still pulls usps->mnistm's runaway 8s back.
The teacher starts as the source-only model and is what is kept: its last epoch, chosen
without any target label.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from hw3lab.data.transforms import digits_for_model
from hw3lab.models.digits import NUM_CLASSES
from hw3lab.training.common import Cycle, Run
from hw3lab.training.digits import DigitNets, Labelled, accuracy_of, adapt_batchnorm


@dataclass
class MeanTeacherConfig:
    epochs: int = 12
    steps_per_epoch: int = 200  # the same work on every task, whatever its splits' sizes
    lr: float = 3e-4
    batch_size: int = 128  # per domain
    grey: bool = True
    ema: float = 0.99
    threshold: float = 0.95
    prior_band: float = 1.5
    align: bool = True
    balance_weight: float = 1.0
    source_weight: float = 1.0
    augment: bool = True
    adapt_bn: bool = True


@torch.no_grad()
def update_teacher(teacher: nn.Module, student: nn.Module, decay: float) -> None:
    """teacher <- decay * teacher + (1 - decay) * student, for weights; buffers are copied
    (each in one multi-tensor operation)."""
    torch._foreach_lerp_(list(teacher.parameters()), list(student.parameters()), 1.0 - decay)
    buffers = list(teacher.buffers())
    if buffers:  # a module without buffers (the predictor) has nothing to copy
        torch._foreach_copy_(buffers, list(student.buffers()))


def within_band(class_mix: torch.Tensor, band: float) -> torch.Tensor:
    """The class mix nearest ``class_mix`` whose shares all lie within a factor ``band`` of
    uniform (band 1: the uniform mix). Target domains are not balanced (USPS has twice as
    many 0s as 8s), so a band lets a plausible mix stand and only pulls a class that takes
    far too much or too little towards its edge."""
    clamped = class_mix.clamp(1.0 / (band * NUM_CLASSES), band / NUM_CLASSES)
    return clamped / clamped.sum()


def aligned(probabilities: torch.Tensor, running_mean: torch.Tensor,
            band: float = 1.0) -> torch.Tensor:
    """ReMixMatch's distribution alignment: the probabilities scaled by the target class mix
    (``within_band`` of the running mean) over the running mean, then renormalised."""
    scaled = probabilities * within_band(running_mean, band) / running_mean.clamp_min(1e-6)
    return scaled / scaled.sum(1, keepdim=True)


def balance_penalty(log_probs: torch.Tensor, band: float = 1.0) -> torch.Tensor:
    """KL(mean prediction || its nearest mix within the band): zero when the batch's mean
    prediction lies within the band (band 1: when it is uniform)."""
    mean = log_probs.exp().mean(0)
    reference = within_band(mean.detach(), band)
    return (mean * (mean.clamp_min(1e-8).log() - reference.log())).sum()


def mean_teacher_step(student: DigitNets, teacher: DigitNets, source: torch.Tensor,
                      labels: torch.Tensor, target: torch.Tensor, class_mean: torch.Tensor,
                      config: MeanTeacherConfig, augment_with: torch.Generator | None,
                      ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The loss of one source and one target batch, and its parts; updates ``class_mean``."""
    with torch.no_grad():
        probabilities = teacher.predictor(teacher.extractor(
            digits_for_model(target, config.grey))).float().exp()
        class_mean.lerp_(probabilities.mean(0), 0.01)
        if config.align:
            probabilities = aligned(probabilities, class_mean, config.prior_band)
        confidence, pseudo = probabilities.max(1)
        mask = (confidence >= config.threshold).float()
    source_log_probs = student.predictor(student.extractor(
        digits_for_model(source, config.grey, augment_with))).float()
    target_log_probs = student.predictor(student.extractor(
        digits_for_model(target, config.grey, augment_with))).float()
    source_loss = F.nll_loss(source_log_probs, labels)
    target_loss = (F.nll_loss(target_log_probs, pseudo, reduction="none") * mask).mean()
    balance = balance_penalty(target_log_probs, config.prior_band)
    loss = config.source_weight * source_loss + target_loss + config.balance_weight * balance
    return loss, {"source_loss": source_loss, "target_loss": target_loss,
                  "balance": balance, "confident": mask.mean()}


def train_mean_teacher(run: Run, student: DigitNets, source: Labelled, val: Labelled,
                       target: torch.Tensor, config: MeanTeacherConfig,
                       ) -> Iterator[dict[str, Any]]:
    """Adapt ``student`` (initialised from the source-only model) to the unlabelled ``target``
    images; yield per-epoch metrics; end with the teacher's weights in ``student`` (with
    target BatchNorm statistics if adapt_bn)."""
    optimizer = run.optimizers["student"]
    teacher_nets = copy.deepcopy(student)
    if "teacher" in run.extra:  # resumed
        for key, module in teacher_nets.modules().items():
            module.load_state_dict(run.extra["teacher"][key])
    class_mean = run.extra.get("class_mean", torch.full((NUM_CLASSES,), 1.0 / NUM_CLASSES,
                                                          device=target.device))
    source_batches = Cycle(len(source), config.batch_size, run.generator)
    target_batches = Cycle(len(target), config.batch_size, run.generator)

    def epoch(index: int, run: Run) -> dict[str, Any]:
        for nets in (student, teacher_nets):
            nets.extractor.train()
            nets.predictor.train()
        bar = run.progress_bar(config.steps_per_epoch, f"epoch {index + 1}/{config.epochs}")
        sums: dict[str, torch.Tensor] = {}  # on the device, in float64; read once an epoch
        for _ in range(config.steps_per_epoch):
            batch, source_index = target_batches.next(), source_batches.next()
            with run.autocast():
                loss, parts = mean_teacher_step(
                    student, teacher_nets, source.images[source_index],
                    source.labels[source_index], target[batch], class_mean, config,
                    run.generator if config.augment else None)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            for key, module in student.modules().items():
                update_teacher(teacher_nets.modules()[key], module, config.ema)
            for key, value in parts.items():
                sums[key] = sums.get(key, 0.0) + value.detach().double()
            bar.step(2 * len(batch), loss=loss)
            if run.out_of_time():
                break
        rate, done = bar.close(), bar.steps
        run.extra.update(teacher={k: m.state_dict() for k, m in teacher_nets.modules().items()},
                         class_mean=class_mean)
        prior = class_mean.tolist()
        return {**{key: value.item() / done for key, value in sums.items()},
                "source_val_accuracy": accuracy_of(teacher_nets, val, config.grey),
                "predicted_prior_max": max(prior), "predicted_prior_min": min(prior),
                "images_per_s": round(rate, 1), "partial": done < config.steps_per_epoch}

    yield from run.loop(config.epochs, epoch)
    for key, module in student.modules().items():
        module.load_state_dict(teacher_nets.modules()[key].state_dict())
    if config.adapt_bn:
        adapt_batchnorm(student.extractor, target, config.grey)
