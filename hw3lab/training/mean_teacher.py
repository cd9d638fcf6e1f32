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
without any target label. The network's input convention is the source-only model's: the
shipped mean teachers start from one trained with ``--standardize``, whose extractor maps each
image x to (x - mean(x)) / std(x) before the first convolution (no weights: the state_dict
stays the homework's), which removes the brightness and contrast gap between domains. With it
the target test accuracy went from 59.23 / 85.27 / 82.46 % to 66.01 / 86.73 / 90.68 %
(usps->mnistm / mnistm->svhn / svhn->usps; docs/adaptation-research.md).
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
from hw3lab.models.digits import FEATURE_DIM, NUM_CLASSES
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
    # Half of each source batch gets an MNIST-M-like texture (docs/adaptation-research.md:
    # better than none on all three tasks' target training splits). SHOT's two terms are off.
    source_texture: float = 0.5  # share of source images given an MNIST-M-like texture
    im_weight: float = 0.0  # SHOT's information maximisation on the student's target views
    centroid_weight: float = 0.0  # SHOT's nearest-centroid pseudo-labels on every target view
    shear: float = 0.0  # the student's views slant by up to atan(shear) (augment_digits)
    stroke: float = 0.0  # share of the student's views with thicker or thinner strokes


def textured(images: torch.Tensor, generator: torch.Generator, share: float,
             cells: tuple[int, int] = (2, 8)) -> torch.Tensor:
    """A (N, C, H, W) uint8 batch where a random ``share`` of the images is blended, as
    MNIST-M was made from MNIST (Ganin & Lempitsky, 2015), with a random texture T:
    x' = |x - T|, in [0, 1] per channel. T = clamp(m + a (U - 1/2), 0, 1) with a level
    m ~ U(0, 1) and an amplitude a ~ U(0, 1) per image, and U uniform noise on a coarse grid
    of g x g cells (g drawn from ``cells`` per image) upsampled bilinearly to H x W: smooth
    blotches like a photograph patch, from a flat grey (a near 0) to strong texture. It is
    drawn per channel, so a colour pipeline sees colour and a grey one mixed luminance. The
    digit keeps its shape (|x - T| turns a stroke dark where T is bright, and a stroke on a
    mid-grey T has little contrast, like many grey MNIST-M digits): the source labels then
    teach a clean-to-textured invariance that the target's pseudo-labels alone learn slowly."""
    if share <= 0:
        return images
    n, c, h, w = images.shape
    device = images.device
    x = images.float().div(255.0)
    texture = torch.empty_like(x)
    grids = torch.randint(cells[0], cells[1] + 1, (n,), device=device, generator=generator)
    for size in grids.unique().tolist():
        chosen = grids == size
        coarse = torch.rand(int(chosen.sum()), c, size, size, device=device, generator=generator)
        texture[chosen] = F.interpolate(coarse, size=(h, w), mode="bilinear",
                                        align_corners=False)
    level = torch.rand(n, 1, 1, 1, device=device, generator=generator)
    amplitude = torch.rand(n, 1, 1, 1, device=device, generator=generator)
    texture = (level + amplitude * (texture - 0.5)).clamp(0.0, 1.0)
    picked = torch.rand(n, device=device, generator=generator) < share
    blended = torch.where(picked.view(-1, 1, 1, 1), (x - texture).abs(), x)
    return blended.mul(255.0).round().to(torch.uint8)


def information_maximisation(log_probs: torch.Tensor) -> torch.Tensor:
    """SHOT's information maximisation loss (Liang, Hu & Feng, ICML 2020), to minimise:
    mean_i H(p_i) - H(mean_i p_i). The first term makes each prediction confident, the
    second keeps the batch's predictions spread over the classes; its minimum, -log K, is a
    batch of one-hot predictions that use every class equally."""
    probabilities = log_probs.exp()
    entropy = -(probabilities * log_probs).sum(1).mean()
    mean = probabilities.mean(0)
    return entropy + (mean * mean.clamp_min(1e-8).log()).sum()


def nearest_centroid_labels(features: torch.Tensor, probabilities: torch.Tensor,
                            centroids: torch.Tensor, momentum: float = 0.01) -> torch.Tensor:
    """SHOT's self-supervised pseudo-labels, kept running over batches: each class centroid
    moves towards its batch centroid c_k = sum_i p_ik f_i / sum_i p_ik (``momentum``, and
    only where the class has any weight), then each image gets the class of its nearest
    centroid by cosine distance. ``centroids`` (K, D) is updated in place; its first use
    (all zeros) takes the batch centroids as they are."""
    weights = probabilities.sum(0)
    batch = (probabilities.t() @ features) / weights.clamp_min(1e-8).unsqueeze(1)
    fresh = centroids.abs().sum() == 0
    present = (weights > 1e-3).unsqueeze(1)
    step = 1.0 if bool(fresh) else momentum
    centroids.copy_(torch.where(present, centroids.lerp(batch, step), centroids))
    return (F.normalize(features, dim=1) @ F.normalize(centroids, dim=1).t()).argmax(1)


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
                      centroids: torch.Tensor | None = None,
                      ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The loss of one source and one target batch, and its parts; updates ``class_mean``
    (and ``centroids``, the running class centroids of the teacher's target features, where
    ``config.centroid_weight`` uses them)."""
    with torch.no_grad():
        features = teacher.extractor(digits_for_model(target, config.grey))
        probabilities = teacher.predictor(features).float().exp()
        class_mean.lerp_(probabilities.mean(0), 0.01)
        if config.align:
            probabilities = aligned(probabilities, class_mean, config.prior_band)
        confidence, pseudo = probabilities.max(1)
        mask = (confidence >= config.threshold).float()
        if config.centroid_weight > 0 and centroids is not None:
            by_centroid = nearest_centroid_labels(features.float().flatten(1), probabilities,
                                                  centroids)
    if augment_with is not None and config.source_texture > 0:
        source = textured(source, augment_with, config.source_texture)
    views = {"shear": config.shear, "stroke": config.stroke}
    source_log_probs = student.predictor(student.extractor(
        digits_for_model(source, config.grey, augment_with, **views))).float()
    target_log_probs = student.predictor(student.extractor(
        digits_for_model(target, config.grey, augment_with, **views))).float()
    source_loss = F.nll_loss(source_log_probs, labels)
    target_loss = (F.nll_loss(target_log_probs, pseudo, reduction="none") * mask).mean()
    balance = balance_penalty(target_log_probs, config.prior_band)
    loss = config.source_weight * source_loss + target_loss + config.balance_weight * balance
    parts = {"source_loss": source_loss, "target_loss": target_loss, "balance": balance,
             "confident": mask.mean()}
    if config.im_weight > 0:
        parts["information"] = information_maximisation(target_log_probs)
        loss = loss + config.im_weight * parts["information"]
    if config.centroid_weight > 0 and centroids is not None:
        parts["centroid_loss"] = F.nll_loss(target_log_probs, by_centroid)
        parts["centroid_agrees"] = (by_centroid == pseudo).float().mean()
        loss = loss + config.centroid_weight * parts["centroid_loss"]
    return loss, parts


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
    centroids = run.extra.get("centroids")
    if centroids is None and config.centroid_weight > 0:
        centroids = torch.zeros(NUM_CLASSES, FEATURE_DIM, device=target.device)
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
                    run.generator if config.augment else None, centroids)
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
                         class_mean=class_mean, centroids=centroids)
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
