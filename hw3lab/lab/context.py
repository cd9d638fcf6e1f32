"""The lab's shared state: one model store, the optional data folder, derived latents, and
what is missing, as messages that name the command that makes it."""

from __future__ import annotations

import os
import secrets
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hw3lab import limits
from hw3lab.analysis.latents import LATENTS_FILE, VaeLatents, build_vae_latents, load_vae_latents
from hw3lab.data.layout import DataLayoutError, resolve_data_root
from hw3lab.data.readers import Split, load_split
from hw3lab.data.samples import load_sample
from hw3lab.errors import UserInputError
from hw3lab.inference import (
    METHODS,
    TASKS,
    DigitModel,
    FaceModel,
    ModelStore,
    digit_checkpoint,
    task_name,
)

TASK_NAMES = tuple(f"{s}->{t}" for s, t in TASKS)
TRAIN_COMMANDS = {"vae": "python -m train.vae", "gan": "python -m train.gan"}


class UnavailableError(UserInputError):
    """A feature needs a checkpoint or data the lab does not have; the message says which and
    how to get it."""


def parse_task(task: Any) -> tuple[str, str]:
    """'usps->mnistm' -> ('usps', 'mnistm'), checked against the homework's tasks."""
    source, target = limits.check_choice(task, TASK_NAMES, "the task").split("->")
    return source, target


@dataclass
class SessionModel:
    """One upload: its family, the task a digit model is for, and the model."""

    family: str
    files: list[str]
    task: tuple[str, str] | None = None
    digits: DigitModel | None = None
    faces: FaceModel | None = None


class OwnModels:
    """Students' uploaded models (:mod:`hw3lab.lab.own_models`) by their session's token, at
    most ``cap`` at once over all sessions, so memory stays bounded however many upload: the
    least recently used is dropped first, and its session told to upload again."""

    def __init__(self, cap: int = limits.MAX_OWN_MODELS) -> None:
        self.cap = cap
        self._models: OrderedDict[str, SessionModel] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, model: SessionModel) -> str:
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._models[token] = model
            while len(self._models) > self.cap:
                self._models.popitem(last=False)
        return token

    def get(self, token: Any) -> SessionModel | None:
        """The session's model; None if it never uploaded one. One that was dropped to keep
        memory bounded is a message saying so."""
        if not token:
            return None
        with self._lock:
            if not isinstance(token, str) or token not in self._models:
                raise UnavailableError(f"your uploaded model is no longer held (the lab keeps "
                                       f"at most {self.cap} at once): upload it again")
            self._models.move_to_end(token)
            return self._models[token]

    def __len__(self) -> int:
        return len(self._models)


class LabContext:
    """The lab's shared state: one model store, the optional data folder, derived latents.

    Everything loads lazily on first use, so the first page serves before any model is read.
    """

    def __init__(self, checkpoints: str | os.PathLike, data: str | os.PathLike | None = None,
                 device: str | None = None) -> None:
        self.checkpoints = Path(checkpoints)
        self.store = ModelStore(self.checkpoints, device)
        root = resolve_data_root(data)
        self.data_root: Path | None = root if root.is_dir() else None
        self._splits: dict[tuple[str, str], Split | None] = {}
        self._latents: VaeLatents | None = None
        self._gan_directions: np.ndarray | None = None
        self.own_models = OwnModels()
        self._lock = threading.RLock()

    # -- availability, as short messages ---------------------------------------------------

    def has_family(self, family: str) -> bool:
        return (self.checkpoints / f"{family}.safetensors").is_file()

    def missing_family(self, family: str) -> str:
        return (f"No {family.upper()} checkpoint in {self.checkpoints}: train one with "
                f"{TRAIN_COMMANDS[family]} --out {self.checkpoints}")

    def require_family(self, family: str) -> None:
        if not self.has_family(family):
            raise UnavailableError(self.missing_family(family))

    def has_digits(self, source: str, target: str, method: str) -> bool:
        return digit_checkpoint(self.checkpoints, source, target, method).is_file()

    def missing_digits(self, source: str, target: str, method: str) -> str:
        return (f"No {method} checkpoint for {task_name(source, target)} in "
                f"{self.checkpoints / 'digits'}: train one with python -m train.{method} "
                f"--source {source} --target {target} --out {self.checkpoints}")

    def missing_digit_tasks(self) -> list[str]:
        """'task method' for every digit checkpoint the folder lacks."""
        return [f"{t} {m}" for t in TASK_NAMES for m in METHODS
                if not self.has_digits(*parse_task(t), m)]

    # -- data --------------------------------------------------------------------------------

    def test_split(self, dataset: str) -> Split | None:
        """The test split of ``dataset`` ('face' or a digit domain), or None without data.

        A data folder that breaks the layout is not silently ignored: the console says once
        which split is unusable and why, and the lab goes on as without data for it."""
        with self._lock:
            if (dataset, "test") not in self._splits:
                split = None
                if self.data_root is not None:
                    try:
                        split = load_split(dataset, "test", self.data_root)
                    except DataLayoutError as error:
                        print(f"hw3_data: {dataset}/test is unusable, the lab goes on without "
                              f"it: {error}", file=sys.stderr, flush=True)
                self._splits[dataset, "test"] = split
            return self._splits[dataset, "test"]

    def real_images(self, dataset: str) -> Split | None:
        """Real test images to show: hw3_data's test split, else the sample shipped with the
        lab (:mod:`hw3lab.data.samples`, 100 a dataset), so a newcomer sees real digits and
        faces too. Accuracy is measured on :meth:`test_split` only."""
        return self.test_split(dataset) or load_sample(dataset)

    def latents(self) -> VaeLatents:
        """Test faces' latents: the file shipped beside the VAE, else encoded from the data."""
        with self._lock:
            if self._latents is None:
                path = self.checkpoints / LATENTS_FILE
                if path.is_file():
                    self._latents = load_vae_latents(path)
                else:
                    self.require_family("vae")
                    faces = self.test_split("face")
                    if faces is None:
                        raise UnavailableError(f"No {LATENTS_FILE} in {self.checkpoints} and no "
                                               "hw3_data: the latent directions need one of them")
                    self._latents = build_vae_latents(self.store, faces,
                                                      limits.PRINCIPAL_DIRECTIONS)
            return self._latents

    def gan_directions(self) -> np.ndarray:
        """The GAN's (13, 128) attribute directions, shipped beside it."""
        # Imported on use: the module imports scikit-learn (4 s on this machine's busy cores),
        # and the lab must serve its first page fast.
        from hw3lab.analysis.gan_directions import DIRECTIONS_FILE, load_directions

        with self._lock:
            if self._gan_directions is None:
                self.require_family("gan")
                self._gan_directions = load_directions(self.checkpoints / DIRECTIONS_FILE)
            return self._gan_directions
