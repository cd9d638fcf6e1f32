"""Turn any user image (upload, drawing, file in a folder) into what a model expects.

Odd images are normalised (RGBA over white, 16-bit, palette, first frame of an animation);
unreadable, empty, tiny or huge ones raise :class:`ImageInputError` with a message a user can
act on. Faces are centre-cropped to a square then resized to 64x64; digits resized to 28x28.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from hw3lab import limits
from hw3lab.errors import UserInputError

# The image files the lab reads from a folder or a zip (predict's folders, batch labelling).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")


class ImageInputError(UserInputError):
    """An image the lab cannot use; the message says why."""


def open_image(source: str | os.PathLike | bytes | np.ndarray | Image.Image,
               name: str | None = None) -> Image.Image:
    """Decode ``source`` (a path, raw bytes, an array or a PIL image) into an RGB PIL image,
    after checking its size against :mod:`hw3lab.limits` (from the header, before decoding);
    ``name`` is how messages call it."""
    if isinstance(source, np.ndarray):
        if source.ndim in (2, 3):
            check_image_size(source.shape[1], source.shape[0], name or "the image")
        return _to_rgb(_from_array(source), name or "the image")
    if isinstance(source, Image.Image):
        return _to_rgb(source, name or "the image")
    name = name or ("upload" if isinstance(source, bytes) else Path(source).name)
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
    except OSError as error:
        raise ImageInputError(f"{name}: cannot read the file ({error.strerror})") from None
    if not data:
        raise ImageInputError(f"{name}: the file is empty")
    try:
        image = Image.open(io.BytesIO(data))
        check_image_size(image.width, image.height, name)
        image.seek(0)  # the first frame of an animated GIF/PNG/WebP
        image.load()
    except ImageInputError:
        raise
    except Image.DecompressionBombError:  # PIL's own guard, where a process lowered it
        raise ImageInputError(f"{name}: too large (at most {limits.MAX_IMAGE_SIDE} pixels a "
                              "side)") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise ImageInputError(f"{name}: not a readable image (PNG, JPEG, GIF, BMP or WebP)") \
            from None
    return _to_rgb(image, name)


def check_image_size(width: int, height: int, name: str) -> None:
    """Refuse images too small to show a face or digit, or too large to decode safely (a PNG of
    one colour can be tiny on disk and gigabytes in memory)."""
    if min(width, height) < limits.MIN_IMAGE_SIDE:
        raise ImageInputError(f"{name}: {width}x{height} is too small (at least "
                              f"{limits.MIN_IMAGE_SIDE}x{limits.MIN_IMAGE_SIDE} pixels)")
    if max(width, height) > limits.MAX_IMAGE_SIDE or width * height > limits.MAX_IMAGE_PIXELS:
        raise ImageInputError(f"{name}: {width}x{height} is too large (at most "
                              f"{limits.MAX_IMAGE_SIDE} pixels a side, "
                              f"{limits.MAX_IMAGE_PIXELS // 2**20} megapixels)")


def _from_array(array: np.ndarray) -> Image.Image:
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ImageInputError(f"an image array must be (H, W), (H, W, 1|3|4); got {array.shape}")
    if array.dtype != np.uint8:
        array = _rescale_to_uint8(array.astype(np.float64))
    return Image.fromarray(array[:, :, 0] if array.ndim == 3 and array.shape[2] == 1 else array)


def _rescale_to_uint8(array: np.ndarray) -> np.ndarray:
    top = array.max() if array.size else 0
    scale = 255.0 if top <= 1.0 else (255.0 / 65535.0 if top > 255 else 1.0)
    return np.clip(np.nan_to_num(array) * scale, 0, 255).round().astype(np.uint8)


def _to_rgb(image: Image.Image, name: str) -> Image.Image:
    check_image_size(image.width, image.height, name)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit or float greyscale
        image = Image.fromarray(_rescale_to_uint8(np.asarray(image, dtype=np.float64)))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


def fit_face(image: Image.Image, size: int = 64) -> np.ndarray:
    """Centre-crop to a square and resize to ``size`` x ``size``: (size, size, 3) uint8."""
    return np.asarray(ImageOps.fit(image, (size, size), Image.Resampling.LANCZOS), np.uint8)


def fit_digit(image: Image.Image, size: int = 28) -> np.ndarray:
    """Resize to ``size`` x ``size`` (the digit datasets are already square): (28, 28, 3)."""
    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), np.uint8)
