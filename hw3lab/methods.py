"""The digit tasks and the registry of digit adaptation methods: the one place that lists them.

A new method is its training loop (``hw3lab/training``), its thin CLI (``train/NAME.py``) and
one :class:`Method` in :data:`METHODS`; the lab, the tables, the figures, ``hw3lab.predict``,
the benches and the tests' random checkpoints all read the registry. A name outside it (a
student's own model, ``hw3lab.import_pth --name``) still works wherever a method is named.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TASKS = (("usps", "mnistm"), ("mnistm", "svhn"), ("svhn", "usps"))
# A classmate's exported model (hw3lab.export_model) lies where a checkpoint's weights would,
# with this suffix instead of .safetensors, beside the same JSON.
EXPORTED_SUFFIX = ".pt2"


@dataclass(frozen=True)
class Method:
    """One digit method: what it is called, how it is trained, what its checkpoint holds."""

    name: str  # "dann": the checkpoint's suffix and the lab's API value
    title: str  # "DANN": shown in the lab, tables and figures
    trains: str  # the command that trains it: "python -m train.dann"
    # Its checkpoint holds an extractor and a predictor, except when this names the method
    # whose predictor it reuses (ADDA adapts the extractor only); that method's checkpoint
    # must then be there too, and the checkpoint records its file as ``predictor_from``.
    predictor_from: str | None = None


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("source_only", "Source only", "python -m train.source_only"),
    Method("dann", "DANN", "python -m train.dann"),
    Method("adda", "ADDA", "python -m train.adda", predictor_from="source_only"),
    Method("mean_teacher", "Mean teacher", "python -m train.mean_teacher"),
    Method("target_only", "Target only", "python -m train.target_only"),
)}
"""Every registered method by name, in the order the lab and the tables show them."""


def task_name(source: str, target: str) -> str:
    """'usps-mnistm': how a task is spelled in file names, manifest keys and the CLIs."""
    return f"{source}-{target}"


def title(method: str) -> str:
    """A method's title; a name outside the registry (a student's own) is its own title."""
    return METHODS[method].title if method in METHODS else method


def needs(method: str) -> tuple[str, ...]:
    """The methods whose checkpoints ``method`` loads: itself, and where its predictor is
    another's, that one too."""
    shared = METHODS[method].predictor_from if method in METHODS else None
    return (method,) if shared is None else (method, shared)


def digit_key(source: str, target: str, method: str) -> str:
    """The manifest's name of a method's checkpoint for a task, 'digits/usps-mnistm-dann':
    also its path in the checkpoint folder, less the suffix."""
    return f"digits/{task_name(source, target)}-{method}"


def digit_checkpoint(directory: str | Path, source: str, target: str, method: str) -> Path:
    """A method's weights for a task in the checkpoint folder ``directory``."""
    return Path(directory) / f"{digit_key(source, target, method)}.safetensors"


def checkpoint_exists(path: str | Path) -> bool:
    """Whether the checkpoint ``path`` (``....safetensors``) is there, or an exported model in
    its place."""
    path = Path(path)
    return path.is_file() or path.with_suffix(EXPORTED_SUFFIX).is_file()


def predictor_file(source: str, target: str, method: str) -> str | None:
    """What a checkpoint of ``method`` records as ``predictor_from``: the file, relative to the
    checkpoint folder, whose predictor it reuses; None when it holds its own."""
    shared = METHODS[method].predictor_from if method in METHODS else None
    return None if shared is None else digit_checkpoint("", source, target, shared).as_posix()
