"""What a classmate's exported digit model costs the lab, beside the shipped DANN, in one run;
and how long exporting a homework-size model takes.

Run from the repository root::

    nice -n 5 .venv/bin/python -m bench.exported_cost [--calls 200] [--threads 1]

It exports two models with :func:`hw3lab.export_model.export_model` (timed): ``same``, the
shipped usps->mnistm DANN's weights in a class written differently (``forward(x, alpha)``
returning (class, domain), grey input, Normalize(0.5, 0.5)), so that the two compute the same
function but for the grey conversion (the lab's float luma for its own models, PIL's integer
``convert('L')`` for an exported one: the labels of a few random digits differ); and
``homework``, a public homework's DANN layout (5x5 convolutions of 64 and 50 channels,
100-unit heads) with random weights. Both are imported with ``hw3lab.import_pth`` into a
temporary checkpoint folder beside a copy of the shipped DANN. Then, interleaved in one
process on one thread, it measures the process CPU time (user + system) of what a prediction
request makes the server's model store do (``ModelStore.classify_digits``: image conversion,
the model, the probabilities) for one digit (a sketch or an example), 32 digits (an upload)
and 500 digits (a batch to label), and of the 256-digit feature extraction of the t-SNE. The
rest of a request (HTTP, Gradio's queue, the chart) is the same whichever model answers, so the
ratio of a whole request is lower than the ratio printed here. Target (issue 30): at most 2x
the shipped DANN; exporting a homework-size model under 30 s. (The build file also holds the
shipped mnistm->svhn ADDA as two parts, for bench/exported_parity.py.)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import torch

from hw3lab import import_pth
from hw3lab.export_model import export_model, load_build
from hw3lab.exported import Convention
from hw3lab.inference import DEFAULT_CHECKPOINTS, ModelStore

TASK = ("usps", "mnistm")
BUILD = '''
import torch
from safetensors.torch import load_file
from torch import nn

SHIPPED = {shipped!r}


class Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha):
        ctx.alpha = alpha
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad * ctx.alpha, None


def block(i, o):
    return [nn.Conv2d(i, o, 3, 2, 1), nn.BatchNorm2d(o), nn.ReLU()]


def head(outputs):
    sizes, layers = [512, 1024, 512, 256, 128, 64], []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(64, outputs))


class SameDANN(nn.Module):
    """The shipped DANN's function, written differently: grey in, forward(x, alpha)."""

    def __init__(self):
        super().__init__()
        self.feature = nn.Sequential(*block(3, 64), *block(64, 128), *block(128, 256),
                                     *block(256, 512), nn.MaxPool2d(2), nn.Flatten())
        self.class_classifier = head(10)
        self.domain_classifier = head(2)

    def forward(self, x, alpha):
        f = self.feature(x.repeat(1, 3, 1, 1))
        return self.class_classifier(f), self.domain_classifier(Reverse.apply(f, alpha))


class HomeworkDANN(nn.Module):
    """A public homework's DANN layout."""

    def __init__(self):
        super().__init__()
        self.feature = nn.Sequential(
            nn.Conv2d(3, 64, 5), nn.BatchNorm2d(64), nn.MaxPool2d(2), nn.ReLU(True),
            nn.Conv2d(64, 50, 5), nn.BatchNorm2d(50), nn.Dropout2d(), nn.MaxPool2d(2),
            nn.ReLU(True))
        self.class_classifier = nn.Sequential(
            nn.Linear(800, 100), nn.BatchNorm1d(100), nn.ReLU(True), nn.Dropout(),
            nn.Linear(100, 100), nn.BatchNorm1d(100), nn.ReLU(True), nn.Linear(100, 10),
            nn.LogSoftmax(dim=1))
        self.domain_classifier = nn.Sequential(
            nn.Linear(800, 100), nn.BatchNorm1d(100), nn.ReLU(True), nn.Linear(100, 2),
            nn.LogSoftmax(dim=1))

    def forward(self, x, alpha):
        x = x.expand(x.shape[0], 3, 28, 28)
        f = self.feature(x).view(-1, 800)
        return self.class_classifier(f), self.domain_classifier(Reverse.apply(f, alpha))


def same():
    shipped = {{k: v.float() for k, v in load_file(SHIPPED).items()}}
    net = SameDANN()
    layers = [n for n, m in net.feature.named_children()
              if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    state = dict(net.state_dict())
    for i, name in enumerate(layers):
        prefix = f"extractor.extract.{{i // 2}}.block.{{i % 2}}."
        for key in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            if prefix + key in shipped:
                state[f"feature.{{name}}.{{key}}"] = shipped[prefix + key]
    theirs = (["predictor.preprocess.block.0"]
              + [f"predictor.predict.{{i}}.block.0" for i in range(4)] + ["predictor.predict.4"])
    mine = [n for n, m in net.class_classifier.named_children() if isinstance(m, nn.Linear)]
    for a, b in zip(theirs, mine):
        state[f"class_classifier.{{b}}.weight"] = shipped[a + ".weight"]
        state[f"class_classifier.{{b}}.bias"] = shipped[a + ".bias"]
    net.load_state_dict(state)
    return net


def homework():
    torch.manual_seed(0)
    return HomeworkDANN()


class Encoder(nn.Module):
    """ADDA's target encoder, written unlike the lab's Extractor."""

    def __init__(self):
        super().__init__()
        layers, channels = [], [3, 64, 128, 256, 512]
        for a, b in zip(channels, channels[1:]):
            layers += block(a, b)
        self.body = nn.Sequential(*layers, nn.MaxPool2d(2))

    def forward(self, x):
        return self.body(torch.cat([x, x, x], dim=1)).flatten(1)


def adda():
    """The shipped mnistm->svhn ADDA as two parts: target encoder, source classifier."""
    folder = SHIPPED.rsplit("/", 1)[0]
    target = {{k: v.float() for k, v in
              load_file(folder + "/mnistm-svhn-adda.safetensors").items()}}
    source = {{k: v.float() for k, v in
              load_file(folder + "/mnistm-svhn-source_only.safetensors").items()}}
    encoder, classifier = Encoder(), head(10)
    layers = [n for n, m in encoder.body.named_children()
              if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    state = dict(encoder.state_dict())
    for i, name in enumerate(layers):
        prefix = f"extractor.extract.{{i // 2}}.block.{{i % 2}}."
        for key in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            if prefix + key in target:
                state[f"body.{{name}}.{{key}}"] = target[prefix + key]
    encoder.load_state_dict(state)
    theirs = (["predictor.preprocess.block.0"]
              + [f"predictor.predict.{{i}}.block.0" for i in range(4)] + ["predictor.predict.4"])
    mine = [n for n, m in classifier.named_children() if isinstance(m, nn.Linear)]
    state = {{}}
    for a, b in zip(theirs, mine):
        state[f"{{b}}.weight"], state[f"{{b}}.bias"] = source[a + ".weight"], source[a + ".bias"]
    classifier.load_state_dict(state)
    return nn.Sequential(encoder, classifier)
'''


def cpu_ms(call, calls: int) -> float:  # noqa: ANN001
    start = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - start) / calls * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="calls for one digit")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--checkpoints", default=str(DEFAULT_CHECKPOINTS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shipped_dir = Path(args.checkpoints)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        build = folder / "build.py"
        shipped = shipped_dir / "digits" / "usps-mnistm-dann.safetensors"
        build.write_text(textwrap.dedent(BUILD.format(shipped=str(shipped))))
        checkpoints = folder / "checkpoints" / "digits"
        checkpoints.mkdir(parents=True)
        for suffix in (".safetensors", ".json"):
            shutil.copy(shipped.with_suffix(suffix), checkpoints / f"usps-mnistm-dann{suffix}")
        print("| model exported | parameters | file MB | export s (CPU s) | max difference |")
        print("| --- | --- | --- | --- | --- |")
        for name, convention in (
                ("same", Convention("digits", "usps-mnistm", "gray", mean=(0.5,), std=(0.5,))),
                ("homework", Convention("digits", "usps-mnistm", "rgb"))):
            built = load_build(f"{build}:{name}")
            parameters = sum(p.numel() for p in built.parameters())
            out = folder / f"{name}.pt2"
            wall, cpu = time.perf_counter(), time.process_time()
            result = export_model("digits", built, convention, out, (0.0,))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(f"| {name} | {parameters:,} | {result['bytes'] / 2**20:.1f} | {wall:.1f} "
                  f"({cpu:.1f}) | {result['max_difference']:.1e} |")
            import_pth.main(["--task", "usps-mnistm", "--name", name, "--out",
                             str(folder / "checkpoints"), str(out)])
        store = ModelStore(folder / "checkpoints", "cpu")
        rng = np.random.default_rng(0)
        digits = rng.integers(0, 256, (500, 28, 28, 3), dtype=np.uint8)
        methods = ("dann", "same", "homework")
        for method in methods:  # load and warm up
            store.classify_digits(digits[:2], *TASK, method)
            store.digit_features(digits[:2], *TASK, method)
        same = store.classify_digits(digits, *TASK, "same").argmax(1)
        agree = (same == store.classify_digits(digits, *TASK, "dann").argmax(1)).mean()
        print(f"\nsame vs shipped DANN: {agree:.1%} of 500 random digits get the same label\n")
        workloads = [
            ("1 digit (sketch, example)", lambda m: store.classify_digits(digits[:1], *TASK, m),
             args.calls),
            ("32 digits (an upload)", lambda m: store.classify_digits(digits[:32], *TASK, m),
             max(1, args.calls // 10)),
            ("500 digits (batch labelling)", lambda m: store.classify_digits(digits, *TASK, m),
             max(1, args.calls // 50)),
            ("256 digits' features (t-SNE)",
             lambda m: store.digit_features(digits[:256], *TASK, m), max(1, args.calls // 50)),
        ]
        print("| request's model work | shipped DANN CPU ms | same, exported | ratio | "
              "homework DANN, exported | ratio |")
        print("| --- | --- | --- | --- | --- | --- |")
        for label, work, calls in workloads:
            results = {m: [] for m in methods}
            with torch.inference_mode():
                for _ in range(3):  # interleaved rounds, the median of each
                    for method in methods:
                        results[method].append(cpu_ms(lambda: work(method), calls))  # noqa: B023
            ms = {m: float(np.median(v)) for m, v in results.items()}
            print(f"| {label} | {ms['dann']:.2f} | {ms['same']:.2f} | "
                  f"{ms['same'] / ms['dann']:.2f}x | {ms['homework']:.2f} | "
                  f"{ms['homework'] / ms['dann']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
