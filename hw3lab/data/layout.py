"""Where the course's ``hw3_data`` folder is, and what it holds."""

from __future__ import annotations

import os
from pathlib import Path

from hw3lab.errors import UserInputError

FACE_ATTRIBUTES = (
    "Bangs", "Big_Lips", "Black_Hair", "Blond_Hair", "Brown_Hair", "Heavy_Makeup",
    "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Smiling", "Straight_Hair", "Wavy_Hair",
    "Wearing_Lipstick",
)
DIGIT_DOMAINS = ("usps", "mnistm", "svhn")
GREY_DOMAINS = frozenset({"usps"})
SPLITS = ("train", "test")
FACE_SIZE = 64
DIGIT_SIZE = 28


class DataLayoutError(UserInputError):
    """The data folder does not follow the course's hw3_data layout; the message says how."""


def resolve_data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: the argument, else ``$HW3_DATA``, else ``./hw3_data``."""
    if root is None:
        root = os.environ.get("HW3_DATA") or "hw3_data"
    return Path(root).expanduser()


def split_dir(root: Path, dataset: str, split: str) -> tuple[Path, Path]:
    """(image folder, CSV file) of ``dataset`` ('face' or a digit domain) and ``split``."""
    if split not in SPLITS:
        raise DataLayoutError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
    if dataset == "face":
        base = root / "face"
    elif dataset in DIGIT_DOMAINS:
        base = root / "digits" / dataset
    else:
        raise DataLayoutError(
            f"unknown dataset {dataset!r}: expected 'face' or one of {', '.join(DIGIT_DOMAINS)}"
        )
    if not root.is_dir():
        raise DataLayoutError(
            f"data root {root} does not exist: pass --data, set HW3_DATA, or put hw3_data here"
        )
    images, csv = base / split, base / f"{split}.csv"
    if not images.is_dir():
        raise DataLayoutError(f"missing folder {images} (expected by the hw3_data layout)")
    if not csv.is_file():
        raise DataLayoutError(f"missing file {csv} (expected by the hw3_data layout)")
    return images, csv
