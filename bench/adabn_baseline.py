"""How much of adaptation is BatchNorm statistics alone: the shipped source-only model, with
and without AdaBN, against every other registered method, on each target's test split.

``python -m bench.adabn_baseline --data DIR [--checkpoints checkpoints]`` prints a Markdown
table of target test accuracy (%), "-" where a method has no usable checkpoint (the reason goes
to stderr). "Source only + AdaBN" is the source-only checkpoint with its extractor's BatchNorm
statistics recomputed on the unlabelled target training images (what DANN and ADDA also end
with), with no training at all: the baseline an adaptation method has to beat to have learned
anything from its adversary.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch

from hw3lab.checkpoints import CheckpointError
from hw3lab.data.layout import resolve_data_root
from hw3lab.inference import DEFAULT_CHECKPOINTS, ModelStore
from hw3lab.methods import METHODS, TASKS, task_name, title
from hw3lab.training.digits import (
    DigitNets,
    Labelled,
    accuracy_of,
    adapt_batchnorm,
    load_labelled,
)

BASELINE = "source_only"  # the model whose BatchNorm statistics alone are adapted


def accuracies(store: ModelStore, source: str, target: str, method: str,
               test: Labelled, unlabelled: torch.Tensor) -> dict[str, str]:
    """Target test accuracy (%) of ``method``'s checkpoint by row, the baseline's also with
    AdaBN; "-" where the checkpoint cannot be loaded (the reason goes to stderr)."""
    rows = [title(method)] + ([f"{title(method)} + AdaBN"] if method == BASELINE else [])
    try:
        model = store.digits(source, target, method)
    except CheckpointError as error:
        print(f"{title(method)}, {task_name(source, target)}: {error}", file=sys.stderr)
        return dict.fromkeys(rows, "-")
    nets = DigitNets(model.extractor, model.predictor)
    values = [accuracy_of(nets, test, model.grey)]
    if method == BASELINE:  # the same model, its statistics taken on the target
        adapted = DigitNets(copy.deepcopy(model.extractor), model.predictor)
        adapt_batchnorm(adapted.extractor, unlabelled, model.grey)
        values.append(accuracy_of(adapted, test, model.grey))
    return {row: f"{100 * value:.2f}" for row, value in zip(rows, values, strict=True)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="hw3_data folder (default: $HW3_DATA, else ./hw3_data)")
    parser.add_argument("--checkpoints", type=Path, default=DEFAULT_CHECKPOINTS)
    args = parser.parse_args(argv)
    data, cpu = resolve_data_root(args.data), torch.device("cpu")
    store = ModelStore(args.checkpoints, "cpu")
    rows: dict[str, list[str]] = {}
    for source, target in TASKS:
        unlabelled = load_labelled(target, "train", data, cpu).images
        test = load_labelled(target, "test", data, cpu)
        for method in METHODS:
            for row, value in accuracies(store, source, target, method, test,
                                         unlabelled).items():
                rows.setdefault(row, []).append(value)
    print("| method | " + " | ".join(task_name(s, t) for s, t in TASKS) + " |")
    print("| --- |" + " ---: |" * len(TASKS))
    for name, values in rows.items():
        print(f"| {name} | " + " | ".join(values) + " |")


if __name__ == "__main__":
    main()
