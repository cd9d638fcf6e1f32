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

MAX_PIXELS = 40_000_000  # decompression-bomb guard: larger images are refused, not decoded
MIN_SIDE = 2


class ImageInputError(ValueError):
    """An image the lab cannot use; the message says why."""


def open_image(source: str | os.PathLike | bytes | np.ndarray | Image.Image) -> Image.Image:
    """Decode ``source`` (a path, raw bytes, an array or a PIL image) into an RGB PIL image."""
    if isinstance(source, np.ndarray):
        return _to_rgb(_from_array(source))
    if isinstance(source, Image.Image):
        return _to_rgb(source)
    name = "upload" if isinstance(source, bytes) else Path(source).name
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
    except OSError as error:
        raise ImageInputError(f"{name}: cannot read the file ({error.strerror})") from None
    if not data:
        raise ImageInputError(f"{name}: the file is empty")
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            raise ImageInputError(f"{name}: {image.width}x{image.height} is too large "
                                  f"(at most {MAX_PIXELS // 1_000_000} megapixels)")
        image.seek(0)  # the first frame of an animated GIF/PNG/WebP
        image.load()
    except ImageInputError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        raise ImageInputError(f"{name}: not a readable image (PNG, JPEG, GIF, BMP or WebP)") \
            from None
    return _to_rgb(image)


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


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.width < MIN_SIDE or image.height < MIN_SIDE:
        raise ImageInputError(f"the image is {image.width}x{image.height}: too small to use")
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
