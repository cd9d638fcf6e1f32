"""python -m hw3lab.export_model: a classmate's own model, of any architecture, as one portable
``.pt2`` file that the lab can run without the classmate's code.

Run it on your own machine, with your own code: ``--build FILE.py:FUNCTION`` names a function
that returns your module with its weights loaded (for ``--family vae``: the pair encoder,
decoder). The exporter puts it in eval mode, captures it with ``torch.export`` for any batch
size, lowers it to ATen core operators, writes the graph and the raw weights (nothing pickled,
no sample inputs) with the family, task and input convention in ``extra/hw3lab.json``, then reads
the file back exactly as the lab does (:mod:`hw3lab.exported`) and prints the largest
difference between the lab's outputs and your module's on a sample batch.

    python -m hw3lab.export_model --task usps-mnistm --build build.py:make \\
        --input rgb --scale 0,1 --forward-args 0 --out dann.pt2
    python -m hw3lab.export_model --family gan --build build.py:generator --latent 100 \\
        --scale -1,1 --out gan.pt2

See docs/own-models.md for a walk-through.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import inspect
import io
import json
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hw3lab import cli
from hw3lab.checkpoints import atomic_path
from hw3lab.errors import UserInputError
from hw3lab.exported import (
    CHANNELS,
    DIGIT_CLASSES,
    FACE_SIZE,
    FAMILIES,
    Convention,
    ExportedModelError,
    read_exported,
)
from hw3lab.methods import EXPORTED_SUFFIX as SUFFIX
from hw3lab.methods import TASKS, task_name

SAMPLE_BATCH = 5  # not 1 or 2, which torch.export would specialise on
CHECK_BATCH = 3
MAX_BATCH = 1 << 16


class ExportError(UserInputError):
    """The classmate's build or module cannot be exported; the message says what to change."""


# -- the wrappers that give every family one input and plain tensor outputs -----------------

class DigitExport(nn.Module):
    """(N, C, H, W) -> (logits,) or (logits, features): the classmate's module, whatever its
    forward returns first, with constant extra arguments (a DANN's alpha) and an optional
    submodule's output, flattened, as the features."""

    def __init__(self, net: nn.Module, extra_args: tuple[Any, ...], features: str | None):
        super().__init__()
        self.net = net
        self.extra_args = extra_args
        self.captured: list[torch.Tensor] = []
        if features:
            try:
                part = net.get_submodule(features)
            except AttributeError:
                names = [n for n, _ in net.named_modules() if n][:12]
                raise ExportError(f"--features {features}: the module has no such submodule "
                                  f"(it has {', '.join(names)}, ...)") from None
            part.register_forward_hook(self._capture)
        self.features = features

    def _capture(self, module: nn.Module, inputs: Any, output: Any) -> None:
        self.captured.append(first_tensor(output))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        self.captured.clear()
        logits = first_tensor(self.net(x, *self.extra_args))
        if self.features:
            return logits, self.captured[-1].flatten(1)
        return (logits,)


class LatentExport(nn.Module):
    """(N, Z) -> images: a generator or decoder that takes N x Z or N x Z x 1 x 1."""

    def __init__(self, net: nn.Module, four_dimensional: bool):
        super().__init__()
        self.net = net
        self.four_dimensional = four_dimensional

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.four_dimensional:
            z = z.view(z.shape[0], z.shape[1], 1, 1)
        return first_tensor(self.net(z))


class EncoderExport(nn.Module):
    """images -> (mu,) or (mu, logvar), from an encoder that returns mu, (mu, logvar) or a
    list of them."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.net(x)
        if isinstance(out, tuple | list):
            return tuple(t.flatten(1) for t in out[:2])
        return (out.flatten(1),)


def first_tensor(output: Any) -> torch.Tensor:
    """A module's output, or the first item of a tuple or list it returns."""
    while isinstance(output, tuple | list) and output:
        output = output[0]
    if not isinstance(output, torch.Tensor):
        raise ExportError(f"the module returned a {type(output).__name__}, not a tensor (or a "
                          "tuple/list whose first item is one)")
    return output


# -- building, checking, exporting ----------------------------------------------------------

def load_build(spec: str) -> Any:
    """Run ``FILE.py:FUNCTION`` (the classmate's own code, on their own machine) and return
    what FUNCTION returns."""
    path_text, _, function = spec.rpartition(":")
    path = Path(path_text)
    if not path_text or not function.isidentifier():
        raise ExportError(f"--build {spec}: expected FILE.py:FUNCTION")
    if not path.is_file():
        raise ExportError(f"--build {spec}: no file {path}")
    sys.path.insert(0, str(path.resolve().parent))  # so the build file imports its neighbours
    try:
        module_spec = importlib.util.spec_from_file_location(f"_build_{path.stem}", path)
        if module_spec is None or module_spec.loader is None:
            raise ExportError(f"--build {spec}: {path} cannot be imported")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        if not callable(getattr(module, function, None)):
            raise ExportError(f"--build {spec}: {path} has no function {function}")
        return getattr(module, function)()
    except ExportError:
        raise
    except Exception as error:  # noqa: BLE001 - the classmate's code: say where it failed
        raise ExportError(f"--build {spec} failed: {type(error).__name__}: "
                          f"{' '.join(str(error).split())[:300]}") from None
    finally:
        sys.path.remove(str(path.resolve().parent))


def prepared(module: Any, what: str) -> nn.Module:
    if not isinstance(module, nn.Module):
        raise ExportError(f"{what} is a {type(module).__name__}, not a torch.nn.Module")
    return module.eval().requires_grad_(False).float()


def required_arguments(module: nn.Module) -> int:
    """How many positional arguments the module's forward needs."""
    try:
        parameters = inspect.signature(module.forward).parameters.values()
    except (TypeError, ValueError):
        return 1
    return sum(1 for p in parameters if p.default is inspect.Parameter.empty
               and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def sample_images(convention: Convention, batch: int, seed: int) -> torch.Tensor:
    """A batch of random images in the model's input convention."""
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (batch, CHANNELS[convention.channels], convention.size,
                                    convention.size), generator=generator, dtype=torch.uint8)
    return convention.images_to_model(pixels)


def call(module: nn.Module, x: torch.Tensor, what: str) -> Any:
    try:
        with torch.no_grad():
            return module(x)
    except ExportError:
        raise
    except Exception as error:  # noqa: BLE001 - the classmate's forward
        raise ExportError(f"{what} fails on a batch of shape {tuple(x.shape)}: "
                          f"{type(error).__name__}: {' '.join(str(error).split())[:300]}") \
            from None


def latent_wrapper(net: nn.Module, latent: int, what: str) -> LatentExport:
    """The generator or decoder taking N x Z, whichever of N x Z and N x Z x 1 x 1 it takes."""
    z = torch.randn(SAMPLE_BATCH, latent, generator=torch.Generator().manual_seed(0))
    problems = []
    for four in (False, True):
        wrapper = LatentExport(net, four)
        try:
            out = call(wrapper, z, what)
        except ExportError as error:
            problems.append(str(error))
            continue
        if tuple(out.shape) != (SAMPLE_BATCH, 3, FACE_SIZE, FACE_SIZE):
            problems.append(f"{what} returns {tuple(out.shape)} for {SAMPLE_BATCH} latents of "
                            f"{latent}; the lab needs N x 3 x {FACE_SIZE} x {FACE_SIZE}")
            continue
        return wrapper
    raise ExportError(problems[-1])


def wrap(family: str, built: Any, convention: Convention,
         extra_args: tuple[Any, ...]) -> dict[str, nn.Module]:
    """The program(s) to export, by name, each checked on a sample batch first."""
    if family == "digits":
        net = prepared(built, "FUNCTION's result")
        needed = required_arguments(net)
        if needed > 1 + len(extra_args):
            raise ExportError(f"the module's forward takes {needed} arguments; give the ones "
                              "after the image with --forward-args (a DANN's alpha: "
                              "--forward-args 0) or return a module whose forward takes only x")
        wrapper = DigitExport(net, extra_args, convention.features)
        out = call(wrapper, sample_images(convention, SAMPLE_BATCH, 0), "the module")
        if tuple(out[0].shape) != (SAMPLE_BATCH, DIGIT_CLASSES):
            raise ExportError(f"the module returns {tuple(out[0].shape)} (first output) for "
                              f"{SAMPLE_BATCH} images of {convention.channels} "
                              f"{convention.size}x{convention.size}; the lab needs N x "
                              f"{DIGIT_CLASSES} logits (check --input and --size)")
        return {"model": wrapper}
    if family == "gan":
        if convention.latent is None:
            raise ExportError("a GAN needs --latent Z (its generator's noise size)")
        return {"generator": latent_wrapper(prepared(built, "FUNCTION's result"),
                                            convention.latent, "the generator")}
    if not isinstance(built, tuple | list) or len(built) != 2:
        raise ExportError("for --family vae, FUNCTION returns (encoder, decoder)")
    encoder = EncoderExport(prepared(built[0], "the encoder"))
    out = call(encoder, sample_images(convention, SAMPLE_BATCH, 0), "the encoder")
    latent = out[0].shape[1]
    return {"encoder": encoder,
            "decoder": latent_wrapper(prepared(built[1], "the decoder"), latent, "the decoder")}


def export_program(name: str, wrapper: nn.Module, sample: torch.Tensor) -> Any:
    """``torch.export`` with a dynamic batch, lowered to ATen core operators."""
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    # torch's own warnings repeat the error's text with a graph dump: the message says it all
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
               if name.startswith("torch")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        quiet = io.StringIO()  # torch prints the graph it could not capture: the message says it
        with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(quiet), \
                contextlib.redirect_stderr(quiet):
            warnings.filterwarnings("ignore", "The tensor attribute")  # DigitExport.captured
            program = torch.export.export(wrapper, (sample,), dynamic_shapes=({0: batch},),
                                          strict=False)
            program = program.run_decompositions()
    except Exception as error:  # noqa: BLE001 - what torch.export cannot capture
        text = " ".join(str(error).split())
        hint = ("the forward fixes the batch size somewhere (view(64, ...)? use x.size(0) or "
                "-1)" if "batch" in text and ("specializ" in text or "Constraints" in text)
                else "the forward must be tensor operations only: no .item(), .numpy(), "
                "Python branches on tensor values or prints of tensors")
        raise ExportError(f"torch.export cannot capture the {name}: {type(error).__name__}: "
                          f"{text[:300]} ({hint})") from None
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    program.example_inputs = None  # never written: sample inputs would be a pickle
    return program


def reference_outputs(family: str, wrappers: dict[str, nn.Module], convention: Convention,
                      batch: int) -> dict[str, tuple[torch.Tensor, tuple[torch.Tensor, ...]]]:
    """Each program's check input and the classmate's module's outputs on it."""
    found = {}
    for name, wrapper in wrappers.items():
        if family == "gan" or name == "decoder":
            latent = wrapper_latent(wrappers, convention, name)
            x = torch.randn(batch, latent, generator=torch.Generator().manual_seed(1))
        else:
            x = sample_images(convention, batch, 1)
        out = call(wrapper, x, f"the {name}")
        found[name] = (x, out if isinstance(out, tuple) else (out,))
    return found


def wrapper_latent(wrappers: dict[str, nn.Module], convention: Convention, name: str) -> int:
    if name == "generator":
        return int(convention.latent or 0)
    encoder_out = call(wrappers["encoder"], sample_images(convention, 2, 0), "the encoder")
    return int(encoder_out[0].shape[1])


def export_model(family: str, built: Any, convention: Convention, out: str | Path,
                 extra_args: tuple[Any, ...] = ()) -> dict[str, Any]:
    """Export ``built`` (the build function's result) to ``out``; check the file as the lab
    reads it against the module. Returns what was measured."""
    start = time.perf_counter()
    wrappers = wrap(family, built, convention, extra_args)
    programs = {}
    for name, wrapper in wrappers.items():
        if family == "gan" or name == "decoder":
            sample = torch.randn(SAMPLE_BATCH, wrapper_latent(wrappers, convention, name))
        else:
            sample = sample_images(convention, SAMPLE_BATCH, 0)
        programs[name] = export_program(name, wrapper, sample)
    description = json.dumps({**convention.to_json(),
                              "exported_with": f"torch {torch.__version__}"})
    buffer = io.BytesIO()
    from torch.export.pt2_archive._package import package_pt2
    package_pt2(buffer, exported_programs=programs, extra_files={"hw3lab.json": description})
    out = Path(out)
    with atomic_path(out) as temporary:
        temporary.write_bytes(buffer.getvalue())
    exported_seconds = time.perf_counter() - start
    # The file as the lab reads it, against the classmate's module, on another batch size.
    try:
        archive = read_exported(out)
    except ExportedModelError as error:
        out.unlink()
        raise ExportError(f"the exported file is not one the lab accepts, so it was removed: "
                          f"{error}") from None
    difference = 0.0
    for name, (x, expected) in reference_outputs(family, wrappers, convention,
                                                 CHECK_BATCH).items():
        with torch.inference_mode():
            got = archive.programs[name](x)
        for a, b in zip(got, expected, strict=False):
            difference = max(difference, float((a.float() - b.float()).abs().max()))
    return {"seconds": exported_seconds, "max_difference": difference,
            "bytes": out.stat().st_size, "programs": list(programs)}


def parse_pair(text: str, flag: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ExportError(f"{flag} {text}: expected numbers separated by commas") from None
    return values


def convention_from(args: Any) -> Convention:
    scale = parse_pair(args.scale, "--scale")
    if len(scale) != 2 or scale[0] == scale[1]:
        raise ExportError(f"--scale {args.scale}: expected LO,HI, two different numbers")
    mean = std = None
    if args.normalize:
        if args.family == "gan":
            raise ExportError("--normalize is for image inputs; a generator's output range is "
                              "--scale")
        half = args.normalize.split("/") if "/" in args.normalize else None
        values = parse_pair(args.normalize.replace("/", ","), "--normalize")
        if half is not None:
            mean, std = parse_pair(half[0], "--normalize"), parse_pair(half[1], "--normalize")
        elif len(values) == 2:
            mean, std = values[:1], values[1:]
        elif len(values) == 6:
            mean, std = values[:3], values[3:]
        else:
            raise ExportError(f"--normalize {args.normalize}: expected MEAN,STD (one channel "
                              "or all) or M1,M2,M3/S1,S2,S3")
        if 0 in std or len(mean) != len(std):
            raise ExportError(f"--normalize {args.normalize}: as many means as stds, none 0")
    size = args.size or (28 if args.family == "digits" else FACE_SIZE)
    return Convention(args.family, args.task, args.input, scale, mean, std, size, args.latent,
                      args.features)


def literal_arguments(texts: list[str]) -> tuple[Any, ...]:
    values = []
    for text in texts:
        try:
            values.append(ast.literal_eval(text))
        except (ValueError, SyntaxError):
            raise ExportError(f"--forward-args {text}: not a Python literal (a number, True, "
                              "None, a string)") from None
    return tuple(values)


def joined_values(argv: list[str]) -> list[str]:
    """``--scale -1,1`` as ``--scale=-1,1``: argparse takes a value that starts with '-' and
    is not a plain number for an option."""
    joined: list[str] = []
    for item in argv:
        if joined and joined[-1] in ("--scale", "--normalize") and item.startswith("-"):
            joined[-1] = f"{joined[-1]}={item}"
        else:
            joined.append(item)
    return joined


@cli.command
def main(argv: list[str] | None = None) -> int:
    tasks = [task_name(s, t) for s, t in TASKS]
    parser = cli.ArgumentParser(description="Export your own model (any architecture) to a "
                                ".pt2 file the lab can run: see docs/own-models.md.")
    parser.add_argument("--family", default="digits", choices=FAMILIES)
    parser.add_argument("--task", choices=tasks, help="the digit task (source-target)")
    parser.add_argument("--build", required=True, metavar="FILE.py:FUNCTION",
                        help="FUNCTION() returns your module with its weights loaded (vae: "
                        "the pair encoder, decoder)")
    parser.add_argument("--input", default="rgb", choices=tuple(CHANNELS),
                        help="the colour your model's images have (digits, vae encoder)")
    parser.add_argument("--scale", default="0,1", metavar="LO,HI",
                        help="pixel range of your images (and of a generator's or decoder's "
                        "output): 0,1 or -1,1")
    parser.add_argument("--normalize", metavar="MEAN,STD",
                        help="instead of --scale for inputs: per-channel Normalize, e.g. "
                        "0.5,0.5 or 0.485,0.456,0.406/0.229,0.224,0.225")
    parser.add_argument("--size", type=int, help="image side your model takes (default 28 "
                        "for digits, 64 for faces)")
    parser.add_argument("--features", metavar="MODULE",
                        help="dotted submodule whose output is the feature vector of the lab's "
                        "t-SNE (default: the logits)")
    parser.add_argument("--latent", type=int, metavar="Z", help="a generator's noise size")
    parser.add_argument("--forward-args", nargs="*", default=[], metavar="VALUE",
                        help="constant arguments after the image (a DANN's forward(x, alpha): "
                        "--forward-args 0)")
    parser.add_argument("--out", required=True, help="the .pt2 file to write")
    args = parser.parse_args(joined_values(sys.argv[1:] if argv is None else argv))
    if args.family == "digits" and args.task is None:
        parser.error("a digit model needs --task, one of " + ", ".join(tasks))
    if not args.out.endswith(SUFFIX):
        parser.error(f"--out must end with {SUFFIX}")
    if args.size is not None and not 8 <= args.size <= 256:
        parser.error("--size must be from 8 to 256")
    if args.family == "gan" and (args.latent is None or not 1 <= args.latent <= 4096):
        parser.error("a GAN needs --latent Z, 1 to 4096")
    if args.family != "digits":
        args.task = None
    convention = convention_from(args)
    torch.manual_seed(0)
    built = load_build(args.build)
    result = export_model(args.family, built, convention, args.out,
                          literal_arguments(args.forward_args))
    print(f"wrote {args.out} ({result['bytes'] / 2**20:.1f} MB; {', '.join(result['programs'])}) "
          f"in {result['seconds']:.1f} s")
    print(f"the lab's reading of it against your module on {CHECK_BATCH} random inputs: "
          f"max difference {result['max_difference']:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
