"""What every training loop shares: on-device batches, mixed precision, progress, metrics log,
atomic resumable state and a time budget.

A run keeps whole uint8 splits on the device and draws index batches from one seeded
generator, so an epoch has no per-image Python work. Its state (modules, optimizers, epoch,
random generators and any extra tensors such as the best model so far) is written after every
epoch with ``torch.save`` to a temporary file renamed into place, and read back with
``torch.load(weights_only=True)``: an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from hw3lab.data.transforms import to_tensor
from hw3lab.files import atomic_path
from hw3lab.runtime import autocast

EpochFn = Callable[[int, "Run"], dict[str, Any]]


def on_device(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """(N, H, W, C) uint8 -> contiguous (N, C, H, W) uint8 on ``device``: the whole split."""
    return to_tensor(images, device).contiguous()


def index_batches(count: int, batch_size: int, generator: torch.Generator,
                  drop_last: bool = False) -> list[torch.Tensor]:
    """One epoch of shuffled index batches over ``count`` items, drawn on the generator's
    device (the homework's DataLoader(shuffle=True), without the per-image work)."""
    order = torch.randperm(count, generator=generator, device=generator.device)
    batches = list(order.split(batch_size))
    if drop_last and len(batches) > 1 and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


class Cycle:
    """Endless shuffled batches over ``count`` items, for the target side of DANN and ADDA
    (the homework cycles the target loader along the source one)."""

    def __init__(self, count: int, batch_size: int, generator: torch.Generator) -> None:
        self.count, self.batch_size, self.generator = count, batch_size, generator
        self._pending: list[torch.Tensor] = []

    def next(self) -> torch.Tensor:
        if not self._pending:
            self._pending = index_batches(self.count, self.batch_size, self.generator,
                                          drop_last=True)
        return self._pending.pop(0)


class Progress:
    """A tqdm bar on stderr with the running loss, images/s and ETA; silent when disabled.

    ``values`` may be device tensors: they are read back (a host sync) at most once every
    ``POSTFIX_SECONDS`` and never when the bar is disabled, so a training step does not wait
    for the device to show a loss."""

    POSTFIX_SECONDS = 1.0

    def __init__(self, total: int, description: str, enabled: bool = True) -> None:
        self.bar = tqdm(total=total, desc=description, file=sys.stderr, leave=False,
                        disable=not enabled, dynamic_ncols=True)
        self.enabled = enabled
        self.start = time.perf_counter()
        self.shown = -math.inf
        self.images = self.steps = 0

    def step(self, images: int, **values: float | torch.Tensor) -> None:
        self.images += images
        self.steps += 1
        now = time.perf_counter()
        if self.enabled and now - self.shown >= self.POSTFIX_SECONDS:
            self.shown = now
            rate = self.images / max(now - self.start, 1e-9)
            self.bar.set_postfix({k: f"{float(v):.4f}" for k, v in values.items()}
                                 | {"img/s": f"{rate:.0f}"}, refresh=False)
        self.bar.update(1)

    def close(self) -> float:
        """Close the bar; return the images/s over the whole epoch."""
        self.bar.close()
        return self.images / max(time.perf_counter() - self.start, 1e-9)


@dataclass
class Run:
    """One training run: what it trains, where its state and log go, and when it must stop.

    ``extra`` holds anything else that must survive a resume (best model, best score): plain
    values and tensors only, so the state loads with ``weights_only=True``.
    """

    name: str
    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    device: torch.device
    seed: int
    state_dir: Path | None = None
    time_budget: float | None = None
    progress: bool = True
    precision: str = "fp32"
    extra: dict[str, Any] = field(default_factory=dict)
    epoch: int = 0
    stopped_early: bool = False

    def __post_init__(self) -> None:
        torch.manual_seed(self.seed)
        self.generator = torch.Generator(self.device).manual_seed(self.seed)
        self.started = time.monotonic()
        self.resume_note: str | None = None  # what a resume on another device type lost

    @property
    def state_path(self) -> Path | None:
        return self.state_dir / f"{self.name}.state.pt" if self.state_dir else None

    @property
    def log_path(self) -> Path | None:
        return self.state_dir / f"{self.name}.jsonl" if self.state_dir else None

    @property
    def timeline_path(self) -> Path | None:
        """Where the run's timeline grows (:mod:`hw3lab.training.timeline`)."""
        return self.state_dir / f"{self.name}.timeline.safetensors" if self.state_dir else None

    def autocast(self) -> contextlib.AbstractContextManager:
        """The forward passes' precision context (bf16 autocast or plain fp32)."""
        return autocast(self.device, self.precision)

    def seconds(self) -> float:
        """Seconds since this process started the run (a resumed run counts from its resume)."""
        return round(time.monotonic() - self.started, 1)

    def history(self) -> list[dict[str, Any]]:
        """Every epoch's metrics from the run's log, across resumes (empty without a log)."""
        if self.log_path is None or not self.log_path.is_file():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line]

    def out_of_time(self) -> bool:
        return (self.time_budget is not None
                and time.monotonic() - self.started >= self.time_budget)

    def progress_bar(self, total: int, description: str) -> Progress:
        return Progress(total, f"{self.name} {description}", self.progress)

    def save(self) -> None:
        """Write the whole state atomically (temporary file, then ``os.replace``)."""
        if self.state_path is None:
            return
        state = {
            "epoch": self.epoch,
            "modules": {k: m.state_dict() for k, m in self.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "rng": {"torch": torch.get_rng_state(), "generator": self.generator.get_state(),
                    "device": self.device.type},
            "extra": self.extra,
        }
        if self.device.type == "cuda":
            state["rng"]["cuda"] = torch.cuda.get_rng_state(self.device)
        with atomic_path(self.state_path) as temporary:
            torch.save(state, temporary)

    def resume(self) -> bool:
        """Load the saved state if there is one; return whether it was found."""
        if self.state_path is None or not self.state_path.is_file():
            return False
        state = torch.load(self.state_path, map_location=self.device, weights_only=True)
        for key, module in self.modules.items():
            module.load_state_dict(state["modules"][key])
        for key, optimizer in self.optimizers.items():
            load_optimizer_state(optimizer, state["optimizers"][key])
        self.epoch, self.extra = int(state["epoch"]), state["extra"]
        rng = state["rng"]
        torch.set_rng_state(rng["torch"].cpu())  # the CPU's global stream, the same anywhere
        if saved_rng_device(rng) == self.device.type:
            self.generator.set_state(rng["generator"].cpu())
            if "cuda" in rng and self.device.type == "cuda":
                torch.cuda.set_rng_state(rng["cuda"].cpu(), self.device)
        else:  # a CPU generator's state is 5,056 bytes, a CUDA one's 16: neither loads in the other
            self.generator.manual_seed(self.seed + self.epoch)
            self.resume_note = (f"saved on {saved_rng_device(rng)}, resumed on "
                                f"{self.device.type}: the run's random stream (batch order, "
                                f"augmentation, noise) is reseeded from seed + epoch = "
                                f"{self.seed + self.epoch}; weights, optimizer state and "
                                "epoch carried over")
        return True

    def log(self, metrics: dict[str, Any]) -> None:
        if self.log_path is None:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a") as handle:
            handle.write(json.dumps(metrics) + "\n")

    def loop(self, epochs: int, epoch_fn: EpochFn) -> Iterator[dict[str, Any]]:
        """Run ``epoch_fn`` from the saved epoch to ``epochs``, saving and logging after each;
        stop after the epoch in which the time budget ran out (the epoch_fn may cut it short)."""
        while self.epoch < epochs and not self.stopped_early:
            start = time.monotonic()
            metrics = epoch_fn(self.epoch, self)
            self.epoch += 1
            self.stopped_early = self.out_of_time() and self.epoch < epochs
            metrics = {"run": self.name, "epoch": self.epoch, "epochs": epochs, **metrics,
                       "seconds": round(time.monotonic() - start, 3),
                       "stopped_early": self.stopped_early}
            saving = time.monotonic()
            self.save()
            metrics["save_seconds"] = round(time.monotonic() - saving, 3)  # not in "seconds"
            self.log(metrics)
            yield metrics


def saved_rng_device(rng: dict[str, Any]) -> str:
    """The device type whose generator wrote a saved ``rng`` state; states written before it
    was recorded are told by size (a CPU generator's is larger than a CUDA one's)."""
    if "device" in rng:
        return str(rng["device"])
    return "cpu" if rng["generator"].numel() == torch.Generator().get_state().numel() else "cuda"


def adam(parameters: Iterable[nn.Parameter], **options: Any) -> torch.optim.Adam:
    """``torch.optim.Adam``, fused into one kernel per step where the parameters are on CUDA
    (the same update); elsewhere PyTorch's default implementation, as before."""
    parameters = list(parameters)
    fused = True if parameters and parameters[0].is_cuda else None
    return torch.optim.Adam(parameters, fused=fused, **options)


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """``optimizer.load_state_dict(state)``, keeping this optimizer's own implementation
    (fused or not, chosen for this device): a state saved by a fused CUDA Adam would otherwise
    make a CPU one fused, and a CPU state would leave a CUDA one unfused. Step counts go where
    that implementation keeps them (on the parameters' device when fused, else on the CPU)."""
    chosen = [{key: group.get(key) for key in ("fused", "foreach", "capturable")}
              for group in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, options in zip(optimizer.param_groups, chosen, strict=True):
        group.update(options)
        on_device = bool(group.get("fused") or group.get("capturable"))
        for parameter in group["params"]:
            step = optimizer.state.get(parameter, {}).get("step")
            if isinstance(step, torch.Tensor):
                optimizer.state[parameter]["step"] = step.to(
                    parameter.device if on_device else torch.device("cpu"))


def progress_fraction(epoch: int, step: int, steps: int, epochs: int) -> float:
    """Training progress p in [0, 1], the clock of DANN's schedules."""
    return min(1.0, (epoch + step / max(steps, 1)) / max(epochs, 1))


def dann_lambda(p: float, gamma: float = 10.0) -> float:
    """The paper's reversal strength 2 / (1 + exp(-gamma p)) - 1: 0 at the start, -> 1."""
    return 2.0 / (1.0 + math.exp(-gamma * p)) - 1.0


def annealed_lr(base: float, p: float, alpha: float = 10.0, beta: float = 0.75) -> float:
    """The paper's learning-rate annealing base / (1 + alpha p)^beta."""
    return base / (1.0 + alpha * p) ** beta


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def clone_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of a module's state_dict (to keep the best model of a run)."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}
