"""What users send, turned into checked images: uploaded files, webcam frames, sketches, and
batches of files and zips (read in memory, within :mod:`hw3lab.limits`)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hw3lab import limits
from hw3lab.data.images import IMAGE_SUFFIXES, ImageInputError, open_image
from hw3lab.data.transforms import LUMA_WEIGHTS


def read_image_file(path: Any) -> Image.Image:
    """An uploaded file as an RGB image, after the size checks of :mod:`hw3lab.limits`."""
    if not isinstance(path, str | os.PathLike):
        raise ImageInputError("expected an uploaded image file")
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
    except OSError:
        raise ImageInputError(f"{name}: the upload could not be read") from None
    if size > limits.MAX_UPLOAD_BYTES:
        raise ImageInputError(f"{name}: {size / 1e6:.1f} MB is larger than the "
                              f"{limits.MAX_UPLOAD_BYTES // 2**20} MB limit")
    return open_image(path.read_bytes(), name)


def image_from_array(array: Any, what: str = "the image") -> Image.Image:
    """A webcam frame or an array sent through the API, checked like a file."""
    if not isinstance(array, np.ndarray) or array.ndim not in (2, 3):
        raise ImageInputError(f"{what} is missing or not an image")
    return open_image(array, what)


def upload_paths(files: Any, most: int) -> list[str]:
    """The paths of a multi-file upload (one path or a list), at most ``most`` of them."""
    if files is None or files == []:
        raise ImageInputError("no file uploaded: choose one or more images")
    paths = files if isinstance(files, list) else [files]
    if len(paths) > most:
        raise limits.LimitError(f"at most {most} files at once; got {len(paths)}")
    return [str(getattr(p, "name", p)) for p in paths]


def batch_files(files: Any) -> list[tuple[str, bytes]]:
    """(name, bytes) of every image in uploaded files and zips, within the batch limits; only
    base names are kept and nothing is extracted to disk."""
    entries: list[tuple[str, bytes]] = []
    for path in upload_paths(files, limits.MAX_BATCH_FILES):
        if path.lower().endswith(".zip"):
            entries.extend(_zip_members(Path(path)))
        else:
            entries.append((Path(path).name, Path(path).read_bytes()))
        if len(entries) > limits.MAX_BATCH_FILES:
            raise limits.LimitError(f"at most {limits.MAX_BATCH_FILES} images in a batch")
        if sum(len(data) for _, data in entries) > limits.MAX_ZIP_BYTES:
            raise limits.LimitError(f"a batch holds at most {limits.MAX_ZIP_BYTES // 2**20} MB "
                                    "of images")
    if not entries:
        raise ImageInputError("no images found in the upload")
    return entries


def _zip_members(path: Path) -> list[tuple[str, bytes]]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()
                       and m.filename.lower().endswith(IMAGE_SUFFIXES)]
            if len(members) > limits.MAX_BATCH_FILES:
                raise limits.LimitError(f"{path.name} holds {len(members)} images; at most "
                                        f"{limits.MAX_BATCH_FILES} in a batch")
            if sum(m.file_size for m in members) > limits.MAX_ZIP_BYTES:
                raise limits.LimitError(f"{path.name} unpacks to more than "
                                        f"{limits.MAX_ZIP_BYTES // 2**20} MB")
            return [(Path(m.filename).name, archive.read(m)) for m in members]
    except (zipfile.BadZipFile, OSError, RuntimeError) as error:
        raise ImageInputError(f"{path.name}: not a readable zip ({error})") from None


def sketch_digit(sketch: Any) -> np.ndarray:
    """A sketchpad drawing (dark strokes on light, or light on dark) -> a 28x28 digit, white on
    black, centred in a 20x20 box like MNIST."""
    if isinstance(sketch, dict):
        sketch = sketch.get("composite")
    if sketch is None:
        raise ImageInputError("the sketch is blank: draw a digit first")
    array = np.asarray(image_from_array(np.asarray(sketch), "the sketch"), dtype=np.float32)
    grey = array @ np.asarray(LUMA_WEIGHTS, dtype=np.float32)
    if np.median(grey) > 127:  # light background: make the strokes the bright part
        grey = 255 - grey
    ink = grey > 40
    if ink.sum() < 3 or grey.max() - grey.min() < 40:
        raise ImageInputError("the sketch is blank: draw a digit first")
    rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = grey[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1]
    side = max(crop.shape)
    square = np.zeros((side, side), np.float32)
    top, left = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    square[top:top + crop.shape[0], left:left + crop.shape[1]] = crop
    box = Image.fromarray(square.astype(np.uint8)).resize((20, 20), Image.Resampling.LANCZOS)
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 4:24] = np.asarray(box)
    return np.repeat(digit[:, :, None], 3, axis=2)
