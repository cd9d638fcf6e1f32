"""What the ``train.*`` command lines share: arguments, setup, digit tasks and checkpoints.

A CLI parses its recipe, calls one loop of :mod:`hw3lab.training`, prints each epoch's metric
dict as a JSON line on stdout (progress bars go to stderr) and writes a checkpoint with its
metadata and manifest entry. ``--dry-run`` trains one epoch on a few images into
``runs/dry-run/`` unless ``--out`` is given, so it never replaces a shipped checkpoint.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hw3lab.checkpoints import (
    metadata_path,
    read_metadata,
    record_in_manifest,
    run_provenance,
    save_checkpoint,
    write_json,
)
from hw3lab.data import load_faces
from hw3lab.data.layout import DIGIT_DOMAINS, resolve_data_root
from hw3lab.data.transforms import uses_grey
from hw3lab.inference import TASKS, ModelStore, digit_checkpoint, task_name, test_accuracies
from hw3lab.runtime import PRECISIONS, pick_device, resolve_precision, set_cpu_threads
from hw3lab.training.common import Run, on_device
from hw3lab.training.digits import Labelled, holdout, load_labelled

DRY_RUN_IMAGES = 96
DATA_TERMS = ("Trained on hw3_data (see hw3_data/PROVENANCE.md); inherits its terms: CelebA, "
              "SVHN and BSDS500 (behind MNIST-M) are for non-commercial research and education "
              "only, MNIST is CC BY-SA 3.0, USPS carries no formal licence.")


class _DefaultsHelp(argparse.ArgumentDefaultsHelpFormatter):
    """Show a default only where the help text does not already explain it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or "default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def base_parser(description: str, epochs: int) -> argparse.ArgumentParser:
    """The arguments every training CLI takes."""
    parser = argparse.ArgumentParser(description=description, formatter_class=_DefaultsHelp)
    parser.add_argument("--data", help="hw3_data folder (default: $HW3_DATA, else ./hw3_data)")
    parser.add_argument("--out", type=Path, help="checkpoint folder (default: checkpoints/; "
                        "runs/dry-run/checkpoints with --dry-run)")
    parser.add_argument("--state-dir", type=Path, default=Path("runs"),
                        help="where the resumable state and the metrics JSONL go")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed (weights, batches, held-out split)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--threads", type=int, help="CPU threads (default: $HW3LAB_THREADS or "
                        "every core)")
    parser.add_argument("--epochs", type=int, default=epochs, help="training epochs")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="bf16 autocast or fp32 (default auto: bf16 on CUDA and on CPUs "
                        "with native bf16, fp32 elsewhere; weights stay fp32)")
    parser.add_argument("--time-budget", type=float, metavar="SECONDS",
                        help="stop after the epoch in which this many seconds have passed, "
                        "save, and write the checkpoint")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the saved state in --state-dir")
    parser.add_argument("--dry-run", action="store_true",
                        help="one epoch on a few images: a smoke test of the whole pipeline")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def digit_parser(description: str, epochs: int, lr: float) -> argparse.ArgumentParser:
    """``base_parser`` plus the digit task and the classifier recipe."""
    parser = base_parser(description, epochs)
    parser.add_argument("--source", choices=DIGIT_DOMAINS, default="usps")
    parser.add_argument("--target", choices=DIGIT_DOMAINS, default="mnistm")
    parser.add_argument("--task", choices=["all"], help="all: the homework's three tasks "
                        + ", ".join(f"{s}->{t}" for s, t in TASKS))
    parser.add_argument("--lr", type=float, default=lr, help="Adam learning rate")
    parser.add_argument("--batch-size", type=int,
                        help="default: 64 when the task involves USPS, else 256 (the homework)")
    parser.add_argument("--holdout", type=float, default=0.3,
                        help="fraction of the labelled training split held out for validation")
    parser.add_argument("--grey", action=argparse.BooleanOptionalAction, default=None,
                        help="grey inputs (default: whenever a colour domain is involved)")
    parser.add_argument("--augment", action="store_true",
                        help="randomly zoom, rotate, shift and invert training batches (not in "
                        "the homework's recipe; see hw3lab.data.transforms.augment_digits)")
    return parser


@dataclass
class Setup:
    """The parsed arguments turned into what a loop needs."""

    args: argparse.Namespace
    device: torch.device
    data: Path
    out: Path
    epochs: int
    precision: str

    def run(self, name: str, modules: dict, optimizers: dict) -> Run:
        """A :class:`Run` with this CLI's settings, resumed from saved state if asked."""
        run = Run(name, modules, optimizers, self.device, self.args.seed,
                  state_dir=self.args.state_dir, time_budget=self.args.time_budget,
                  progress=not self.args.no_progress, precision=self.precision)
        if self.args.resume and run.resume():
            print(json.dumps({"run": name, "resumed_at_epoch": run.epoch}), flush=True)
        elif run.state_path and run.state_path.exists():
            run.state_path.unlink()  # a fresh run does not inherit an old one's state
        if run.log_path and not self.args.resume:
            run.log_path.unlink(missing_ok=True)
        return run


def setup(args: argparse.Namespace) -> Setup:
    if args.dry_run:
        args.state_dir = args.state_dir / "dry-run"
    set_cpu_threads(args.threads)
    out = args.out or (Path("runs/dry-run/checkpoints") if args.dry_run else Path("checkpoints"))
    device = pick_device(args.device)
    return Setup(args, device, resolve_data_root(args.data), out,
                 1 if args.dry_run else args.epochs, resolve_precision(args.precision, device))


def print_metrics(metrics: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Print each metric dict as a JSON line as it arrives; return them all."""
    seen = []
    for entry in metrics:
        print(json.dumps(entry), flush=True)
        seen.append(entry)
    return seen


def tasks(args: argparse.Namespace) -> list[tuple[str, str]]:
    if args.task == "all":
        return list(TASKS)
    if args.source == args.target:
        raise SystemExit("--source and --target must differ")
    return [(args.source, args.target)]


def batch_size(args: argparse.Namespace, source: str, target: str) -> int:
    return args.batch_size or (64 if "usps" in (source, target) else 256)


def grey(args: argparse.Namespace, source: str, target: str) -> bool:
    return uses_grey((source, target)) if args.grey is None else args.grey


def small(data: Labelled, dry_run: bool) -> Labelled:
    return data.take(torch.arange(min(len(data), DRY_RUN_IMAGES))) if dry_run else data


def labelled_split(env: Setup, domain: str, split: str) -> Labelled:
    return small(load_labelled(domain, split, env.data, env.device), env.args.dry_run)


def train_val(env: Setup, domain: str) -> tuple[Labelled, Labelled]:
    """The domain's training split minus the held-out validation part, and that part."""
    return holdout(labelled_split(env, domain, "train"), env.args.holdout, env.args.seed)


class Timer:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def seconds(self) -> float:
        return round(time.monotonic() - self.start, 1)


def save_run(env: Setup, path: Path, name: str, modules: dict, metadata: dict[str, Any],
             seconds: float) -> Path:
    """Write a checkpoint with the data terms, timing and provenance every one records."""
    full = {"data": {"path": env.data.name, "provenance": "see hw3_data/PROVENANCE.md",
                     "licence": DATA_TERMS},
            "training_seconds": seconds, "training_device": str(env.device),
            "precision": env.precision, "threads": torch.get_num_threads(),
            "dry_run": env.args.dry_run, **metadata, **run_provenance(env.args.seed)}
    save_checkpoint(path, modules, full)
    record_in_manifest(env.out, name, path)
    return path


def add_metrics(env: Setup, path: Path, name: str, metrics: dict[str, Any]) -> None:
    """Store measured ``metrics`` in a checkpoint's JSON and its manifest entry."""
    write_json(metadata_path(path), {**read_metadata(path), "metrics": metrics})
    record_in_manifest(env.out, name, path)


def save_digits(env: Setup, source: str, target: str, method: str, modules: dict,
                metadata: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Write ``digits/{source}-{target}-{method}``, measure it through the inference API on
    both test splits, store the metrics in its JSON and the manifest; return the metrics."""
    path = digit_checkpoint(env.out, source, target, method)
    name = f"digits/{task_name(source, target)}-{method}"
    save_run(env, path, name, modules, {"family": "digits", "method": method, "source": source,
                                        "target": target, **metadata}, seconds)
    metrics = measure_digits(env, source, target, method)
    add_metrics(env, path, name, metrics)
    return metrics


def face_split(env: Setup, split: str) -> torch.Tensor:
    """The face split as (N, 3, 64, 64) uint8 on the device (a few images with --dry-run)."""
    images = load_faces(split, env.data).images
    return on_device(images[:DRY_RUN_IMAGES] if env.args.dry_run else images, env.device)


def measure_digits(env: Setup, source: str, target: str, method: str) -> dict[str, float]:
    """Test accuracies of the checkpoint as shipped (fp16 weights, loaded by ModelStore)."""
    def test_split(domain: str) -> tuple[np.ndarray, np.ndarray]:
        test = labelled_split(env, domain, "test")
        return test.images.permute(0, 2, 3, 1).cpu().numpy(), test.labels.cpu().numpy()

    return test_accuracies(ModelStore(env.out, str(env.device)), source, target, method,
                           test_split)


def run_name(source: str, target: str, method: str, seed: int) -> str:
    return f"{task_name(source, target)}-{method}-seed{seed}"


def run_summary(run: Run, env: Setup) -> dict[str, Any]:
    """What a checkpoint records about the loop that made it."""
    summary = {"epochs_planned": env.epochs, "epochs_run": run.epoch,
               "stopped_early": run.stopped_early}
    for key in ("best_epoch", "best_score"):
        if key in run.extra:
            summary[key] = run.extra[key]
    return summary


def supervised_main(method: str, argv: list[str] | None = None) -> None:
    """source_only (train on the source) or target_only (train on the target): the bounds."""
    from hw3lab.models import Extractor, Predictor
    from hw3lab.training.digits import DigitNets
    from hw3lab.training.supervised import (
        SupervisedConfig,
        classifier_optimizer,
        train_supervised,
    )

    where = "source" if method == "source_only" else "target"
    parser = digit_parser(f"Train the homework's digit classifier on the {where} domain only "
                          f"({'lower' if where == 'source' else 'upper'} bound of adaptation).",
                          epochs=20, lr=1e-3)
    env = setup(parser.parse_args(argv))
    for source, target in tasks(env.args):
        config = SupervisedConfig(env.epochs, env.args.lr, batch_size(env.args, source, target),
                                  grey(env.args, source, target), env.args.augment)
        train, val = train_val(env, source if where == "source" else target)
        torch.manual_seed(env.args.seed)
        nets = DigitNets(Extractor(), Predictor()).to(env.device)
        run = env.run(run_name(source, target, method, env.args.seed), nets.modules(),
                      {"classifier": classifier_optimizer(nets, config.lr)})
        timer = Timer()
        print_metrics(train_supervised(run, nets, train, val, config))
        metrics = save_digits(env, source, target, method, nets.modules(),
                              {"grey": config.grey, "recipe": vars(config) | {"optimizer": "Adam",
                               "holdout": env.args.holdout}, **run_summary(run, env)},
                              timer.seconds())
        print(json.dumps({"task": task_name(source, target), "method": method, **metrics}),
              flush=True)

