"""Dev scores of adaptation research runs: each digit checkpoint in a folder, scored on its
target's TRAINING split (the unlabelled images the method adapted to), never the test split.

``python -m bench.adaptation_dev FOLDER [--data DIR] [--method mean_teacher]`` prints a Markdown
table of target-train accuracy (%) for every ``FOLDER/digits/TASK-METHOD.safetensors``. These
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
from hw3lab.models import Extractor, Predictor
from hw3lab.training.digits import DigitNets, accuracy_of, load_labelled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a --out folder of a training run")
    parser.add_argument("--data", help="hw3_data folder (default: $HW3_DATA, else ./hw3_data)")
    parser.add_argument("--method", default="mean_teacher")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    root, device = resolve_data_root(args.data), torch.device("cpu")
    print("| task | method | target-train accuracy (%) |\n| --- | --- | ---: |")
    for source, target in TASKS:
        path = digit_checkpoint(args.folder, source, target, args.method)
        if not path.is_file():
            continue
        nets = DigitNets(Extractor(), Predictor())
        metadata = load_modules(path, nets.modules())
        nets.extractor.follow(metadata)
        train = load_labelled(target, "train", root, device)
        score = accuracy_of(nets, train, bool(metadata.get("grey", True)))
        print(f"| {task_name(source, target)} | {args.method} | {100 * score:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
