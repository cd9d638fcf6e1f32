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
from hw3lab.data.readers import Split, cache_dir, load_split
from hw3lab.data.samples import load_sample
from hw3lab.errors import UserInputError
from hw3lab.inference import DigitModel, FaceModel, ModelStore
from hw3lab.lab.served_files import OutputFolder
from hw3lab.lab.tsne_queue import TsneQueue
from hw3lab.methods import (
    METHODS,
    TASKS,
    checkpoint_exists,
    digit_checkpoint,
    needs,
    task_name,
)

TASK_NAMES = tuple(f"{s}->{t}" for s, t in TASKS)
TRAIN_COMMANDS = {"vae": "python -m train.vae", "gan": "python -m train.gan"}
PROJECT = Path(__file__).resolve().parents[2]


def public_name(folder: str | os.PathLike) -> str:
    """How the lab names one of its folders to visitors (a shared link reaches anyone): its
    path relative to the project when it lies inside it, else the folder's own name, never
    where it is on the server."""
    folder = Path(os.path.abspath(folder))
    for root in dict.fromkeys((PROJECT, Path(os.path.abspath(PROJECT)))):
        if folder.is_relative_to(root):
            return folder.relative_to(root).as_posix() or "."
    return folder.name or "/"


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
                 device: str | None = None, outputs: OutputFolder | None = None) -> None:
        self.checkpoints = Path(checkpoints)
        self.store = ModelStore(self.checkpoints, device)
        root = resolve_data_root(data)
        self.data_root: Path | None = root if root.is_dir() else None
        self._splits: dict[tuple[str, str], Split | None] = {}
        self._latents: VaeLatents | None = None
        self._gan_directions: np.ndarray | None = None
        self.own_models = OwnModels()
        self.tsne = TsneQueue()  # the lab's t-SNE lanes and the default views they hold
        self._lock = threading.RLock()
        self._public = self._public_names()
        self._outputs = outputs
        self._results: OrderedDict[Any, Any] = OrderedDict()

    def remembered(self, key: Any, compute: Any, most: int = limits.REMEMBERED_RESULTS) -> Any:
        """``compute()``'s result, kept for ``key`` (the least recently used of at most
        ``most`` go first): for operations whose result depends on their arguments only, such
        as an example digit through the shipped models, asked for again by every student.
        The result is shared: callers must not change it."""
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
        result = compute()
        with self._lock:
            self._results[key] = result
            while len(self._results) > most:
                self._results.popitem(last=False)
        return result

    @property
    def outputs(self) -> OutputFolder:
        """Where pictures and downloads are written (bounded: :mod:`hw3lab.lab.served_files`); the
        served lab shares it with Gradio's cache, a lab without one gets its own on first use."""
        with self._lock:
            if self._outputs is None:
                self._outputs = OutputFolder()
            return self._outputs

    # -- what visitors may see of the server -----------------------------------------------

    def _public_names(self) -> list[tuple[str, str]]:
        """(absolute path, public name) of every folder the lab reads or writes, longest
        first, each as written and with links resolved."""
        folders = [(self.checkpoints, public_name(self.checkpoints)),
                   (cache_dir(), "$HW3LAB_CACHE"), (PROJECT, "."), (Path.home(), "~")]
        if self.data_root is not None:
            folders.append((self.data_root, public_name(self.data_root)))
        pairs = {}
        for folder, name in folders:
            for form in (os.path.abspath(folder), os.path.realpath(folder)):
                if len(form) > 1:
                    pairs.setdefault(form, name)
        return sorted(pairs.items(), key=lambda pair: -len(pair[0]))

    def redact(self, text: str) -> str:
        """``text`` with the absolute path of every folder of the lab replaced by its public
        name (:func:`public_name`): for every message a visitor can see."""
        for absolute, name in self._public:
            if absolute in text:
                text = text.replace(absolute, name)
        return text

    def public_path(self, path: str | os.PathLike) -> str:
        """A path of the lab as visitors see it: ``checkpoints/digits``, not where it is."""
        return self.redact(os.path.abspath(path))

    # -- availability, as short messages ---------------------------------------------------

    def has_family(self, family: str) -> bool:
        return checkpoint_exists(self.checkpoints / f"{family}.safetensors")

    def missing_family(self, family: str) -> str:
        where = self.public_path(self.checkpoints)
        return (f"No {family.upper()} checkpoint in {where}: train one with "
                f"{TRAIN_COMMANDS[family]} --out {where}")

    def require_family(self, family: str) -> None:
        if not self.has_family(family):
            raise UnavailableError(self.missing_family(family))

    def _absent_digits(self, source: str, target: str, method: str) -> str | None:
        """The method among those ``method`` loads (ADDA: source-only's too) whose checkpoint
        the folder lacks, if any."""
        return next((m for m in needs(method)
                     if not checkpoint_exists(digit_checkpoint(self.checkpoints, source,
                                                               target, m))),
                    None)

    def has_digits(self, source: str, target: str, method: str) -> bool:
        return self._absent_digits(source, target, method) is None

    def missing_digits(self, source: str, target: str, method: str) -> str:
        """Which checkpoint a registered method lacks for the task, and the command that
        trains it."""
        absent = self._absent_digits(source, target, method) or method
        builds_on = "" if absent == method else f" (the one {method} builds on)"
        return (f"No {absent} checkpoint{builds_on} for {task_name(source, target)} in "
                f"{self.public_path(self.checkpoints / 'digits')}: train one with "
                f"{METHODS[absent].trains} --source {source} --target {target} "
                f"--out {self.public_path(self.checkpoints)}")

    def missing_digit_tasks(self) -> list[str]:
        """'task method' for every digit checkpoint the folder lacks."""
        return [f"{t} {m}" for t in TASK_NAMES for m in METHODS
                if not checkpoint_exists(digit_checkpoint(self.checkpoints, *parse_task(t), m))]

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
                        raise UnavailableError(f"No {LATENTS_FILE} in "
                                               f"{self.public_path(self.checkpoints)} and no "
                                               "hw3_data: the latent directions need one of "
                                               "them")
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
