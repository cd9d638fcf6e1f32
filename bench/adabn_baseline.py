"""How much of adaptation is BatchNorm statistics alone: the shipped source-only model, with
and without AdaBN, against the shipped DANN and ADDA models, on each target's test split.

``python -m bench.adabn_baseline --data DIR [--checkpoints checkpoints]`` prints a Markdown
table of target test accuracy (%). "source-only + AdaBN" is the source-only checkpoint with its
extractor's BatchNorm statistics recomputed on the unlabelled target training images (what
DANN and ADDA also end with), with no training at all: the baseline an adaptation method has to
beat to have learned anything from its adversary.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch

from hw3lab.data.layout import resolve_data_root
from hw3lab.inference import DEFAULT_CHECKPOINTS, TASKS, ModelStore, task_name
from hw3lab.training.digits import DigitNets, accuracy_of, adapt_batchnorm, load_labelled


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="hw3_data folder (default: $HW3_DATA, else ./hw3_data)")
    parser.add_argument("--checkpoints", type=Path, default=DEFAULT_CHECKPOINTS)
    args = parser.parse_args(argv)
    data, cpu = resolve_data_root(args.data), torch.device("cpu")
    store = ModelStore(args.checkpoints, "cpu")
    rows = {"source-only": [], "source-only + AdaBN": [], "DANN": [], "ADDA": []}
    for source, target in TASKS:
        unlabelled = load_labelled(target, "train", data, cpu).images
        test = load_labelled(target, "test", data, cpu)
        for row, method in (("source-only", "source_only"), ("DANN", "dann"), ("ADDA", "adda")):
            model = store.digits(source, target, method)
            nets = DigitNets(model.extractor, model.predictor)
            rows[row].append(accuracy_of(nets, test, model.grey))
            if method == "source_only":  # the same model, its statistics taken on the target
                adapted = DigitNets(copy.deepcopy(model.extractor), model.predictor)
                adapt_batchnorm(adapted.extractor, unlabelled, model.grey)
                rows["source-only + AdaBN"].append(accuracy_of(adapted, test, model.grey))
    print("| method | " + " | ".join(task_name(s, t) for s, t in TASKS) + " |")
    print("| --- |" + " ---: |" * len(TASKS))
    for name, values in rows.items():
        print(f"| {name} | " + " | ".join(f"{100 * v:.2f}" for v in values) + " |")


if __name__ == "__main__":
    main()
