"""Command-line arguments of the ``train.*`` CLIs, and the setup they resolve to.

Every CLI takes the run options of :func:`training_parser`; its recipe's options come from
its config dataclass's fields (:func:`add_config`), so each default is written once, in the
dataclass, and :func:`config_from` turns the parsed values back into that dataclass.
``--dry-run`` trains one epoch on a few images into ``runs/dry-run/`` unless ``--out`` is
given, so it never replaces a shipped checkpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import types
import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, TypeVar

import torch

from hw3lab import cli
from hw3lab.checkpoints import run_provenance
from hw3lab.data import load_faces
from hw3lab.data.layout import DIGIT_DOMAINS, resolve_data_root
from hw3lab.methods import TASKS
from hw3lab.runtime import PRECISIONS, pick_device, resolve_precision, set_cpu_threads
from hw3lab.training.common import Run, on_device
from hw3lab.training.digits import HOLDOUT, Labelled, holdout, load_labelled

DRY_RUN_IMAGES = 96
COMMON_HELP = {"epochs": "training epochs", "lr": "Adam learning rate"}
# The digit recipes' shared fields (Supervised, Dann and AddaConfig; standardize: Supervised only).
DIGIT_HELP = {
    "batch_size": "default: 64 when the task involves USPS, else 256 (the homework)",
    "grey": "grey inputs (default: whenever a colour domain is involved)",
    "augment": "randomly zoom, rotate, shift and invert training batches (not in the "
               "homework's recipe; see hw3lab.data.transforms.augment_digits)",
    "standardize": "standardise each input image to zero mean and unit variance (not in the "
                   "homework's recipe; see hw3lab.models.digits.standardize_images; a mean "
                   "teacher started from this model keeps it)",
}
DIGIT_PER_TASK = ("batch_size", "grey")
Config = TypeVar("Config")


class _DefaultsHelp(argparse.ArgumentDefaultsHelpFormatter):
    """Show a default only where the help text does not already explain it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or "default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def training_parser(description: str, precision: str = "auto") -> cli.ArgumentParser:
    """A parser with the options every training run takes (the recipe's come from
    :func:`add_config`); ``precision`` is the model's default (fp32 where bf16 does not pay)."""
    parser = cli.ArgumentParser(description=description, formatter_class=_DefaultsHelp)
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
    parser.add_argument("--precision", choices=PRECISIONS, default=precision,
                        help=f"bf16 autocast or fp32 (default: {precision}; auto: bf16 on GPUs "
                        "and CPUs with native bf16, fp32 elsewhere; weights stay fp32)")
    parser.add_argument("--time-budget", type=float, metavar="SECONDS",
                        help="stop after the epoch in which this many seconds have passed, "
                        "save, and write the checkpoint")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the saved state in --state-dir")
    parser.add_argument("--dry-run", action="store_true",
                        help="one epoch on a few images: a smoke test of the whole pipeline")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--deterministic", action="store_true",
                        help="bitwise-repeatable CUDA runs: deterministic algorithms, no cuDNN "
                        "autotuning, CUBLAS_WORKSPACE_CONFIG (slower; recorded in the "
                        "checkpoint's metadata)")
    return parser


def configure_backends(device: torch.device, deterministic: bool) -> None:
    """What a training process sets before its first kernel: with ``deterministic``, the
    settings that bitwise-repeatable CUDA runs need (an op with no deterministic version warns
    and runs anyway); on CUDA without it, cuDNN autotuning (the loops' shapes are fixed) and
    TF32 for fp32 matrix products and convolutions. Nothing changes for a CPU run without
    ``deterministic``."""
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before cuBLAS starts
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.fp32_precision = "tf32"
        torch.backends.cudnn.conv.fp32_precision = "tf32"


def add_config(parser: argparse.ArgumentParser, config: type, help: Mapping[str, str],
               per_task: Collection[str] = (), choices: Mapping[str, Collection[str]] | None = None,
               overrides_only: bool = False) -> None:
    """One ``--field-name`` option per field of the ``config`` dataclass, its default the
    field's (booleans get ``--x/--no-x``). Fields in ``per_task`` default to None, which
    :func:`hw3lab.training.digits.for_task` fills per task; with ``overrides_only`` every
    default is None, for a recipe to fill."""
    hints = typing.get_type_hints(config)
    for field in fields(config):
        kind = hints[field.name]
        if isinstance(kind, types.UnionType):  # X | None
            kind = next(k for k in typing.get_args(kind) if k is not type(None))
        default = None if overrides_only or field.name in per_task else field.default
        options: dict[str, Any] = {"default": default,
                                   "help": help.get(field.name, COMMON_HELP.get(field.name))}
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        else:
            options["type"] = kind
        if choices and field.name in choices:
            options["choices"] = list(choices[field.name])
        parser.add_argument("--" + field.name.replace("_", "-"), **options)


def config_from(config: type[Config], args: argparse.Namespace) -> Config:
    """The ``config`` dataclass from the options :func:`add_config` added."""
    return config(**{field.name: getattr(args, field.name) for field in fields(config)})


def add_digit_task(parser: argparse.ArgumentParser) -> None:
    """The digit task options: --source/--target or --task all, and the validation holdout."""
    parser.add_argument("--source", choices=DIGIT_DOMAINS, default="usps")
    parser.add_argument("--target", choices=DIGIT_DOMAINS, default="mnistm")
    parser.add_argument("--task", choices=["all"], help="all: the homework's three tasks "
                        + ", ".join(f"{s}->{t}" for s, t in TASKS))
    parser.add_argument("--holdout", type=float, default=HOLDOUT,
                        help="fraction of the labelled training split held out for validation")


def digit_tasks(parser: argparse.ArgumentParser,
                args: argparse.Namespace) -> list[tuple[str, str]]:
    """The (source, target) pairs the parsed options ask for."""
    if args.task == "all":
        return list(TASKS)
    if args.source == args.target:
        parser.error("--source and --target must differ")
    return [(args.source, args.target)]


@dataclass
class TrainingSetup:
    """The run options turned into what a loop needs: device, folders, data at the right size
    (a few images and one epoch on a dry run)."""

    device: torch.device
    data: Path
    out: Path
    state_dir: Path
    seed: int
    precision: str
    time_budget: float | None
    resume: bool
    dry_run: bool
    progress: bool
    provenance: dict[str, Any]  # command, revision and date, taken when the run starts
    deterministic: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> TrainingSetup:
        set_cpu_threads(args.threads)
        device = pick_device(args.device)
        deterministic = getattr(args, "deterministic", False)
        configure_backends(device, deterministic)
        dry = args.dry_run
        return cls(device=device, data=resolve_data_root(args.data),
                   out=args.out or Path("runs/dry-run/checkpoints" if dry else "checkpoints"),
                   state_dir=args.state_dir / "dry-run" if dry else args.state_dir,
                   seed=args.seed, precision=resolve_precision(args.precision, device),
                   time_budget=args.time_budget, resume=args.resume, dry_run=dry,
                   progress=not args.no_progress,
                   provenance=run_provenance(args.seed, device),
                   deterministic=deterministic)

    def shortened(self, config: Config) -> Config:
        """``config`` with one epoch (of two steps, where epochs are counted in steps) on a
        dry run; unchanged otherwise."""
        if not self.dry_run:
            return config
        steps = {"steps_per_epoch": 2} if hasattr(config, "steps_per_epoch") else {}
        return replace(config, epochs=1, **steps)

    def run(self, name: str, modules: dict, optimizers: dict) -> Run:
        """A :class:`Run` with these settings, resumed from saved state if asked."""
        run = Run(name, modules, optimizers, self.device, self.seed, state_dir=self.state_dir,
                  time_budget=self.time_budget, progress=self.progress,
                  precision=self.precision)
        if self.resume and run.resume():
            note = {"note": run.resume_note} if run.resume_note else {}
            print(json.dumps({"run": name, "resumed_at_epoch": run.epoch, **note}), flush=True)
        elif run.state_path and run.state_path.exists():
            run.state_path.unlink()  # a fresh run does not inherit an old one's state
        if not self.resume:
            for path in (run.log_path, run.timeline_path):
                if path:
                    path.unlink(missing_ok=True)
        return run

    def labelled(self, domain: str, split: str) -> Labelled:
        """A digit split on the device (a few images on a dry run)."""
        data = load_labelled(domain, split, self.data, self.device)
        return data.take(torch.arange(min(len(data), DRY_RUN_IMAGES))) if self.dry_run else data

    def train_val(self, domain: str, fraction: float) -> tuple[Labelled, Labelled]:
        """The domain's training split minus the held-out validation part, and that part."""
        return holdout(self.labelled(domain, "train"), fraction, self.seed)

    def faces(self, split: str) -> torch.Tensor:
        """The face split as (N, 3, 64, 64) uint8 on the device (a few images on a dry run)."""
        return self.labelled_faces(split)[0]

    def labelled_faces(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`faces` and their (N, 13) float attributes, on the device."""
        faces = load_faces(split, self.data)
        count = DRY_RUN_IMAGES if self.dry_run else len(faces)
        return (on_device(faces.images[:count], self.device),
                torch.as_tensor(faces.targets[:count], dtype=torch.float32, device=self.device))
