"""Read hw3_data splits into compact uint8 arrays, cached so PNGs are decoded once.

A split becomes a :class:`Split`: images (N, H, W, C) uint8, labels (N,) int64 for digits or
attributes (N, 13) float32 for faces, and the image names. The cache is one ``.npz`` per split
under ``$HW3LAB_CACHE`` (default ``~/.cache/hw3lab``), keyed by the folder's absolute path and a
fingerprint of every file's name, size and modification time, so any change invalidates it.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from hw3lab.data.layout import (
    DIGIT_DOMAINS,
    DIGIT_SIZE,
    FACE_ATTRIBUTES,
    FACE_SIZE,
    DataLayoutError,
    resolve_data_root,
    split_dir,
)
from hw3lab.files import atomic_path

CACHE_VERSION = 1


@dataclass(frozen=True)
class Split:
    """One split in memory. ``targets`` are digit labels or face attributes."""

    dataset: str
    split: str
    images: np.ndarray  # (N, H, W, C) uint8
    targets: np.ndarray  # (N,) int64 labels, or (N, 13) float32 attributes
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.names)


def cache_dir() -> Path:
    return Path(os.environ.get("HW3LAB_CACHE") or Path.home() / ".cache" / "hw3lab")


def load_split(dataset: str, split: str, root: str | os.PathLike | None = None,
               use_cache: bool = True) -> Split:
    """Load ``dataset`` ('face', 'usps', 'mnistm', 'svhn') and ``split`` ('train', 'test')."""
    images_dir, csv_path = split_dir(resolve_data_root(root), dataset, split)
    key = _fingerprint(images_dir, csv_path)
    cached = cache_dir() / f"{dataset}-{split}-{key}.npz"
    if use_cache and cached.is_file():
        try:
            return _read_cache(cached, dataset, split)
        except (OSError, ValueError, KeyError):
            cached.unlink(missing_ok=True)  # a damaged cache is rebuilt, never trusted
    result = _decode_split(dataset, split, images_dir, csv_path)
    if use_cache:
        _write_cache(cached, result)
    return result


def _fingerprint(images_dir: Path, csv_path: Path) -> str:
    digest = hashlib.sha256(f"v{CACHE_VERSION}|{images_dir.resolve()}".encode())
    for path in [csv_path, *sorted(os.scandir(images_dir), key=lambda e: e.name)]:
        stat = path.stat()
        digest.update(f"|{Path(path).name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _read_rows(csv_path: Path, dataset: str) -> list[tuple[str, np.ndarray | int]]:
    with open(csv_path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        expected = ["image_name", *(FACE_ATTRIBUTES if dataset == "face" else ["label"])]
        if header != expected:
            raise DataLayoutError(
                f"{csv_path}: header {header} does not match the expected {expected}"
            )
        rows = []
        for line_number, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(expected):
                raise DataLayoutError(f"{csv_path}:{line_number}: expected {len(expected)} "
                                      f"columns, found {len(row)}")
            rows.append((row[0], _parse_target(row[1:], dataset, csv_path, line_number)))
    return rows


def _parse_target(values: list[str], dataset: str, csv_path: Path, line_number: int):
    try:
        if dataset == "face":
            attributes = np.array([float(v) for v in values], dtype=np.float32)
            if not np.isin(attributes, (0.0, 1.0)).all():
                raise ValueError
            return attributes
        label = int(values[0])
    except ValueError:
        raise DataLayoutError(f"{csv_path}:{line_number}: unreadable value(s) {values}") from None
    if not 0 <= label <= 9:
        raise DataLayoutError(f"{csv_path}:{line_number}: label {label} is outside 0-9")
    return label


def _decode_split(dataset: str, split: str, images_dir: Path, csv_path: Path) -> Split:
    rows = _read_rows(csv_path, dataset)
    listed = [name for name, _ in rows]
    on_disk = {entry.name for entry in os.scandir(images_dir) if entry.is_file()}
    missing = [name for name in listed if name not in on_disk]
    if missing:
        raise DataLayoutError(f"{csv_path} lists {len(missing)} image(s) missing from "
                              f"{images_dir}, e.g. {missing[:3]}")
    unlisted = sorted(on_disk - set(listed))
    if unlisted:
        raise DataLayoutError(f"{images_dir} has {len(unlisted)} image(s) without a row in "
                              f"{csv_path}, e.g. {unlisted[:3]}")
    if len(set(listed)) != len(listed):
        raise DataLayoutError(f"{csv_path} lists some images more than once")
    size, channels = (FACE_SIZE, 3) if dataset == "face" else (DIGIT_SIZE, None)
    images = [_read_image(images_dir / name, size, channels) for name in listed]
    if channels is None:  # a digit domain keeps its own mode, but one mode for all
        channels = max(image.shape[2] for image in images)
        images = [np.repeat(im, 3, axis=2) if im.shape[2] < channels else im for im in images]
    targets = [target for _, target in rows]
    target_array = (np.stack(targets) if dataset == "face"
                    else np.asarray(targets, dtype=np.int64))
    return Split(dataset, split, np.stack(images), target_array, tuple(listed))


def _read_image(path: Path, size: int, channels: int | None) -> np.ndarray:
    try:
        with Image.open(path) as image:
            if image.size != (size, size):
                raise DataLayoutError(f"{path}: size {image.size}, expected {size}x{size}")
            mode = "RGB" if channels == 3 or image.mode not in ("L", "1", "I;16", "I") else "L"
            array = np.asarray(image.convert(mode), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as error:
        raise DataLayoutError(f"{path}: unreadable image ({error})") from None
    return array[:, :, None] if array.ndim == 2 else array


def _write_cache(path: Path, split: Split) -> None:
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, images=split.images, targets=split.targets,
                 names=np.asarray(split.names, dtype=str))


def _read_cache(path: Path, dataset: str, split: str) -> Split:
    with np.load(path, allow_pickle=False) as archive:
        return Split(dataset, split, archive["images"], archive["targets"],
                     tuple(archive["names"].tolist()))


def load_digits(domain: str, split: str, root: str | os.PathLike | None = None) -> Split:
    if domain not in DIGIT_DOMAINS:
        raise DataLayoutError(f"unknown digit domain {domain!r}: expected one of "
                              f"{', '.join(DIGIT_DOMAINS)}")
    return load_split(domain, split, root)


def load_faces(split: str, root: str | os.PathLike | None = None) -> Split:
    return load_split("face", split, root)
