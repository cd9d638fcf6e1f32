"""python -m hw3lab.predict --target usps --images DIR --out pred.csv: the homework's
prediction script, on the shipped (or given) digit checkpoints.

Every image file in DIR (sorted by name) is read with the lab's own image ingestion, so odd
files (RGBA, 16-bit, palette, any size) work the way they do in the app; an unreadable one
stops the run with its name and the reason, before anything is written.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from hw3lab import cli
from hw3lab.checkpoints import atomic_path
from hw3lab.data.images import IMAGE_SUFFIXES, ImageInputError, fit_digit, open_image
from hw3lab.data.layout import DIGIT_DOMAINS
from hw3lab.inference import DEFAULT_CHECKPOINTS, ModelStore
from hw3lab.methods import METHODS, TASKS

BATCH = 1024


def task_for_target(target: str) -> tuple[str, str]:
    """The homework's task that adapts to ``target``."""
    return next((s, t) for s, t in TASKS if t == target)


def image_files(folder: str | os.PathLike) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageInputError(f"{folder} is not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower()
                   in IMAGE_SUFFIXES)
    if not files:
        raise ImageInputError(f"{folder} holds no image files "
                              f"({', '.join(IMAGE_SUFFIXES)})")
    return files


def read_digits(files: list[Path]) -> np.ndarray:
    """(N, 28, 28, 3) uint8; raises ImageInputError naming every unreadable file."""
    images, problems = [], []
    for path in files:
        try:
            images.append(fit_digit(open_image(path)))
        except ImageInputError as error:
            problems.append(str(error))
    if problems:
        raise ImageInputError(f"{len(problems)} of {len(files)} file(s) cannot be used: "
                              + "; ".join(problems[:10]))
    return np.stack(images)


def predict_folder(folder: str | os.PathLike, target: str, method: str = "dann",
                   store: ModelStore | None = None) -> list[tuple[str, int]]:
    """(image_name, label) for every image in ``folder``, sorted by name."""
    store = store or ModelStore()
    files = image_files(folder)
    images = read_digits(files)
    source, target = task_for_target(target)
    labels = np.concatenate([store.classify_digits(images[i:i + BATCH], source, target,
                                                   method).argmax(1)
                             for i in range(0, len(images), BATCH)])
    return [(path.name, int(label)) for path, label in zip(files, labels, strict=True)]


def write_predictions(rows: list[tuple[str, int]], out: str | os.PathLike) -> None:
    with atomic_path(out) as temporary:
        temporary.write_text("image_name,label\n" + "".join(f"{n},{y}\n" for n, y in rows))


@cli.command
def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(description="Predict digit labels for a folder of images.")
    parser.add_argument("--target", required=True, choices=DIGIT_DOMAINS,
                        help="the target domain (picks the task that adapts to it)")
    parser.add_argument("--images", required=True, help="folder of digit images")
    parser.add_argument("--out", required=True, help="CSV to write (image_name,label)")
    parser.add_argument("--method", default="dann",
                        help=f"{', '.join(METHODS)}, or the name of your own model in "
                        "--checkpoints (python -m hw3lab.import_pth --name)")
    parser.add_argument("--checkpoints", default=str(DEFAULT_CHECKPOINTS))
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    rows = predict_folder(args.images, args.target, args.method,
                          ModelStore(args.checkpoints, args.device))
    write_predictions(rows, args.out)
    print(f"wrote {len(rows)} predictions to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
