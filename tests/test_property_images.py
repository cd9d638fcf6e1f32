"""Property-based: random bytes and random small images, in every format, mode and size, fed to
the image callbacks (as plain functions, the way Gradio calls them). Each either works or
raises the lab's clear error (a ``gr.Error`` with a short message); nothing else escapes."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from hw3lab.lab import LabContext, digits, gan, vae
from hw3lab.ui.widgets import user_errors

TASK = "usps->mnistm"
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
FORMATS = ["PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "ICO"]
_names = itertools.count()


pytestmark = pytest.mark.slow  # hundreds of images through every callback


@pytest.fixture(scope="module")
def uploads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uploads")


def works_or_clear_error(call: Callable[[], Any]) -> None:
    """``call`` returns, or raises a gr.Error a user can read; any other exception fails."""
    try:
        user_errors(call)()
    except gr.Error as error:
        message = str(error.message)
        assert message.strip() and len(message) < 600 and "Traceback" not in message


def upload_callbacks(lab: LabContext, path: str) -> list[Callable[[], Any]]:
    """Every callback that takes an uploaded image file."""
    return [lambda: digits.classify_uploads(lab, TASK, [path]),
            lambda: gan.judge(lab, path),
            lambda: vae.reconstruct(lab, [path], None, 0),
            lambda: vae.start_face(lab, "upload", 0, path),
            lambda: digits.batch_csv(lab, TASK, "dann", [path])]


def write(directory: Path, data: bytes, suffix: str) -> str:
    path = directory / f"upload{next(_names)}{suffix}"
    path.write_bytes(data)
    return str(path)


@SETTINGS
@given(data=st.binary(max_size=2048), suffix=st.sampled_from([".png", ".jpg", ".gif", ".bin"]),
       header=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"\xff\xd8\xff", b"BM"]))
def test_random_bytes(lab: LabContext, uploads: Path, data: bytes, suffix: str,
                      header: bytes) -> None:
    path = write(uploads, header + data, suffix)
    for call in upload_callbacks(lab, path):
        works_or_clear_error(call)


images = st.builds(
    lambda h, w, channels, kind, seed: _random_array(h, w, channels, kind, seed),
    st.integers(1, 40), st.integers(1, 40), st.sampled_from([0, 1, 3, 4]),
    st.sampled_from(["uint8", "uint16", "float32", "bool"]), st.integers(0, 2**16))


def _random_array(height: int, width: int, channels: int, kind: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 0 else (height, width, channels)
    if kind == "float32":
        return rng.normal(0.5, 2.0, shape).astype(np.float32)
    if kind == "bool":
        return rng.random(shape) > 0.5
    return rng.integers(0, np.iinfo(kind).max, shape, dtype=kind)


def encode(array: np.ndarray, image_format: str, mode: str | None) -> bytes | None:
    """``array`` as a file of ``image_format`` (converted to ``mode``), or None where PIL
    cannot write that combination."""
    try:
        image = Image.fromarray(array[:, :, 0] if array.ndim == 3 and array.shape[2] == 1
                                else array)
        if mode is not None:
            image = image.convert(mode)
        buffer = io.BytesIO()
        image.save(buffer, format=image_format)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return buffer.getvalue()


@SETTINGS
@given(array=images, image_format=st.sampled_from(FORMATS),
       mode=st.sampled_from([None, "RGB", "RGBA", "L", "LA", "P", "1", "I;16", "CMYK"]))
def test_random_small_images(lab: LabContext, uploads: Path, array: np.ndarray,
                             image_format: str, mode: str | None) -> None:
    data = encode(array, image_format, mode)
    if data is not None:
        path = write(uploads, data, "." + image_format.lower())
        for call in upload_callbacks(lab, path):
            works_or_clear_error(call)
    # The webcam and the sketchpad hand the callbacks arrays, not files.
    works_or_clear_error(lambda: vae.reconstruct(lab, None, array, 0))
    works_or_clear_error(lambda: digits.classify_sketch(lab, TASK, {"composite": array}))
    works_or_clear_error(lambda: digits.classify_sketch(lab, TASK, array))
