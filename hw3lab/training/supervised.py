"""Source-only and target-only training: the homework's classifier on one labelled domain.

Source-only is the lower bound of adaptation (and ADDA's pretrained source model), target-only
the upper bound. The best model on the held-out validation split is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812

from hw3lab.data.transforms import digits_for_model
from hw3lab.training.common import Run, adam, index_batches
from hw3lab.training.digits import DigitNets, Labelled, accuracy_of, keep_if_best, restore_best


@dataclass
class SupervisedConfig:
    epochs: int = 20
    lr: float = 1e-3
    batch_size: int = 256
    grey: bool = True
    augment: bool = False
    standardize: bool = False


def classifier_optimizer(nets: DigitNets, lr: float) -> torch.optim.Adam:
    return adam([*nets.extractor.parameters(), *nets.predictor.parameters()], lr=lr)


def train_supervised(run: Run, nets: DigitNets, train: Labelled, val: Labelled,
                     config: SupervisedConfig) -> Iterator[dict[str, Any]]:
    """Train with NLL on ``train``; yield per-epoch metrics; end on the best ``val`` model."""
    optimizer = run.optimizers["classifier"]

    def epoch(index: int, run: Run) -> dict[str, Any]:
        nets.extractor.train()
        nets.predictor.train()
        batches = index_batches(len(train), config.batch_size, run.generator)
        bar = run.progress_bar(len(batches), f"epoch {index + 1}/{config.epochs}")
        total = torch.zeros((), dtype=torch.float64, device=run.device)  # read once an epoch
        for batch in batches:
            with run.autocast():
                log_probs = nets.predictor(nets.extractor(
                    digits_for_model(train.images[batch], config.grey,
                                run.generator if config.augment else None)))
                loss = F.nll_loss(log_probs.float(), train.labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach()
            bar.step(len(batch), loss=loss)
            if run.out_of_time():
                break
        rate, done = bar.close(), bar.steps
        val_accuracy = accuracy_of(nets, val, config.grey)
        best = keep_if_best(run, nets, val_accuracy)
        return {"loss": total.item() / done, "val_accuracy": val_accuracy, "best": best,
                "images_per_s": round(rate, 1), "partial": done < len(batches)}

    yield from run.loop(config.epochs, epoch)
    restore_best(run, nets)
