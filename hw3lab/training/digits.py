"""Digit data and evaluation shared by source-only, target-only, DANN and ADDA.

Splits are held on the device as uint8 and turned into the homework's input recipe (grey,
Normalize(0.5), three channels) batch by batch. Accuracy always comes from
:func:`hw3lab.metrics.accuracy`, the function ``hw3lab.evaluate`` uses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np
import torch
from torch import nn

from hw3lab.data import load_digits
from hw3lab.data.transforms import digits_for_model, uses_grey
from hw3lab.errors import UserInputError
from hw3lab.methods import task_name
from hw3lab.metrics import accuracy
from hw3lab.models import Extractor, Predictor
from hw3lab.training.common import Run, clone_state, on_device

HOLDOUT = 0.3  # the homework's share of the labelled training split kept for validation
Recipe = TypeVar("Recipe")


def for_task(config: Recipe, source: str, target: str,
             task_lr: dict[str, float] | None = None) -> Recipe:
    """``config`` (a digit recipe: Supervised, Dann or AddaConfig) with the homework's per-task
    settings wherever it leaves them None: batch 64 when the task involves USPS, else 256, grey
    inputs whenever a colour domain is involved, and the learning rate of ``task_lr``."""
    settings = {"batch_size": config.batch_size or (64 if "usps" in (source, target) else 256),
                "grey": uses_grey((source, target)) if config.grey is None else config.grey}
    if task_lr is not None and config.lr is None:
        settings["lr"] = task_lr[task_name(source, target)]
    return replace(config, **settings)


def run_name(source: str, target: str, method: str, seed: int) -> str:
    """The name of a digit run's state and metrics files."""
    return f"{task_name(source, target)}-{method}-seed{seed}"


@dataclass
class Labelled:
    """Images (N, C, 28, 28) uint8 and labels (N,) int64, both on the device."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: torch.Tensor | np.ndarray) -> Labelled:
        index = torch.as_tensor(index, device=self.images.device)
        return Labelled(self.images[index], self.labels[index])


def load_labelled(domain: str, split: str, root: str | os.PathLike | None,
                  device: torch.device) -> Labelled:
    data = load_digits(domain, split, root)
    return Labelled(on_device(data.images, device), torch.as_tensor(data.targets, device=device))


def holdout(data: Labelled, fraction: float, seed: int) -> tuple[Labelled, Labelled]:
    """(train, validation): ``fraction`` of the items, chosen by ``seed``, held out."""
    order = np.random.default_rng(seed).permutation(len(data))
    held = int(round(len(data) * fraction))
    if fraction > 0 and (held == 0 or held == len(data)):
        raise UserInputError(f"cannot hold out {fraction:.0%} of only {len(data)} images")
    return data.take(np.sort(order[held:])), data.take(np.sort(order[:held]))


@dataclass
class DigitNets:
    """The extractor and label predictor trained together."""

    extractor: Extractor
    predictor: Predictor

    def to(self, device: torch.device) -> DigitNets:
        self.extractor.to(device)
        self.predictor.to(device)
        return self

    def modules(self) -> dict[str, nn.Module]:
        return {"extractor": self.extractor, "predictor": self.predictor}


@torch.inference_mode()
def predict_labels(extractor: nn.Module, predictor: nn.Module, images: torch.Tensor, grey: bool,
                   batch_size: int = 1024) -> np.ndarray:
    """Predicted classes of (N, C, 28, 28) uint8 images, in eval mode; modes are restored."""
    modes = extractor.training, predictor.training
    extractor.eval()
    predictor.eval()
    out = []
    for chunk in images.split(batch_size):
        out.append(predictor(extractor(digits_for_model(chunk, grey))).argmax(1).cpu())
    extractor.train(modes[0])
    predictor.train(modes[1])
    return torch.cat(out).numpy()


def accuracy_of(nets: DigitNets, data: Labelled, grey: bool) -> float:
    return accuracy(predict_labels(nets.extractor, nets.predictor, data.images, grey),
                    data.labels.cpu().numpy())


@torch.no_grad()
def adapt_batchnorm(extractor: nn.Module, images: torch.Tensor, grey: bool,
                    batch_size: int = 256) -> None:
    """AdaBN (Li et al., 2016): replace every BatchNorm's running statistics by the exact mean
    and variance over ``images`` (unlabelled target images), so that at test time the target
    domain is normalised by its own statistics, as it was during training in its own batches."""
    norms = [m for m in extractor.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.training) for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over every batch
        m.train()
    for chunk in images.split(batch_size):
        extractor(digits_for_model(chunk, grey))
    for m, (momentum, training) in zip(norms, saved, strict=True):
        m.momentum = momentum
        m.train(training)


def keep_if_best(run: Run, nets: DigitNets, score: float) -> bool:
    """Remember the model if ``score`` (validation accuracy) is the best so far; ties go to the
    later epoch, which has trained longer."""
    if score < run.extra.get("best_score", -1.0):
        return False
    run.extra.update(best_score=score, best_epoch=run.epoch + 1,
                     best_state={k: clone_state(m) for k, m in nets.modules().items()})
    return True


def restore_best(run: Run, nets: DigitNets) -> None:
    if "best_state" in run.extra:
        for key, module in nets.modules().items():
            module.load_state_dict(run.extra["best_state"][key])
