"""Dev scores of adaptation research runs: each digit checkpoint in a folder, scored on its
target's TRAINING split (the unlabelled images the method adapted to), never the test split.

``python -m bench.adaptation_dev FOLDER [--data DIR] [--method mean_teacher]`` prints a Markdown
table of target-train accuracy (%) for every ``FOLDER/digits/TASK-METHOD.safetensors``, with
each class's recall (which classes a lever moves). These
labels only report a run; no setting, epoch or seed is chosen by them (the issue's honest
selection), and the test split stays unread until a recipe is fixed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from hw3lab.checkpoints import load_modules
from hw3lab.data.layout import resolve_data_root
from hw3lab.methods import TASKS, digit_checkpoint, task_name
from hw3lab.metrics import accuracy
from hw3lab.models import Extractor, Predictor
from hw3lab.models.digits import NUM_CLASSES
from hw3lab.training.digits import DigitNets, load_labelled, predict_labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a --out folder of a training run")
    parser.add_argument("--data", help="hw3_data folder (default: $HW3_DATA, else ./hw3_data)")
    parser.add_argument("--method", default="mean_teacher")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    root, device = resolve_data_root(args.data), torch.device("cpu")
    recalls = " | ".join(f"{digit}" for digit in range(NUM_CLASSES))
    print(f"| task | method | target-train accuracy (%) | recall (%) of {recalls} |\n"
          f"| --- | --- | ---: |{' ---: |' * NUM_CLASSES}")
    for source, target in TASKS:
        path = digit_checkpoint(args.folder, source, target, args.method)
        if not path.is_file():
            continue
        nets = DigitNets(Extractor(), Predictor())
        metadata = load_modules(path, nets.modules())
        nets.extractor.follow(metadata)
        train = load_labelled(target, "train", root, device)
        predicted = torch.as_tensor(predict_labels(nets.extractor, nets.predictor, train.images,
                                                   bool(metadata.get("grey", True))))
        labels = train.labels.cpu()
        recall = " | ".join(f"{100 * (predicted[labels == digit] == digit).float().mean():.0f}"
                            for digit in range(NUM_CLASSES))
        score = accuracy(predicted, labels)
        print(f"| {task_name(source, target)} | {args.method} | {100 * score:.2f} | {recall} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
