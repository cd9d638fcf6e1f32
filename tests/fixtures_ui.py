"""Images for the lab's tests: bad ones to feed it, and the pixels of the ones it hands back
(random checkpoints: :mod:`tests.random_checkpoints`)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def pixels(path: str | Path) -> np.ndarray:
    """An image file's pixels, to compare pictures the lab hands back as files."""
    return np.asarray(Image.open(path))


def png_bytes(image: Image.Image, **save: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=save.pop("format", "PNG"), **save)
    return buffer.getvalue()


def bad_images() -> dict[str, tuple[bytes, str | None]]:
    """File name -> (bytes, expected error fragment or None when the image must be accepted)."""
    digit = Image.new("L", (40, 40), 0)
    digit.paste(255, (15, 5, 25, 35))
    frames = [Image.new("P", (32, 32), i) for i in range(3)]
    animated = io.BytesIO()
    frames[0].save(animated, format="GIF", save_all=True, append_images=frames[1:])
    return {
        "notes.png": (b"this is not an image at all", "not a readable image"),
        "empty.png": (b"", "empty"),
        "rgba.png": (png_bytes(digit.convert("RGBA")), None),
        "deep.png": (png_bytes(Image.fromarray(np.full((40, 40), 40000, np.uint16))), None),
        "palette.png": (png_bytes(digit.convert("P")), None),
        "animated.gif": (animated.getvalue(), None),
        "dot.png": (png_bytes(Image.new("RGB", (1, 1))), "too small"),
        "huge.png": (png_bytes(Image.new("1", (6000, 6000))), "too large"),
    }
