"""python -m hw3lab.evaluate pred.csv gt.csv: the homework's accuracy check.

Both files are ``image_name,label`` CSVs. They must list exactly the same images, once each,
with integer labels; anything else is refused with a message that says what differs, because
an accuracy over mismatched files would be a wrong number that looks right.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import numpy as np

from hw3lab import cli
from hw3lab.errors import UserInputError, few
from hw3lab.metrics import accuracy


class EvaluationError(UserInputError):
    """The two files cannot be compared; the message says why."""


def read_labels(path: str | os.PathLike) -> dict[str, int]:
    """``image_name -> label`` from an ``image_name,label`` CSV (header required)."""
    path = Path(path)
    try:
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as error:
        raise EvaluationError(f"{path}: cannot read ({error})") from None
    if not rows or [c.strip() for c in rows[0]] != ["image_name", "label"]:
        raise EvaluationError(f"{path}: the first line must be 'image_name,label'")
    labels: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 2:
            raise EvaluationError(f"{path}:{number}: expected 2 columns, found {len(row)}")
        name, label = row[0].strip(), row[1].strip()
        if name in labels:
            raise EvaluationError(f"{path}:{number}: {name} is listed twice")
        try:
            labels[name] = int(label)
        except ValueError:
            raise EvaluationError(f"{path}:{number}: label {label!r} is not an integer") \
                from None
    if not labels:
        raise EvaluationError(f"{path}: no rows")
    return labels


def evaluate_files(predictions: str | os.PathLike, truth: str | os.PathLike) -> float:
    """Accuracy of ``predictions`` against ``truth``; raises EvaluationError on mismatch."""
    predicted, expected = read_labels(predictions), read_labels(truth)
    missing, extra = set(expected) - set(predicted), set(predicted) - set(expected)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{len(missing)} image(s) of {truth} have no prediction ({few(missing)})")
        if extra:
            parts.append(f"{len(extra)} prediction(s) name images not in {truth} ({few(extra)})")
        raise EvaluationError("the files do not list the same images: " + "; ".join(parts))
    names = sorted(expected)
    return accuracy(np.array([predicted[n] for n in names]), np.array([expected[n] for n in names]))


@cli.command
def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(description="Accuracy of predicted digit labels.")
    parser.add_argument("predictions", help="image_name,label CSV written by hw3lab.predict")
    parser.add_argument("truth", help="image_name,label CSV with the true labels")
    args = parser.parse_args(argv)
    value = evaluate_files(args.predictions, args.truth)
    print(f"Accuracy: {value:.4f} ({value:.2%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
