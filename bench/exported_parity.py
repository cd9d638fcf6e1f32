"""An exported model's accuracy in the lab equals what the classmate's own code gives, on the
real test splits (issue 30's parity), beside the shipped method it was made from.

Run from the repository root (needs hw3_data)::

    nice -n 5 .venv/bin/python -m bench.exported_parity --data ../shared/hw3_data

Two classmate-style models, written unlike the lab's classes but holding the shipped weights
(bench/exported_cost.py's build file): ``same``, usps->mnistm DANN with ``forward(x, alpha)``
returning (class, domain), grey input; ``adda``, mnistm->svhn ADDA as a target encoder and a
source classifier composed, grey input. Each is exported with ``python -m hw3lab.export_model``,
imported with ``python -m hw3lab.import_pth``, run through ``python -m hw3lab.predict`` and
``python -m hw3lab.evaluate`` (the commands, as subprocesses), and compared with the classmate's
own evaluation: their module in eval mode on their own loader's tensors (PIL ``convert('L')``,
``ToTensor``, ``Normalize(0.5, 0.5)``). It prints a table: accuracies, the share of equal
predictions, and the shipped method's accuracy through the same commands.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.exported_cost import BUILD
from hw3lab.export_model import load_build
from hw3lab.inference import DEFAULT_CHECKPOINTS

ROOT = Path(__file__).resolve().parent.parent

# name, build function, task, target, shipped method, export flags, forward's extra argument
CASES = [
    ("same", "same", "usps-mnistm", "mnistm", "dann",
     ["--input", "gray", "--normalize", "0.5,0.5", "--forward-args", "0", "--features",
      "feature"], (0.0,)),
    ("adda", "adda", "mnistm-svhn", "svhn", "adda",
     ["--input", "gray", "--normalize", "0.5,0.5"], ()),
]


def run(*argv: str) -> None:
    subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, check=True, capture_output=True)


def read_labels(path: Path) -> dict[str, int]:
    return {row[0]: int(row[1]) for row in list(csv.reader(open(path)))[1:]}


def their_predictions(build: str, folder: Path, names: list[str],
                      extra: tuple[float, ...]) -> np.ndarray:
    net = load_build(build).eval()
    pixels = np.stack([np.asarray(Image.open(folder / n).convert("L")) for n in names])
    x = (torch.from_numpy(pixels)[:, None].float() / 255 - 0.5) / 0.5
    outputs = []
    with torch.no_grad():
        for i in range(0, len(x), 512):
            out = net(x[i:i + 512], *extra)
            outputs.append((out[0] if isinstance(out, tuple) else out).argmax(1))
    return torch.cat(outputs).numpy()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="hw3_data folder")
    parser.add_argument("--checkpoints", default=str(DEFAULT_CHECKPOINTS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = Path(args.data).resolve()
    shipped = Path(args.checkpoints).resolve() / "digits" / "usps-mnistm-dann.safetensors"
    print("| model | task | lab (export, import, predict, evaluate) | their own code | "
          "equal predictions | shipped method, same commands |")
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        build = folder / "build.py"
        build.write_text(textwrap.dedent(BUILD.format(shipped=str(shipped))))
        for name, function, task, target, method, flags, extra in CASES:
            out = folder / f"{name}.pt2"
            run("hw3lab.export_model", "--task", task, "--build", f"{build}:{function}",
                *flags, "--out", str(out))
            mine = f"their_{name}"  # never the shipped method's name
            run("hw3lab.import_pth", "--task", task, "--name", mine, "--out",
                str(folder / "checkpoints"), str(out))
            images = data / "digits" / target / "test"
            truth = data / "digits" / target / "test.csv"
            accuracies = {}
            for which, where in ((mine, folder / "checkpoints"),
                                 (method, Path(args.checkpoints))):
                csv_path = folder / f"{which}.csv"
                run("hw3lab.predict", "--target", target, "--images", str(images),
                    "--checkpoints", str(where), "--method", which, "--out", str(csv_path))
                accuracies[which] = read_labels(csv_path)
            expected = read_labels(truth)
            names = sorted(expected)
            labels = np.array([expected[n] for n in names])
            lab = np.array([accuracies[mine][n] for n in names])
            shipped_labels = np.array([accuracies[method][n] for n in names])
            theirs = their_predictions(f"{build}:{function}", images, names, extra)
            print(f"| {name} | {task} | {np.mean(lab == labels):.2%} | "
                  f"{np.mean(theirs == labels):.2%} | {np.mean(lab == theirs):.2%} of "
                  f"{len(names)} | {method} {np.mean(shipped_labels == labels):.2%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
