"""python -m hw3lab.import_pth --task usps-mnistm --name mine --out DIR FILE [FILE ...]: a
student's own homework weights as a lab checkpoint, beside (or instead of) the shipped ones.

Files are read with ``torch.load(weights_only=True)`` only (:func:`hw3lab.checkpoints.read_pth`),
so a pickled code payload is refused and never runs. Their parts are recognised by their keys,
not by the files' names or order: separate state_dicts of each part; one dict holding several
(``{"extractor": ..., "predictor": ...}``, also beside an optimizer's state or an epoch count);
DataParallel's ``module.`` prefixes; ADDA's ``classify`` head. A domain classifier or
discriminator of DANN or ADDA (two outputs) is recognised and left out: the lab only classifies.

A model of any other architecture comes as one ``.pt2`` file written by
``python -m hw3lab.export_model``: it is checked as the lab checks an upload
(:mod:`hw3lab.exported`, never ``torch.export.load``) and copied into the folder where the
checkpoint's weights would be, with the ``.pt2`` suffix, beside its JSON.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hw3lab import cli, limits
from hw3lab.checkpoints import (
    CheckpointError,
    atomic_path,
    load_state_strictly,
    metadata_path,
    read_pth,
    record_in_manifest,
    run_provenance,
    save_checkpoint,
    write_json,
)
from hw3lab.errors import few
from hw3lab.exported import Archive, read_exported
from hw3lab.inference import check_method_name
from hw3lab.methods import EXPORTED_SUFFIX, TASKS, digit_checkpoint, digit_key, task_name
from hw3lab.models import Decoder, Discriminator, Encoder, Extractor, Generator, Predictor
from hw3lab.models.digits import NUM_CLASSES

# The first attribute of a key names the part it belongs to, in each family.
PART_OF_ROOT = {
    "digits": {"extract": "extractor", "preprocess": "predictor", "predict": "predictor",
               "classify": "predictor"},
    "vae": {"encode": "encoder", "meanGen": "encoder", "logvarGen": "encoder",
            "preprocess": "decoder", "decode": "decoder"},
    "gan": {"decode": "generator", "encode": "discriminator"},
}
FAMILIES = tuple(PART_OF_ROOT)
# The attributes that only a whole part has (a GAN generator's 'decode' alone is not a VAE
# decoder, which also has 'preprocess'): what tells the families apart.
WHOLE_PART_ROOTS = {"extractor": {"extract"}, "predictor": {"preprocess"},
                    "encoder": {"encode", "meanGen", "logvarGen"},
                    "decoder": {"preprocess", "decode"}, "generator": {"decode"},
                    "discriminator": {"encode"}}
HOMEWORK_RENAMES = {"classify": "predict"}  # ADDA's homework names the label head 'classify'
WRAPPERS = {"module"}  # DataParallel / DistributedDataParallel wrap every key in 'module.'
# A face model's width multiplier, read from one weight: (key, dimension, channels at width 1).
WIDTH_PROBES = {"encoder": ("encode.0.block.0.weight", 0, 64),
                "decoder": ("preprocess.0.weight", 0, 2048),
                "generator": ("decode.0.block.0.weight", 1, 512),
                "discriminator": ("encode.0.block.0.weight", 0, 64)}
BUILDERS: dict[str, Callable[[float], nn.Module]] = {
    "extractor": lambda width: Extractor(), "predictor": lambda width: Predictor(),
    "encoder": Encoder, "decoder": Decoder, "generator": Generator,
    "discriminator": Discriminator,
}
ADAPTED_HINTS = ("target", "tgt")  # ADDA keeps a source and a target extractor: the target's


@dataclass
class Part:
    """One recognised state_dict: which part it is and where it came from."""

    part: str
    label: str
    state: dict[str, torch.Tensor]

    def is_whole(self) -> bool:
        roots = {key.split(".")[0] for key in self.state}
        return WHOLE_PART_ROOTS[self.part] <= roots


@dataclass
class OwnModel:
    """A student's model, loaded: the family's modules by part, width and source files."""

    family: str
    modules: dict[str, nn.Module]
    width: float
    files: list[str]


def tensors_by_key(state: Mapping, prefix: str = "") -> Iterable[tuple[str, torch.Tensor]]:
    """Every tensor of a (nested) dict as a dotted key; an optimizer's state and other
    non-tensor values (epoch, losses, arguments) are skipped."""
    for key, value in state.items():
        name = f"{prefix}{key}"
        if isinstance(value, torch.Tensor):
            yield name, value
        elif isinstance(value, Mapping) and "param_groups" not in value:
            yield from tensors_by_key(value, name + ".")


def recognise(family: str, name: str, state: Mapping) -> list[Part]:
    """Split one file's tensors into the family's parts, grouped by what precedes each key's
    first part attribute (``extractor.`` in a dict of several state_dicts, nothing in a plain
    one); keys that fit no part are an error naming them."""
    roots = PART_OF_ROOT[family]
    groups: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    stray = []
    for key, tensor in tensors_by_key(state):
        names = [n for n in key.split(".") if n not in WRAPPERS]
        start = next((i for i, n in enumerate(names) if n in roots), None)
        if start is None:
            stray.append(key)
            continue
        local = [HOMEWORK_RENAMES.get(names[start], names[start]), *names[start + 1:]]
        group = ".".join(names[:start])
        groups.setdefault((group, roots[names[start]]), {})[".".join(local)] = tensor
    if stray:
        raise CheckpointError(f"{name} has keys that belong to no part of a {family} model "
                              f"({', '.join(sorted(set(roots.values())))}): {few(stray)}")
    if not groups:
        raise CheckpointError(f"{name} holds no tensors")
    return [Part(part, f"{name} [{group}]" if group else name, tensors)
            for (group, part), tensors in groups.items()]


def is_domain_head(part: Part) -> bool:
    """DANN's domain classifier and ADDA's discriminator: a predictor with two outputs."""
    head = part.state.get("predict.4.weight")
    return part.part == "predictor" and head is not None and head.shape[0] != NUM_CLASSES


def choose(parts: list[Part], part: str, family: str) -> Part:
    """The one state_dict of ``part``; of several, the one labelled as the target's."""
    candidates = [p for p in parts if p.part == part and not is_domain_head(p)]
    if len(candidates) > 1:
        adapted = [p for p in candidates if any(h in p.label.lower() for h in ADAPTED_HINTS)]
        if len(adapted) != 1:
            raise CheckpointError(f"several {part}s ({few(p.label for p in candidates)}): "
                                  "give only the one to use")
        candidates = adapted
    if not candidates:
        given = few(sorted({p.label for p in parts}))
        hint = " (for ADDA: the source model's classifier)" if part == "predictor" else ""
        raise CheckpointError(f"no {part} in {given}: a {family} model needs its {part}'s "
                              f"state_dict too{hint}")
    return candidates[0]


def infer_width(chosen: dict[str, Part]) -> float:
    """The face model's width multiplier, from its first layer's channels (1.0: the
    homework's network; digit models have one width)."""
    for part, (key, dim, channels) in WIDTH_PROBES.items():
        if part in chosen and key in chosen[part].state:
            return chosen[part].state[key].shape[dim] / channels
    return 1.0


def load_family(family: str, states: dict[str, Mapping]) -> OwnModel:
    """``states`` (file name -> its dict) as the family's modules, strictly loaded."""
    parts = [p for name, state in states.items() for p in recognise(family, name, state)]
    chosen = {part: choose(parts, part, family) for part in dict.fromkeys(
        PART_OF_ROOT[family].values())}
    width = infer_width(chosen)
    modules = {}
    for part, found in chosen.items():
        modules[part] = BUILDERS[part](width)
        load_state_strictly(modules[part], found.state, found.label)
    return OwnModel(family, modules, width, list(states))


def load_own_model(family: str, states: dict[str, Mapping]) -> OwnModel:
    """:func:`load_family`, and if the files hold whole parts of another family instead, a
    message saying so."""
    try:
        return load_family(family, states)
    except CheckpointError as error:
        for other in FAMILIES:
            if other != family:
                try:
                    parts = [p for name, state in states.items()
                             for p in recognise(other, name, state)]
                except CheckpointError:
                    continue
                if not all(p.is_whole() for p in parts):
                    continue
                raise CheckpointError(
                    f"{few(states)} hold a {other} model's "
                    f"{', '.join(dict.fromkeys(p.part for p in parts))}, "
                    f"not a {family} model: give --family {other} (or upload it in the "
                    f"{other.upper()} tab)") from None
        raise error from None


def read_files(paths: list[str | os.PathLike],
               max_bytes: int = limits.MAX_MODEL_FILE_BYTES) -> dict[str, dict[str, Any]]:
    """File name -> its top-level dict, each file read safely and within ``max_bytes``."""
    if not paths:
        raise CheckpointError("no files given")
    states = {}
    for path in paths:
        name = Path(path).name
        if name in states:
            raise CheckpointError(f"{name} is given twice")
        states[name] = read_pth(path, max_bytes)
    return states


def save_own_model(model: OwnModel, out: str | os.PathLike, name: str,
                   task: tuple[str, str] | None, grey: bool = True,
                   overwrite: bool = False) -> Path:
    """Write ``model`` into the checkpoint folder ``out`` and its manifest; digit models as
    method ``name`` of ``task``, face models as that family's checkpoint."""
    out = Path(out)
    metadata: dict[str, Any] = {**run_provenance(), "family": model.family, "name": name,
                                "imported_from": model.files, "width": model.width}
    if model.family == "digits":
        if task is None:
            raise CheckpointError("a digit model needs --task (the task it was trained for)")
        source, target = task
        path = digit_checkpoint(out, source, target, check_method_name(name))
        entry = digit_key(source, target, name)
        metadata.update(method=name, source=source, target=target, grey=grey)
    else:
        path = out / f"{model.family}.safetensors"
        entry = model.family
    if path.exists() and not overwrite:
        raise CheckpointError(f"{path} exists: choose another --name or --out, or give --force")
    save_checkpoint(path, model.modules, metadata)
    record_in_manifest(out, entry, path)
    return path


def is_exported(paths: list[str | os.PathLike]) -> bool:
    """Whether the files given are an exported model (``.pt2``), not ``.pth`` state_dicts."""
    return any(str(p).lower().endswith(EXPORTED_SUFFIX) for p in paths)


def read_exported_file(paths: list[str | os.PathLike], family: str,
                       max_bytes: int = limits.MAX_MODEL_FILE_BYTES,
                       device: torch.device | str = "cpu") -> Archive:
    """The one exported file given, checked, of ``family``."""
    if len(paths) != 1:
        raise CheckpointError(f"an exported model is one {EXPORTED_SUFFIX} file; got "
                              f"{few([Path(p).name for p in paths])}")
    archive = read_exported(paths[0], max_bytes, device)
    if archive.convention.family != family:
        other = archive.convention.family
        raise CheckpointError(f"{archive.source} holds a {other} model, not a {family} model: "
                              f"give --family {other} (or upload it in the "
                              f"{other.upper() if other != 'digits' else 'digits'} tab)")
    return archive


def save_exported(archive: Archive, file: str | os.PathLike, out: str | os.PathLike,
                  name: str, task: tuple[str, str] | None, overwrite: bool = False) -> Path:
    """Copy a checked exported model into the checkpoint folder ``out`` with its JSON and
    manifest entry: a digit model as method ``name`` of ``task``, a face model as the
    family's checkpoint (in place of ``vae.safetensors`` or ``gan.safetensors``)."""
    out = Path(out)
    convention = archive.convention
    metadata: dict[str, Any] = {**run_provenance(), "family": convention.family, "name": name,
                                "imported_from": [Path(file).name], "exported": True,
                                "convention": convention.to_json()}
    if convention.family == "digits":
        if task is None:
            raise CheckpointError("a digit model needs --task (the task it was trained for)")
        source, target = task
        if convention.task != "-".join(task):
            raise CheckpointError(f"{archive.source} was exported for {convention.task}, not "
                                  f"{'-'.join(task)}: give --task {convention.task} (or export "
                                  "it again)")
        weights = digit_checkpoint(out, source, target, check_method_name(name))
        entry = digit_key(source, target, name)
        metadata.update(method=name, source=source, target=target,
                        grey=convention.channels == "gray")
    else:
        weights = out / f"{convention.family}.safetensors"
        entry = convention.family
    path = weights.with_suffix(EXPORTED_SUFFIX)
    for existing in (weights, path):
        if existing.exists() and not overwrite:
            raise CheckpointError(f"{existing} exists: choose another --name or --out, or "
                                  "give --force")
    with atomic_path(path) as temporary:
        temporary.write_bytes(Path(file).read_bytes())
    if weights.exists():  # --force: the exported model replaces the .pth-imported one
        weights.unlink()
    write_json(metadata_path(path), {**metadata, "weights": path.name})
    record_in_manifest(out, entry, path)
    return path


@cli.command
def main(argv: list[str] | None = None) -> int:
    tasks = [task_name(s, t) for s, t in TASKS]
    parser = cli.ArgumentParser(description="Make a lab checkpoint of your own homework weights "
                                "(.pth state_dicts, read without unpickling code).")
    parser.add_argument("files", nargs="+", metavar="FILE", help="your .pth files, any order, "
                        "or one .pt2 file written by python -m hw3lab.export_model")
    parser.add_argument("--family", default="digits", choices=FAMILIES)
    parser.add_argument("--task", choices=tasks, help="the digit task (source-target)")
    parser.add_argument("--name", default="mine",
                        help="the method name the lab and hw3lab.predict --method will use")
    parser.add_argument("--out", required=True, help="checkpoint folder to write into")
    parser.add_argument("--colour", action="store_true",
                        help="the digit model was trained on colour input (default: grey, as "
                        "the homework does when a colour domain is involved)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing checkpoint")
    args = parser.parse_args(argv)
    if args.family == "digits" and args.task is None:
        parser.error("a digit model needs --task, one of " + ", ".join(tasks))
    task = tuple(args.task.split("-")) if args.task else None
    if is_exported(args.files):
        archive = read_exported_file(args.files, args.family)
        path = save_exported(archive, args.files[0], args.out, args.name,
                             task if args.family == "digits" else None, args.force)
        print(f"wrote {path} (an exported {args.family} model, checked) and its manifest entry")
        return 0
    model = load_own_model(args.family, read_files(args.files))
    path = save_own_model(model, args.out, args.name, task, grey=not args.colour,
                          overwrite=args.force)
    print(f"wrote {path} ({', '.join(model.modules)}) and its manifest entry")
    return 0


if __name__ == "__main__":
    sys.exit(main())
