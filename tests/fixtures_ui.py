"""Images for the lab's tests: bad ones to feed it, and the pixels of the ones it hands back
(random checkpoints: :mod:`hw3lab.devtools.random_checkpoints`)."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


def pixels(path: str | Path) -> np.ndarray:
    """An image file's pixels, to compare pictures the lab hands back as files."""
    return np.asarray(Image.open(path))


INLINE_PNG = "data:image/png;base64,"


def picture(output: Any) -> Image.Image:
    """An output image as an API client gets it: inline in the answer (the lab's pictures,
    hw3lab.ui.widgets.inline_png) or a file the client downloaded (a GIF)."""
    if isinstance(output, dict):
        assert output["url"].startswith(INLINE_PNG), output["url"][:40]
        return Image.open(io.BytesIO(base64.b64decode(output["url"][len(INLINE_PNG):])))
    return Image.open(output)


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
