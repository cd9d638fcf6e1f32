"""Gradio's image cache, made to write each file once and atomically.

Gradio stores every output image under the hash of its bytes and rewrites that file in place
whenever a request produces the same image again (two students classifying the same example).
A download of the file at that moment reads it truncated: bench/load.py saw 'peer closed
connection without sending complete message body (received 0 bytes)'. The bytes at a hashed
path never change, so here an existing file is kept and a new one is written to a temporary
name and renamed into place; readers always see a complete file.

This replaces a Gradio function, so it checks first that the function is still there with the
signature it was written against (gradio 6.x), and refuses to start the lab otherwise.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from gradio import processing_utils
from PIL import Image

from hw3lab.checkpoints import atomic_path

EXPECTED_PARAMETERS = ("img", "cache_dir", "name", "format")


class GradioChangedError(RuntimeError):
    """The Gradio function the lab replaces is gone or changed: review this module."""


def save_pil_to_cache(img: Image.Image, cache_dir: str, name: str = "image",
                      format: str = "webp") -> str:
    """Gradio's ``processing_utils.save_pil_to_cache``, writing a new file only."""
    data = processing_utils.encode_pil_to_bytes(img, format)
    path = (Path(cache_dir) / processing_utils.hash_bytes(data) / f"{name}.{format}").resolve()
    if not path.is_file():
        with atomic_path(path) as temporary:
            temporary.write_bytes(data)
    return str(path)


def atomic_gradio_image_cache() -> None:
    """Install :func:`save_pil_to_cache` in Gradio (once); raise :class:`GradioChangedError`
    if Gradio's own function is missing or takes other parameters."""
    current = getattr(processing_utils, "save_pil_to_cache", None)
    if current is save_pil_to_cache:
        return
    if current is None:
        raise GradioChangedError("gradio.processing_utils.save_pil_to_cache is gone: "
                                 "review hw3lab/ui/gradio_cache.py for this Gradio version")
    parameters = tuple(inspect.signature(current).parameters)
    if parameters != EXPECTED_PARAMETERS:
        raise GradioChangedError(
            f"gradio.processing_utils.save_pil_to_cache now takes {parameters}, not "
            f"{EXPECTED_PARAMETERS}: review hw3lab/ui/gradio_cache.py for this Gradio version")
    processing_utils.save_pil_to_cache = save_pil_to_cache
