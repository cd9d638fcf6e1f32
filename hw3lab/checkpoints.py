"""Checkpoints that describe themselves and never unpickle.

A checkpoint is ``NAME.safetensors`` (weights, fp16 by default) beside ``NAME.json`` (family,
architecture, width, data and provenance, command, seed, revision, metrics, date). Several
modules live in one file under prefixes (``extractor.``, ``predictor.``). Every write goes to
a temporary file first and is renamed into place, so a crash never leaves half a file.
A student's homework ``.pth`` is read with ``torch.load(weights_only=True)`` only.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from hw3lab.errors import UserInputError, few
from hw3lab.files import atomic_path

MANIFEST = "manifest.json"


class CheckpointError(UserInputError):
    """A checkpoint is missing, damaged or does not fit the model; the message says which."""


def write_json(path: str | os.PathLike, data: Any) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def metadata_path(weights: str | os.PathLike) -> Path:
    return Path(weights).with_suffix(".json")


def save_checkpoint(path: str | os.PathLike, modules: dict[str, nn.Module],
                    metadata: dict[str, Any], dtype: torch.dtype = torch.float16) -> Path:
    """Write ``modules`` (prefix -> module) as safetensors and ``metadata`` as JSON beside it."""
    path = Path(path)
    tensors = {}
    for prefix, module in modules.items():
        for key, value in module.state_dict().items():
            value = value.detach().cpu()
            tensors[f"{prefix}.{key}"] = value.to(dtype) if value.is_floating_point() else value
    with atomic_path(path) as temporary:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(temporary))
    write_json(metadata_path(path), {**metadata, "weights": path.name, "dtype": str(dtype)})
    return path


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    json_path = metadata_path(path)
    try:
        return json.loads(json_path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"missing metadata file {json_path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{json_path} is not valid JSON ({error})") from None


def load_tensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file as float32 (ints unchanged), with clear errors."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"missing checkpoint file {path}")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path} is damaged or not a safetensors file ({error})") from None
    return {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}


def load_modules(path: str | os.PathLike, modules: dict[str, nn.Module]) -> dict[str, Any]:
    """Fill ``modules`` (prefix -> module) from a checkpoint, strictly; return its metadata."""
    metadata = read_metadata(path)
    tensors = load_tensors(path)
    for prefix, module in modules.items():
        part = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
        load_state_strictly(module, part, f"{Path(path).name} [{prefix}]")
    return metadata


def load_state_strictly(module: nn.Module, state_dict: dict[str, torch.Tensor],
                        source: str) -> None:
    """``load_state_dict(strict=True)`` with a message naming missing, unexpected or
    mis-shaped keys instead of PyTorch's long traceback; ``source`` names the file."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(state_dict)
                         if expected[k].shape != state_dict[k].shape)
    problems = []
    if missing:
        problems.append(f"missing keys {few(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {few(unexpected)}")
    if wrong_shape:
        shapes = [f"{k} {tuple(state_dict[k].shape)} != {tuple(expected[k].shape)}"
                  for k in wrong_shape]
        problems.append(f"wrong shapes {few(shapes)}")
    if problems:
        raise CheckpointError(f"{source} does not fit {type(module).__name__}: "
                              + "; ".join(problems))
    module.load_state_dict(state_dict, strict=True)


def read_pth(path: str | os.PathLike, max_bytes: int) -> dict[str, Any]:
    """A homework ``.pth`` file's top-level dict, read without running any code in it.

    ``torch.load(weights_only=True)`` refuses every object but tensors and plain containers,
    so a file carrying a pickled code payload fails here instead of running. The size is
    checked before a byte is read."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"missing file {path}")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path.name} is empty")
    if size > max_bytes:
        raise CheckpointError(f"{path.name} is {size / 2**20:.1f} MB, over the limit of "
                              f"{max_bytes / 2**20:.0f} MB a file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling failure is the user's file
        reason = " ".join(str(error).split())[:160]
        raise CheckpointError(f"{path.name} is not a plain state_dict that can be loaded "
                              f"safely, refused without running it ({type(error).__name__}: "
                              f"{reason})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path.name} holds a {type(state).__name__}, not a state_dict")
    return state


def git_revision() -> str:
    """The current commit, plus '+diff-' and a hash of the uncommitted changes to tracked
    files if there are any (so the exact code can still be told apart), or 'unknown'."""
    root = Path(__file__).resolve().parent.parent
    try:
        revision = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                  text=True, check=True, timeout=5).stdout.strip()
        diff = subprocess.run(["git", "diff", "HEAD", "--binary"], cwd=root,
                              capture_output=True, check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return revision + (f"+diff-{hashlib.sha256(diff).hexdigest()[:12]}" if diff else "")


def run_provenance(seed: int | None = None,
                   device: torch.device | str | None = None) -> dict[str, Any]:
    """What every checkpoint records about how it was made; ``device`` is the one that made
    it (None: this process's default, the first GPU if there is one)."""
    return {
        "command": "python -m " + " ".join([_module_name(), *sys.argv[1:]]),
        "seed": seed,
        "revision": git_revision(),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "device": device_name(device),
    }


def device_name(device: torch.device | str | None = None) -> str:
    """'cpu', or the GPU's name (``cuda:N``'s for that index) for a CUDA device."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type != "cuda":
        return device.type
    return torch.cuda.get_device_name(device)


def _module_name() -> str:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return spec.name if spec is not None else Path(sys.argv[0]).stem


def record_derived(directory: str | os.PathLike, name: str, path: str | os.PathLike,
                   about: dict[str, Any]) -> None:
    """Describe a file derived from the checkpoints (directions, latents) in a JSON beside it,
    with the command and revision that made it, and list it in the folder's manifest."""
    write_json(metadata_path(path), {**about, **run_provenance(about.get("seed"))})
    record_in_manifest(directory, name, path)


def read_manifest(directory: str | os.PathLike) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        return {"checkpoints": {}}
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} is not valid JSON ({error})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("checkpoints"), dict):
        raise CheckpointError(f"{path} has no 'checkpoints' table")
    return manifest


def record_in_manifest(directory: str | os.PathLike, name: str, weights: str | os.PathLike) -> None:
    """Copy a checkpoint's metadata into the folder's manifest under ``name``."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    entry = read_metadata(weights)
    entry["file"] = str(Path(weights).resolve().relative_to(directory.resolve()))
    entry["size_bytes"] = Path(weights).stat().st_size
    manifest["checkpoints"][name] = entry
    write_json(directory / MANIFEST, manifest)


def ship_checkpoint(run_out: str | os.PathLike, into: str | os.PathLike, name: str) -> Path:
    """Copy checkpoint ``name`` (its weights, its JSON and the timeline the JSON names) from a
    training run's ``--out`` folder into the folder ``into`` (the shipped checkpoints), and
    list it in that folder's manifest; the weights' new path."""
    run_out, into = Path(run_out), Path(into)
    entry = read_manifest(run_out)["checkpoints"].get(name)
    if entry is None:
        raise UserInputError(f"{run_out / MANIFEST} lists no checkpoint {name!r}")
    weights = run_out / entry["file"]
    files = [weights, metadata_path(weights)]
    if entry.get("timeline"):
        files.append(run_out / entry["timeline"])
    for source in files:
        if not source.is_file():
            raise UserInputError(f"{source} is missing: the run did not finish shipping it")
        target = into / source.relative_to(run_out)
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as temporary:
            Path(temporary).write_bytes(source.read_bytes())
    record_in_manifest(into, name, into / entry["file"])
    return into / entry["file"]
