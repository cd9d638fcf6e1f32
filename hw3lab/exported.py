"""A classmate's model of any architecture as an exported ``.pt2`` archive, read and run safely.

``python -m hw3lab.export_model`` writes a torch.export archive (the graph as JSON, the weights as
raw bytes) with the lab's description of it in ``extra/hw3lab.json``: the family, the task, and
how images and latents are given to it (:class:`Convention`). This module reads such a file
without ever handing it to ``torch.export.load``, which unpickles with ``weights_only=False``
wherever the archive's configs ask for it (weights marked ``use_pickle``, pickled constants,
sample inputs) and evaluates the graph's symbolic expressions with sympy. Instead:

1. the zip is opened within :data:`limits.MAX_EXPORTED_UNPACKED_BYTES` and every member must be
   one the lab knows (the format files, ``models/NAME.json``, the weight and constant configs,
   raw ``weight_N`` / ``tensor_constant_N`` payloads, empty sample inputs, ``extra/hw3lab.json``);
   compiled code (AOTInductor), executorch files, legacy pickled weights, any config entry with
   ``use_pickle`` or a custom or opaque object, and non-empty (pickled) sample inputs are
   refused, and nothing of them is read past its name;
2. every node of the graph must call an ATen core operator (``torch.Tag.core``, functional,
   without data-dependent output sizes or random numbers) or one of :data:`SYMBOLIC_OPS`; the
   op names are checked as strings before any is looked up;
3. the graph's tensor shapes, from its own metadata (symbolic sizes are parsed by
   :func:`parse_size`, a small grammar, never ``eval``), give the peak memory of every batch the
   lab runs (:func:`Program.peak_bytes`): above :data:`limits.MAX_EXPORTED_PEAK_BYTES` the file is
   refused;
4. the graph is then run once per batch size on PyTorch's ``meta`` device (shapes only, no data,
   no memory): every shape must equal the metadata's, the outputs must have the shapes the
   family needs, and the work (FLOPs plus elements written) per image must stay under
   :data:`limits.MAX_EXPORTED_WORK_PER_IMAGE`, which bounds the time of every call.

The lab then runs the graph with its own small interpreter (:class:`Program`), in chunks of at
most :data:`CHUNK` images, a remainder padded to the next power of two: exactly the batch sizes
checked in step 4. A refusal is one :class:`ExportedModelError` naming what is wrong.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import torch

from hw3lab import limits
from hw3lab.checkpoints import CheckpointError
from hw3lab.errors import few

FORMAT_VERSION = 1
META_FILE = "hw3lab.json"
# The programs each family's archive holds, by name (torch.export's "model" for one program).
PROGRAMS = {"digits": ("model",), "gan": ("generator",), "vae": ("encoder", "decoder")}
FAMILIES = tuple(PROGRAMS)
# The lab runs a program on at most this many inputs at once (a digit batch, a face grid).
CHUNK = {"digits": 256, "gan": 64, "vae": 64}
DIGIT_CLASSES = 10
FACE_SIZE = 64
CHANNELS = {"rgb": 3, "gray": 1}

# Symbolic integer arithmetic that a graph exported with a dynamic batch computes sizes with.
SYMBOLIC_OPS: dict[str, Callable[[int, int], int]] = {
    "_operator.mul": operator.mul, "_operator.add": operator.add,
    "_operator.sub": operator.sub, "_operator.floordiv": operator.floordiv,
}
# aten ops that read sizes (symbolic ints, not tensors); core, but listed here for clarity.
SIZE_OPS = {"sym_size.int", "sym_numel.default", "sym_stride.int",
            "sym_storage_offset.default"}
# Operators whose results hold whatever memory held before: a crafted graph could return the
# server's leftover memory to its uploader.
UNINITIALISED = ("empty", "new_empty", "_empty", "empty_strided", "empty_like",
                 "new_empty_strided", "empty_permuted")
REFUSED_TAGS = (torch.Tag.dynamic_output_shape, torch.Tag.data_dependent_output,
                torch.Tag.nondeterministic_seeded, torch.Tag.inplace_view)
DTYPES = {1: torch.uint8, 2: torch.int8, 3: torch.int16, 4: torch.int32, 5: torch.int64,
          6: torch.float16, 7: torch.float32, 8: torch.float64, 12: torch.bool,
          13: torch.bfloat16}
MEMORY_FORMATS = {1: torch.contiguous_format, 2: torch.channels_last,
                  3: torch.channels_last_3d, 4: torch.preserve_format}
STRIDED_LAYOUT = 7
TARGET = re.compile(r"torch\.ops\.aten\.([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*|default|Tensor)",
                    re.IGNORECASE)
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")
PAYLOAD = re.compile(r"(weight|tensor_constant)_(\d{1,6})")
MAX_MEMBERS = 2000
MAX_NODES = 5000
MAX_JSON_BYTES = 8 * 1024 * 1024


class ExportedModelError(CheckpointError):
    """An exported model that the lab refuses; the message says what and what to change."""


# -- the archive's description: family, task, and how inputs are given ----------------------

@dataclass(frozen=True)
class Convention:
    """How the lab gives images (and latents) to an exported model and reads its outputs.

    Images are pixels in 0..255 made ``channels`` ('rgb', or 'gray' exactly as PIL's
    ``convert('L')`` and torchvision's ``Grayscale`` of a PIL image make it), resized to
    ``size`` if it is not the lab's, then either mapped linearly to ``scale`` (lo, hi) or,
    with ``mean`` and ``std``, to (x / 255 - mean) / std per channel, as torchvision's
    Normalize does. A generator's or decoder's images are read in ``scale``."""

    family: str
    task: str | None = None
    channels: str = "rgb"
    scale: tuple[float, float] = (0.0, 1.0)
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    size: int = 28
    latent: int | None = None
    features: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        data = {"format": FORMAT_VERSION, "family": self.family, "task": self.task,
                "input": self.channels, "scale": list(self.scale), "size": self.size,
                "latent": self.latent, "features": self.features,
                "normalize": None if self.mean is None else {"mean": list(self.mean),
                                                             "std": list(self.std or ())}}
        return {**data, **self.extra}

    @classmethod
    def from_json(cls, data: Any, where: str) -> Convention:
        """The description as written by the exporter, every value checked."""
        def fail(what: str) -> ExportedModelError:
            return ExportedModelError(f"{where}: extra/{META_FILE} {what}; export the model "
                                      "again with python -m hw3lab.export_model")
        if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
            raise fail(f"is not format {FORMAT_VERSION} of the lab's description")
        family = data.get("family")
        if family not in FAMILIES:
            raise fail(f"names no family the lab knows ({', '.join(FAMILIES)})")
        task = data.get("task")
        if family == "digits" and not (isinstance(task, str) and re.fullmatch(r"[a-z]+-[a-z]+",
                                                                              task)):
            raise fail("names no digit task")
        channels = data.get("input", "rgb")
        if channels not in CHANNELS:
            raise fail("input must be rgb or gray")
        scale = _numbers(data.get("scale", [0, 1]), 2, 2)
        if scale is None or scale[0] == scale[1]:
            raise fail("scale must be two different numbers")
        size = data.get("size")
        if not isinstance(size, int) or not 8 <= size <= 256:
            raise fail("size must be a whole number from 8 to 256")
        normalize = data.get("normalize")
        mean = std = None
        if normalize is not None:
            mean = _numbers(normalize.get("mean") if isinstance(normalize, dict) else None, 1, 3)
            std = _numbers(normalize.get("std") if isinstance(normalize, dict) else None, 1, 3)
            if mean is None or std is None or len(mean) != len(std) or 0 in std:
                raise fail("normalize must give 1 or 3 means and as many non-zero stds")
        latent = data.get("latent")
        if latent is not None and (not isinstance(latent, int) or not 1 <= latent <= 4096):
            raise fail("latent must be a whole number from 1 to 4096")
        features = data.get("features")
        if features is not None and not (isinstance(features, str) and len(features) <= 200):
            raise fail("features must be a module name")
        known = {"format", "family", "task", "input", "scale", "size", "latent", "features",
                 "normalize"}
        extra = {k: v for k, v in data.items() if k not in known
                 and isinstance(v, str | int | float | bool | None) and len(str(k)) <= 64}
        return cls(family, task if family == "digits" else None, channels, scale, mean, std,
                   size, latent, features, extra)

    def images_to_model(self, pixels: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) uint8 (C 1 or 3) -> the model's float input."""
        if pixels.shape[1] == 3 and self.channels == "gray":
            pixels = pil_grey(pixels)
        x = pixels.float().div_(255)
        if x.shape[1] == 1 and self.channels == "rgb":
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = torch.nn.functional.interpolate(x, size=(self.size, self.size),
                                                mode="bilinear", antialias=True,
                                                align_corners=False)
        if self.mean is not None and self.std is not None:
            mean = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
            std = torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)
            return (x - mean) / std
        low, high = self.scale
        return x * (high - low) + low if (low, high) != (0.0, 1.0) else x

    def lab_range_to_model(self, images: torch.Tensor) -> torch.Tensor:
        """Faces in the lab's [-1, 1] -> the model's input convention."""
        pixels = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return self.images_to_model(pixels)

    def model_to_lab_range(self, images: torch.Tensor) -> torch.Tensor:
        """A generator's or decoder's images in ``scale`` -> the lab's [-1, 1]."""
        low, high = self.scale
        return (images.float() - low) * (2.0 / (high - low)) - 1.0


def pil_grey(pixels: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) uint8 -> (N, 1, H, W) uint8 by PIL's ``convert('L')``, to the bit:
    (R * 19595 + G * 38470 + B * 7471 + 32768) >> 16."""
    weights = torch.tensor((19595, 38470, 7471), dtype=torch.int32, device=pixels.device)
    total = (pixels.to(torch.int32) * weights.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    return ((total + 32768) >> 16).to(torch.uint8)


def _numbers(value: Any, least: int, most: int) -> tuple[float, ...] | None:
    if not isinstance(value, list | tuple) or not least <= len(value) <= most:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
               for v in value):
        return None
    return tuple(float(v) for v in value)


# -- symbolic sizes ---------------------------------------------------------------------------

def parse_size(text: str, where: str = "a graph") -> Callable[[dict[str, int]], int]:
    """A symbolic size as written by torch.export (``Symbol('s77', positive=True,
    integer=True)``, ``Mul(Integer(2), Symbol(...))``, ...) -> a function of the symbols'
    values. Only Symbol, Integer, Add, Mul and FloorDiv are understood; the text is parsed, never
    evaluated."""
    if not isinstance(text, str) or len(text) > 2000:
        raise ExportedModelError(f"{where}: a symbolic size is not text of a reasonable length")
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise ExportedModelError(f"{where}: the symbolic size {text[:60]!r} cannot be "
                                 "read") from None
    return _size_function(tree, text, where)


def _size_function(node: ast.AST, text: str, where: str) -> Callable[[dict[str, int]], int]:
    def fail() -> ExportedModelError:
        return ExportedModelError(f"{where}: the symbolic size {text[:60]!r} uses more than "
                                  "symbols, integers, +, * and //; refused without evaluating "
                                  "it")
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise fail()
    kind, args = node.func.id, node.args
    if kind == "Symbol":
        if (len(args) != 1 or not isinstance(args[0], ast.Constant)
                or not isinstance(args[0].value, str) or not NAME.fullmatch(args[0].value)
                or any(not isinstance(k.value, ast.Constant) for k in node.keywords)):
            raise fail()
        name = args[0].value
        return lambda values: values[name]
    if node.keywords:
        raise fail()
    if kind == "Integer":
        if (len(args) != 1 or not isinstance(args[0], ast.Constant | ast.UnaryOp)):
            raise fail()
        try:
            number = ast.literal_eval(args[0])
        except ValueError:
            raise fail() from None
        if not isinstance(number, int) or abs(number) > 2**62:
            raise fail()
        return lambda values: number
    parts = [_size_function(a, text, where) for a in args]
    if kind == "Add" and parts:
        return lambda values: sum(p(values) for p in parts)
    if kind == "Mul" and parts:
        return lambda values: math.prod(p(values) for p in parts)
    if kind == "FloorDiv" and len(parts) == 2:
        return lambda values: parts[0](values) // parts[1](values)
    raise fail()


def symbols_in(text: str) -> set[str]:
    return set(re.findall(r"Symbol\('([A-Za-z_][A-Za-z0-9_]*)'", text))


# -- allowed operators --------------------------------------------------------------------------

@cache
def _aten_names() -> frozenset[str]:
    """'conv2d.default', 'add.Tensor', ...: every aten operator overload registered."""
    names = set()
    for qualified in torch._C._dispatch_get_all_op_names():
        if qualified.startswith("aten::"):
            name, _, overload = qualified[len("aten::"):].partition(".")
            names.add(f"{name}.{overload or 'default'}")
    return frozenset(names)


@cache
def allowed_operator(target: str) -> torch._ops.OpOverload | None:
    """The ATen core operator named ``target`` ('torch.ops.aten.convolution.default') if the
    lab runs it, else None. The name is checked against the registry before it is looked up."""
    match = TARGET.fullmatch(target)
    if match is None or f"{match[1]}.{match[2]}" not in _aten_names():
        return None
    if match[1] in UNINITIALISED or match[1].startswith("_empty"):
        return None
    op = getattr(getattr(torch.ops.aten, match[1]), match[2])
    schema = op._schema
    size_op = f"{match[1]}.{match[2]}" in SIZE_OPS
    if not size_op and (torch.Tag.core not in op.tags or schema.is_mutable
                        or any(tag in op.tags for tag in REFUSED_TAGS)):
        return None
    return op


# -- reading the archive --------------------------------------------------------------------

@dataclass
class Archive:
    """A validated archive's parts: its description and each program, ready to run."""

    source: str
    convention: Convention
    programs: dict[str, Program]


def read_exported(path: str | Path, max_bytes: int = limits.MAX_MODEL_FILE_BYTES,
                  device: torch.device | str = "cpu") -> Archive:
    """Read, check and load an exported model file (every step of this module's docstring);
    an :class:`ExportedModelError` for anything the lab does not accept."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise ExportedModelError(f"missing file {path}")
    size = path.stat().st_size
    if size > max_bytes:
        raise ExportedModelError(f"{name} is {size / 2**20:.1f} MB, over the limit of "
                                 f"{max_bytes / 2**20:.0f} MB a file")
    try:
        with zipfile.ZipFile(path) as archive:
            return _read(archive, name, torch.device(device))
    except ExportedModelError:
        raise
    except (KeyError, TypeError, AttributeError, IndexError, ValueError, RecursionError) as error:
        raise ExportedModelError(f"{name} is malformed ({type(error).__name__}: "
                                 f"{' '.join(str(error).split())[:100]}); export it again with "
                                 "python -m hw3lab.export_model") from None
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, NotImplementedError) as error:
        raise ExportedModelError(f"{name} is not a complete .pt2 archive (a zip file): "
                                 f"{' '.join(str(error).split())[:120]}; export it again with "
                                 "python -m hw3lab.export_model") from None


def _read(archive: zipfile.ZipFile, name: str, device: torch.device) -> Archive:
    members = _check_members(archive, name)
    root = members["root"]

    def read(member: str, limit: int = MAX_JSON_BYTES) -> bytes:
        info = archive.getinfo(root + member)
        if info.file_size > limit:
            raise ExportedModelError(f"{name}: {member} is too large ({info.file_size} bytes)")
        data = archive.read(info)  # checks the CRC: a damaged member is a BadZipFile
        if len(data) != info.file_size:
            raise ExportedModelError(f"{name}: {member} is damaged")
        return data

    def read_json(member: str) -> Any:
        try:
            return json.loads(read(member))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            raise ExportedModelError(f"{name}: {member} is not valid JSON") from None

    for member, expected in (("archive_format", b"pt2"), ("byteorder", b"little")):
        if read(member, 64).strip() != expected:
            raise ExportedModelError(f"{name}: {member} is not {expected.decode()!r}")
    if f"extra/{META_FILE}" not in members["files"]:
        raise ExportedModelError(f"{name} has no extra/{META_FILE}: it was not written by "
                                 "python -m hw3lab.export_model, which records the family, "
                                 "task and input convention the lab needs")
    convention = Convention.from_json(read_json(f"extra/{META_FILE}"), name)
    expected_programs = PROGRAMS[convention.family]
    found = sorted(m[len("models/"):-len(".json")] for m in members["files"]
                   if m.startswith("models/"))
    if found != sorted(expected_programs):
        raise ExportedModelError(f"{name} holds programs {few(found) or 'none'}; a "
                                 f"{convention.family} file holds "
                                 f"{', '.join(expected_programs)}")
    programs = {}
    for program in expected_programs:
        payloads: dict[str, dict[str, Any]] = {}
        for directory, kind in (("weights", "weights"), ("constants", "constants")):
            config = read_json(f"data/{directory}/{program}_{kind}_config.json")
            payloads.update(_check_config(config, directory, members["files"], name))
        tensors = _load_payloads(payloads, read, name, device)
        graph = read_json(f"models/{program}.json")
        programs[program] = Program.from_json(graph, tensors, f"{name} [{program}]",
                                              CHUNK[convention.family])
    for program in programs.values():
        program.device = device
    check_programs(convention, programs, name)
    return Archive(name, convention, programs)


def _check_members(archive: zipfile.ZipFile, name: str) -> dict[str, Any]:
    """Every member: one root folder, known names only, sizes within the limits."""
    infos = archive.infolist()
    if not infos or len(infos) > MAX_MEMBERS:
        raise ExportedModelError(f"{name} holds {len(infos)} files; a .pt2 holds 1 to "
                                 f"{MAX_MEMBERS}")
    roots = {info.filename.split("/", 1)[0] for info in infos}
    if len(roots) != 1 or any("/" not in info.filename for info in infos):
        raise ExportedModelError(f"{name} is not a .pt2 archive (its files are not in one "
                                 "folder)")
    root = roots.pop() + "/"
    total = sum(info.file_size for info in infos)
    if total > limits.MAX_EXPORTED_UNPACKED_BYTES:
        raise ExportedModelError(f"{name} unpacks to {total / 2**20:.0f} MB, over the limit of "
                                 f"{limits.MAX_EXPORTED_UNPACKED_BYTES / 2**20:.0f} MB")
    files = set()
    for info in infos:
        member = info.filename[len(root):]
        if member in files:
            raise ExportedModelError(f"{name} holds {member} twice")
        files.add(member)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ExportedModelError(f"{name}: {member} is compressed in a way the lab does "
                                     "not read")
        reason = _member_problem(member, info.file_size)
        if reason:
            raise ExportedModelError(f"{name}: {member} {reason}; refused without reading it "
                                     "(export with python -m hw3lab.export_model)")
    return {"root": root, "files": files}


def _member_problem(member: str, size: int) -> str | None:
    """Why ``member`` may not be in an archive the lab reads; None if it may."""
    if member in ("archive_format", "archive_version", "byteorder", ".data/version",
                  ".data/serialization_id", f"extra/{META_FILE}"):
        return None
    if member.startswith("data/sample_inputs/"):
        return None if size == 0 else "holds pickled sample inputs"
    if member.startswith(("data/aotinductor/", "data/executorch/", "data/mtia/")):
        return "is compiled code"
    parts = member.split("/")
    if (len(parts) == 2 and parts[0] == "models" and parts[1].endswith(".json")
            and parts[1][:-5] in {p for ps in PROGRAMS.values() for p in ps}):
        return None
    if len(parts) == 3 and parts[:2] in (["data", "weights"], ["data", "constants"]):
        if parts[2].endswith((".pt", ".pkl", ".pickle")):
            return "is pickled"
        kind = parts[1]
        if re.fullmatch(rf"[a-z]+_{kind}_config\.json", parts[2]):
            return None
        match = PAYLOAD.fullmatch(parts[2])
        if match and (match[1] == "weight") == (kind == "weights"):
            return None
        if parts[2].startswith(("custom_obj", "opaque_obj")):
            return "is a pickled object"
    return "is not a file the lab reads"


def _check_config(config: Any, directory: str, files: set[str],
                  name: str) -> dict[str, dict[str, Any]]:
    """A weights or constants config: each entry raw (not pickled), its payload present."""
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ExportedModelError(f"{name}: the {directory} config has no 'config' table")
    entries = {}
    for fqn, meta in config["config"].items():
        if not isinstance(meta, dict) or len(str(fqn)) > 300:
            raise ExportedModelError(f"{name}: {directory} entry {str(fqn)[:60]!r} is malformed")
        if meta.get("use_pickle") is not False:
            raise ExportedModelError(f"{name}: {directory} entry {fqn} is pickled (use_pickle); "
                                     "the lab never unpickles an uploaded file")
        path_name = meta.get("path_name")
        match = PAYLOAD.fullmatch(path_name) if isinstance(path_name, str) else None
        if match is None or (match[1] == "weight") != (directory == "weights"):
            raise ExportedModelError(f"{name}: {directory} entry {fqn} names "
                                     f"{str(path_name)[:40]!r}, not a raw tensor payload")
        if f"data/{directory}/{path_name}" not in files:
            raise ExportedModelError(f"{name}: {directory} entry {fqn} has no payload "
                                     f"data/{directory}/{path_name}")
        entries[str(fqn)] = {**meta, "member": f"data/{directory}/{path_name}"}
    return entries


def _ints(values: Any, what: str) -> list[int]:
    """[{'as_int': n}, ...] -> [n, ...]; a symbolic entry is refused (weights are fixed)."""
    if not isinstance(values, list) or len(values) > 8:
        raise ExportedModelError(f"{what} is not a list of up to 8 sizes")
    out = []
    for value in values:
        number = value.get("as_int") if isinstance(value, dict) else None
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number < 2**40:
            raise ExportedModelError(f"{what} holds {str(value)[:40]}, not a whole number")
        out.append(number)
    return out


def _load_payloads(payloads: dict[str, dict[str, Any]], read: Callable[..., bytes], name: str,
                   device: torch.device) -> dict[str, torch.Tensor]:
    """fqn -> tensor, each from its raw bytes, checked to lie inside them."""
    raw: dict[str, bytes] = {}
    tensors = {}
    for fqn, meta in payloads.items():
        info = meta.get("tensor_meta")
        if not isinstance(info, dict):
            raise ExportedModelError(f"{name}: {fqn} has no tensor description")
        dtype = DTYPES.get(info.get("dtype"))
        if dtype is None:
            raise ExportedModelError(f"{name}: {fqn} has a data type the lab does not read")
        if info.get("layout", STRIDED_LAYOUT) != STRIDED_LAYOUT:
            raise ExportedModelError(f"{name}: {fqn} is not a dense tensor")
        sizes = _ints(info.get("sizes"), f"{name}: {fqn}'s sizes")
        strides = _ints(info.get("strides"), f"{name}: {fqn}'s strides")
        offset = _ints([info.get("storage_offset", {"as_int": 0})], f"{name}: {fqn}'s offset")[0]
        if len(strides) != len(sizes):
            raise ExportedModelError(f"{name}: {fqn} has {len(sizes)} sizes but "
                                     f"{len(strides)} strides")
        member = meta["member"]
        if member not in raw:
            raw[member] = read(member, limits.MAX_EXPORTED_UNPACKED_BYTES)
        data = raw[member]
        itemsize = torch.empty((), dtype=dtype).element_size()
        if len(data) % itemsize:
            raise ExportedModelError(f"{name}: {member} is not a whole number of {dtype} values")
        count = len(data) // itemsize
        extent = offset + sum((s - 1) * t for s, t in zip(sizes, strides, strict=True)) + 1 \
            if all(sizes) else 0
        if extent > count:
            raise ExportedModelError(f"{name}: {fqn} reaches past the end of {member}")
        flat = (torch.frombuffer(bytearray(data), dtype=dtype) if count
                else torch.empty(0, dtype=dtype))
        tensor = flat.as_strided(sizes, strides, offset) if all(sizes) else \
            torch.empty(sizes, dtype=dtype)
        tensors[fqn] = tensor.clone().to(device)
    return tensors


# -- the graph ----------------------------------------------------------------------------------

@dataclass
class Step:
    """One node: what it calls, how its arguments are found, where its results go."""

    name: str
    call: Callable[..., Any]
    args: list[Any]
    kwargs: dict[str, Any]
    outputs: list[str | None]  # where the results go, by position
    many: bool  # the operation returns a sequence of results (else one)
    target: str


class Ref:
    """A reference to a value computed earlier (a tensor or a symbolic int) by name."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class DeviceArg:
    """A device argument: always the device the program runs on."""


@dataclass
class Program:
    """One validated exported graph and its weights, run by a small interpreter."""

    source: str
    steps: list[Step]
    constants: dict[str, torch.Tensor]  # placeholder name -> weight, buffer or constant
    input_name: str
    outputs: list[str]
    tensor_sizes: dict[str, tuple[list[Callable[[dict[str, int]], int]], torch.dtype]]
    batch_symbol: str | None
    chunk: int
    device: torch.device = torch.device("cpu")

    @classmethod
    def from_json(cls, data: Any, tensors: dict[str, torch.Tensor], source: str,
                  chunk: int) -> Program:
        try:
            return _build_program(data, tensors, source, chunk)
        except (KeyError, TypeError, AttributeError, IndexError) as error:
            raise ExportedModelError(f"{source}: the graph is malformed "
                                     f"({type(error).__name__}: {str(error)[:80]})") from None

    def batches(self) -> list[int]:
        """The batch sizes the lab runs: powers of two up to the chunk."""
        return [2**i for i in range(int(math.log2(self.chunk)) + 1)]

    def run_exact(self, x: torch.Tensor, constants: dict[str, torch.Tensor] | None = None,
                  observe: Callable[[Step, str, Any], None] | None = None) -> tuple[Any, ...]:
        """The graph on one batch (of a size in :meth:`batches`): its outputs. ``constants``
        replaces the weights (meta tensors for the checks); ``observe`` sees every result."""
        env: dict[str, Any] = dict(self.constants if constants is None else constants)
        env[self.input_name] = x
        device = x.device
        for step in self.steps:
            args = [_resolve(a, env, device) for a in step.args]
            kwargs = {k: _resolve(v, env, device) for k, v in step.kwargs.items()}
            result = step.call(*args, **kwargs)
            values = list(result) if step.many else [result]
            if len(values) < len(step.outputs):
                raise ExportedModelError(f"{self.source}: {step.target} returned "
                                         f"{len(values)} results, not {len(step.outputs)}")
            for name, value in zip(step.outputs, values, strict=False):
                if name is not None:
                    env[name] = value
                    if observe is not None:
                        observe(step, name, value)
        return tuple(env[name] for name in self.outputs)

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The graph on any number of inputs: chunks of at most :attr:`chunk`, a remainder
        padded (by repeating its last input) to the next power of two."""
        pieces = []
        for start in range(0, len(x), self.chunk):
            part = x[start:start + self.chunk]
            padded = 1 << (len(part) - 1).bit_length()
            if padded != len(part):
                part = torch.cat([part, part[-1:].expand(padded - len(part),
                                                         *part.shape[1:])])
            # a copy of its own: as_strided reaches anywhere in its input's storage
            outputs = self.run_exact(part.clone(memory_format=torch.contiguous_format))
            pieces.append([o[:len(x[start:start + self.chunk])] for o in outputs])
        if not pieces:
            raise ExportedModelError("no inputs to run the model on")
        return tuple(torch.cat(parts) for parts in zip(*pieces, strict=True))

    def input_meta(self) -> tuple[list[Callable[[dict[str, int]], int]], torch.dtype]:
        return self.tensor_sizes[self.input_name]

    def sizes_at(self, name: str, batch: int) -> tuple[int, ...]:
        functions, _ = self.tensor_sizes[name]
        values = {self.batch_symbol: batch} if self.batch_symbol else {}
        return tuple(f(values) for f in functions)

    def peak_bytes(self, batch: int) -> tuple[int, int]:
        """The peak bytes of the intermediate tensors alive at once when the graph runs on
        ``batch`` inputs, and the largest one's element count, from the graph's own shape
        metadata (a view is counted as if it were a copy, so the bound is from above)."""
        last_use: dict[str, int] = {}
        for index, step in enumerate(self.steps):
            for name in _refs(step):
                last_use[name] = index
        for name in self.outputs:
            last_use[name] = len(self.steps)
        alive: dict[str, int] = {}
        peak = largest = 0
        for index, step in enumerate(self.steps):
            for name in step.outputs:
                if name in self.tensor_sizes:
                    sizes = self.sizes_at(name, batch)
                    if any(s < 0 for s in sizes):
                        raise ExportedModelError(f"{self.source}: {name} has a negative size")
                    count = math.prod(sizes)
                    largest = max(largest, count)
                    itemsize = torch.empty((), dtype=self.tensor_sizes[name][1]).element_size()
                    alive[name] = count * itemsize
            peak = max(peak, sum(alive.values()))
            for name in [n for n in alive if last_use.get(n, -1) <= index]:
                del alive[name]
        return peak, largest


def _refs(step: Step) -> list[str]:
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, Ref):
            found.append(value.name)
        elif isinstance(value, list):
            for item in value:
                walk(item)
    for value in [*step.args, *step.kwargs.values()]:
        walk(value)
    return found


def _resolve(value: Any, env: dict[str, Any], device: torch.device) -> Any:
    if isinstance(value, Ref):
        return env[value.name]
    if isinstance(value, list):
        return [_resolve(v, env, device) for v in value]
    if isinstance(value, DeviceArg):
        return device
    return value


def _argument(arg: Any, where: str) -> Any:
    """One serialized argument as a constant, a :class:`Ref`, or a list of them."""
    if not isinstance(arg, dict) or len(arg) != 1:
        raise ExportedModelError(f"{where}: an argument is malformed")
    (kind, value), = arg.items()
    if kind == "as_none":
        return None
    if kind == "as_tensor":
        return Ref(_name(value["name"], where))
    if kind == "as_tensors":
        return [Ref(_name(v["name"], where)) for v in value]
    if kind in ("as_optional_tensors",):
        return [None if "as_none" in v else Ref(_name(v["as_tensor"]["name"], where))
                for v in value]
    if kind == "as_optional_tensor":
        return None if "as_none" in value else Ref(_name(value["as_tensor"]["name"], where))
    if kind in ("as_int", "as_float", "as_bool") and _plain(value, kind):
        return value
    if kind in ("as_ints", "as_floats", "as_bools") and isinstance(value, list) \
            and len(value) <= 64 and all(_plain(v, kind[:-1]) for v in value):
        return list(value)
    if kind == "as_string" and isinstance(value, str) and len(value) <= 64:
        return value
    if kind == "as_sym_int":
        return _sym_int(value, where)
    if kind == "as_sym_ints" and isinstance(value, list) and len(value) <= 64:
        return [_sym_int(v, where) for v in value]
    if kind == "as_scalar_type" and value in DTYPES:
        return DTYPES[value]
    if kind == "as_memory_format" and value in MEMORY_FORMATS:
        return MEMORY_FORMATS[value]
    if kind == "as_layout" and value == STRIDED_LAYOUT:
        return torch.strided
    if kind == "as_device":
        return DeviceArg()
    raise ExportedModelError(f"{where}: an argument of kind {kind} is not one the lab runs")


def _plain(value: Any, kind: str) -> bool:
    if kind == "as_bool":
        return isinstance(value, bool)
    if kind == "as_int":
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**62
    if isinstance(value, str):  # json writes inf and nan as strings
        return False
    return isinstance(value, int | float) and not isinstance(value, bool)


def _sym_int(value: Any, where: str) -> Any:
    if "as_int" in value and _plain(value["as_int"], "as_int"):
        return value["as_int"]
    if "as_name" in value:
        return Ref(_name(value["as_name"], where))
    raise ExportedModelError(f"{where}: a size argument is malformed")


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise ExportedModelError(f"{where}: a value name is malformed")
    return value


def _build_program(data: dict[str, Any], tensors: dict[str, torch.Tensor], source: str,
                   chunk: int) -> Program:
    module = data["graph_module"]
    graph = module["graph"]
    for kind in ("sym_bool_values", "sym_float_values", "custom_obj_values"):
        if graph.get(kind):
            raise ExportedModelError(f"{source}: the graph has {kind.replace('_', ' ')}, "
                                     "which the lab does not run")
    nodes = graph["nodes"]
    if not isinstance(nodes, list) or len(nodes) > MAX_NODES:
        raise ExportedModelError(f"{source}: the graph has more than {MAX_NODES} operations")
    # Shapes, by name: every size parsed (never evaluated), every symbol the batch's.
    tensor_sizes = {}
    symbols: set[str] = set()
    for name, meta in graph["tensor_values"].items():
        dtype = DTYPES.get(meta["dtype"])
        if dtype is None:
            raise ExportedModelError(f"{source}: {name} has a data type the lab does not run")
        sizes = []
        for size in meta["sizes"]:
            if "as_int" in size and _plain(size["as_int"], "as_int"):
                sizes.append(_constant(size["as_int"]))
            else:
                text = size["as_expr"]["expr_str"]
                symbols |= symbols_in(text)
                sizes.append(parse_size(text, source))
        tensor_sizes[_name(name, source)] = (sizes, dtype)
    for meta in graph["sym_int_values"].values():
        if "as_expr" in meta:
            symbols |= symbols_in(meta["as_expr"]["expr_str"])
    if len(symbols) > 1:
        raise ExportedModelError(f"{source}: the graph's sizes depend on {few(sorted(symbols))}; "
                                 "only the batch size may vary")
    # Inputs: weights, buffers and constants by name; exactly one user input.
    signature = module["signature"]
    constants: dict[str, torch.Tensor] = {}
    user_inputs = []
    for spec in signature["input_specs"]:
        (kind, value), = spec.items()
        if kind == "user_input":
            user_inputs.append(_name(value["arg"]["as_tensor"]["name"], source))
            continue
        key = {"parameter": "parameter_name", "buffer": "buffer_name",
               "tensor_constant": "tensor_constant_name"}.get(kind)
        if key is None:
            raise ExportedModelError(f"{source}: the graph takes a {kind}, which the lab does "
                                     "not give")
        fqn = value[key]
        if fqn not in tensors:
            raise ExportedModelError(f"{source}: {kind} {fqn} has no stored tensor")
        placeholder = _name(value["arg"]["name"], source)
        sizes, dtype = tensor_sizes.get(placeholder, (None, None))
        stored = tensors[fqn]
        if sizes is None or [f({}) for f in sizes] != list(stored.shape) or dtype != stored.dtype:
            raise ExportedModelError(f"{source}: {fqn}'s stored tensor "
                                     f"{tuple(stored.shape)} {stored.dtype} is not the graph's")
        constants[placeholder] = stored
    if len(user_inputs) != 1:
        raise ExportedModelError(f"{source}: the graph takes {len(user_inputs)} inputs; the lab "
                                 "gives one (a batch of images or latents)")
    for spec in signature["output_specs"]:
        if set(spec) != {"user_output"}:
            raise ExportedModelError(f"{source}: the graph has a {next(iter(spec))} output "
                                     "(it changes its own state); export it in eval mode")
    # Steps: only allowed operators, every argument of a known kind.
    steps = []
    for index, node in enumerate(nodes):
        target = node["target"]
        where = f"{source}: operation {index} ({str(target)[:60]})"
        if not isinstance(target, str):
            raise ExportedModelError(f"{where}: malformed")
        call: Callable[..., Any] | None = SYMBOLIC_OPS.get(target) or allowed_operator(target)
        if call is None:
            raise ExportedModelError(f"{source}: the graph calls {target[:80]}, which is not an "
                                     "ATen core operator the lab runs (custom operators, "
                                     "Python functions, in-place, random or data-dependent "
                                     "operators are refused)")
        args, kwargs = [], {}
        for named in node["inputs"]:
            value = _argument(named["arg"], where)
            if named.get("kind", 1) == 2:
                kwargs[_name(named["name"], where)] = value
            else:
                args.append(value)
        results = node["outputs"]
        outputs: list[str | None] = []
        many = len(results) != 1
        for result in results:
            (kind, value), = result.items()
            if kind == "as_tensor":
                outputs.append(_name(value["name"], where))
            elif kind == "as_tensors" and len(results) == 1:
                outputs.extend(_name(t["name"], where) for t in value)
                many = True
            elif kind == "as_sym_int":
                outputs.append(_name(value["as_name"], where))
            elif kind == "as_none":
                outputs.append(None)
            else:
                raise ExportedModelError(f"{where}: a result of kind {kind} is not one the lab "
                                         "runs")
        steps.append(Step(str(index), call, args, kwargs, outputs, many, target))
    graph_outputs = []
    for result in graph["outputs"]:
        if set(result) != {"as_tensor"}:
            raise ExportedModelError(f"{source}: the graph returns something other than "
                                     "tensors")
        graph_outputs.append(_name(result["as_tensor"]["name"], source))
    input_name = user_inputs[0]
    if input_name not in tensor_sizes:
        raise ExportedModelError(f"{source}: the input has no shape")
    batch_symbol = next(iter(symbols)) if symbols else None
    first = tensor_sizes[input_name][0][0] if tensor_sizes[input_name][0] else None
    if batch_symbol is None or first is None or first({batch_symbol: 7}) != 7:
        raise ExportedModelError(f"{source}: the graph was exported for a fixed batch size; "
                                 "export it with python -m hw3lab.export_model (a dynamic "
                                 "batch)")
    ranges = data.get("range_constraints", {}).get(batch_symbol, {})
    low, high = ranges.get("min_val", 1), ranges.get("max_val")
    if not isinstance(low, int) or low > 1 or (isinstance(high, int) and high < chunk):
        raise ExportedModelError(f"{source}: the batch may only be {low} to {high}; the lab runs "
                                 f"1 to {chunk} inputs at once")
    known = set(constants) | {input_name} | {n for s in steps for n in s.outputs if n}
    for step in steps:
        for ref in _refs(step):
            if ref not in known:
                raise ExportedModelError(f"{source}: an operation uses {ref}, which nothing "
                                         "computes")
    if any(name not in known for name in graph_outputs):
        raise ExportedModelError(f"{source}: the graph returns a value nothing computes")
    return Program(source, steps, constants, input_name, graph_outputs, tensor_sizes,
                   batch_symbol, chunk)


def _constant(number: int) -> Callable[[dict[str, int]], int]:
    return lambda values: number


# -- the checks before anything runs ------------------------------------------------------------

def check_programs(convention: Convention, programs: dict[str, Program], name: str) -> None:
    """Memory from the metadata, then a run on the meta device at every batch size: shapes,
    outputs and work. Nothing of the model runs on real data before this passes."""
    for program in programs.values():
        for batch in program.batches():
            peak, largest = program.peak_bytes(batch)
            if largest > limits.MAX_EXPORTED_TENSOR_ELEMENTS or \
                    peak > limits.MAX_EXPORTED_PEAK_BYTES:
                raise ExportedModelError(
                    f"{program.source}: on a batch of {batch} its intermediate tensors need "
                    f"{peak / 2**20:,.0f} MB at once (the largest has {largest:,} elements), "
                    f"over the lab's limit of {limits.MAX_EXPORTED_PEAK_BYTES / 2**20:.0f} MB; "
                    "nothing was run")
    latent = convention.latent
    for program_name, program in programs.items():  # a VAE's encoder before its decoder
        if convention.family == "gan" or program_name == "decoder":
            shape: tuple[int, ...] = (latent or 0,)
            hint = "latents" + (" (--latent)" if convention.family == "gan" else
                                " of the encoder's size")
        else:
            shape = (CHANNELS[convention.channels], convention.size, convention.size)
            hint = f"{convention.channels} images of {convention.size}x{convention.size}"
        declared = program.sizes_at(program.input_name, 1)
        if declared[1:] != shape:
            raise ExportedModelError(f"{program.source}: its input is N x "
                                     f"{' x '.join(map(str, declared[1:]))} but the lab gives "
                                     f"N x {' x '.join(map(str, shape))} ({hint})")
        for batch in program.batches():
            shapes = check_on_meta(program, shape, batch)
            _check_outputs(convention, program_name, program, shapes, batch)
        if program_name == "encoder":
            latent = shapes[0][1]


def check_on_meta(program: Program, shape: tuple[int, ...], batch: int) -> list[tuple[int, ...]]:
    """Run ``program`` on a meta tensor of ``batch`` x ``shape``: every computed shape must be
    the metadata's, and the work per input within the limit. Returns the outputs' shapes."""
    from torch.utils.flop_counter import FlopCounterMode

    _, dtype = program.input_meta()
    x = torch.empty((batch, *shape), dtype=dtype, device="meta")
    constants = {k: torch.empty_like(v, device="meta") for k, v in program.constants.items()}
    checker = _ShapeCheck(program, batch)
    counter = FlopCounterMode(display=False)
    try:
        with counter:
            outputs = program.run_exact(x, constants, checker.observe)
    except ExportedModelError:
        raise
    except Exception as error:  # noqa: BLE001 - any failure of the graph is the file's
        raise ExportedModelError(f"{program.source}: the graph fails on a batch of {batch} "
                                 f"({type(error).__name__}: "
                                 f"{' '.join(str(error).split())[:160]})") from None
    work = (counter.get_total_flops() + checker.elements) / batch
    if work > limits.MAX_EXPORTED_WORK_PER_IMAGE:
        raise ExportedModelError(f"{program.source}: it needs {work / 1e9:.2f} GFLOP an input, "
                                 f"over the lab's limit of "
                                 f"{limits.MAX_EXPORTED_WORK_PER_IMAGE / 1e9:g}; nothing was "
                                 "run")
    return [tuple(o.shape) for o in outputs]


class _ShapeCheck:
    """Compares each result of a run on meta tensors with the graph's metadata."""

    def __init__(self, program: Program, batch: int) -> None:
        self.program = program
        self.batch = batch
        self.elements = 0
        # torch.export leaves the metadata of results nothing uses (a batch norm's saved
        # statistics) empty: only those that are used are compared.
        self.used = {n for step in program.steps for n in _refs(step)} | set(program.outputs)

    def observe(self, step: Step, name: str, value: Any) -> None:
        program = self.program
        if isinstance(value, torch.Tensor):
            self.elements += value.numel()
            if value.numel() > limits.MAX_EXPORTED_TENSOR_ELEMENTS:
                raise ExportedModelError(f"{program.source}: {name} has {value.numel():,} "
                                         "elements, over the lab's limit")
            if name not in self.used:
                return
            if name not in program.tensor_sizes:
                raise ExportedModelError(f"{program.source}: {name} has no shape in the graph")
            declared = program.sizes_at(name, self.batch)
            if tuple(value.shape) != declared or value.dtype != program.tensor_sizes[name][1]:
                raise ExportedModelError(
                    f"{program.source}: {name} ({step.target}) is {tuple(value.shape)} "
                    f"{value.dtype} on a batch of {self.batch}, but the graph's metadata says "
                    f"{declared}: the file does not describe its own computation")
        elif isinstance(value, int) and not isinstance(value, bool):
            if abs(value) > limits.MAX_EXPORTED_TENSOR_ELEMENTS:
                raise ExportedModelError(f"{program.source}: {name} is a size of {value:,}, "
                                         "over the lab's limit")
        else:
            raise ExportedModelError(f"{program.source}: {step.target} returned a "
                                     f"{type(value).__name__}, which the lab does not use")


def _check_outputs(convention: Convention, program_name: str, program: Program,
                   shapes: list[tuple[int, ...]], batch: int) -> None:
    def fail(want: str) -> ExportedModelError:
        got = ", ".join(" x ".join(map(str, s)) for s in shapes) or "nothing"
        return ExportedModelError(f"{program.source}: on a batch of {batch} it returns {got}; "
                                  f"the lab needs {want}")
    family = convention.family
    if family == "digits":
        if not shapes or shapes[0] != (batch, DIGIT_CLASSES):
            raise fail(f"N x {DIGIT_CLASSES} logits first")
        if convention.features and (len(shapes) < 2 or len(shapes[1]) != 2
                                    or shapes[1][0] != batch):
            raise fail("N x D features second (--features)")
    elif family == "gan" or program_name == "decoder":
        if len(shapes) != 1 or shapes[0] != (batch, 3, FACE_SIZE, FACE_SIZE):
            raise fail(f"one N x 3 x {FACE_SIZE} x {FACE_SIZE} image batch")
    else:
        if not 1 <= len(shapes) <= 2 or any(len(s) != 2 or s != shapes[0] for s in shapes):
            raise fail("N x Z means (and N x Z log-variances)")


def lab_latent(archive: Archive) -> int:
    """The latent size of an archive's generator or decoder."""
    program = archive.programs["generator" if archive.convention.family == "gan" else "decoder"]
    return program.sizes_at(program.input_name, 1)[1]
