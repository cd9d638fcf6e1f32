"""Train the face-attribute classifier (:class:`hw3lab.models.AttributeNet`): BCE on the 13
attributes, Adam, horizontal flips and small shifts; the best epoch on held-out training faces
is kept."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from hw3lab.data.transforms import faces_for_model, horizontal_flip
from hw3lab.models import AttributeNet
from hw3lab.training.common import Run, clone_state, index_batches


@dataclass
class AttributeConfig:
    epochs: int = 12
    lr: float = 2e-3
    batch_size: int = 64
    weight_decay: float = 1e-4


@torch.inference_mode()
def attribute_probabilities(net: AttributeNet, images: torch.Tensor,
                            batch_size: int = 500) -> torch.Tensor:
    """(N, 3, 64, 64) uint8 -> (N, 13) probabilities, eval mode (the mode is restored)."""
    mode = net.training
    net.eval()
    out = torch.cat([net(faces_for_model(chunk)).sigmoid() for chunk in images.split(batch_size)])
    net.train(mode)
    return out


def per_attribute_accuracy(net: AttributeNet, images: torch.Tensor,
                           attributes: torch.Tensor) -> np.ndarray:
    """Accuracy of each attribute at threshold 0.5, in %."""
    predicted = attribute_probabilities(net, images) > 0.5
    return (predicted == (attributes > 0.5)).float().mean(0).mul(100).cpu().numpy()


def train_attributes(run: Run, net: AttributeNet, train: tuple[torch.Tensor, torch.Tensor],
                     val: tuple[torch.Tensor, torch.Tensor],
                     config: AttributeConfig) -> Iterator[dict[str, Any]]:
    """``train`` and ``val`` are (uint8 faces, (N, 13) float attributes) on the device."""
    optimizer = run.optimizers["attributes"]
    images, targets = train
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, config.lr, total_steps=config.epochs * -(-len(images) // config.batch_size))
    for _ in range(run.epoch * -(-len(images) // config.batch_size)):
        schedule.step()  # a resumed run continues the schedule where it stopped

    def epoch(index: int, run: Run) -> dict[str, Any]:
        net.train()
        batches = index_batches(len(images), config.batch_size, run.generator)
        bar = run.progress_bar(len(batches), f"epoch {index + 1}/{config.epochs}")
        total = torch.zeros((), device=run.device)
        for batch in batches:
            x = faces_for_model(horizontal_flip(images[batch], run.generator))
            with run.autocast():
                loss = F.binary_cross_entropy_with_logits(net(x).float(), targets[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.detach()
            bar.step(len(batch))
        rate = bar.close()
        accuracy = float(per_attribute_accuracy(net, *val).mean())
        if accuracy >= run.extra.get("best_score", -1.0):
            run.extra.update(best_score=accuracy, best_epoch=index + 1,
                             best_state=clone_state(net))
        return {"loss": (total / len(batches)).item(), "val_accuracy": accuracy,
                "images_per_s": round(rate, 1)}

    yield from run.loop(config.epochs, epoch)
    if "best_state" in run.extra:
        net.load_state_dict(run.extra["best_state"])
