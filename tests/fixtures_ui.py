"""Small random checkpoints and bad images for the lab's tests (no data, no training)."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from hw3lab.analysis.latents import LATENTS_FILE, derive, save_vae_latents
from hw3lab.checkpoints import record_in_manifest, save_checkpoint
from hw3lab.data.layout import FACE_ATTRIBUTES
from hw3lab.inference import METHODS, digit_checkpoint
from hw3lab.models import Decoder, Discriminator, Encoder, Extractor, Generator, Predictor

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 0.125
TASK = ("usps", "mnistm")


def make_checkpoints(directory: Path, methods: tuple[str, ...] = METHODS,
                     faces: bool = True) -> Path:
    """Random-initialised VAE, GAN (width 0.125), ``methods`` for usps->mnistm with manifest
    metrics, and a derived latents file of 200 random 'test faces'."""
    torch.manual_seed(0)
    if faces:
        save_checkpoint(directory / "vae.safetensors",
                        {"encoder": Encoder(WIDTH), "decoder": Decoder(WIDTH)},
                        {"family": "vae", "width": WIDTH})
        save_checkpoint(directory / "gan.safetensors",
                        {"generator": Generator(WIDTH), "discriminator": Discriminator(WIDTH)},
                        {"family": "gan", "width": WIDTH})
        rng = np.random.default_rng(0)
        mean = rng.standard_normal((200, 128)).astype(np.float32)
        attributes = (rng.random((200, len(FACE_ATTRIBUTES))) > 0.5).astype(np.float32)
        save_vae_latents(derive(mean, mean * 0 - 1, attributes), directory / LATENTS_FILE)
    for method in methods:
        path = digit_checkpoint(directory, *TASK, method)
        modules = {"extractor": Extractor()}
        if method != "adda":
            modules["predictor"] = Predictor()
        save_checkpoint(path, modules, {"family": "digits", "grey": True,
                                        "metrics": {"target_test_accuracy": 0.5,
                                                    "source_test_accuracy": 0.9}})
        record_in_manifest(directory, f"digits/{TASK[0]}-{TASK[1]}-{method}", path)
    return directory


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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_lab(*args: str, timeout: float = 60.0) -> Iterator[tuple[str, Path]]:
    """``python app.py ARGS`` on a free local port; yields its URL once the first page serves,
    and the file its output goes to; stops it afterwards."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    log = Path(tempfile.mkdtemp(prefix="hw3lab-test-")) / "app.log"
    with open(log, "w") as output:
        process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port),
                                    *args], cwd=ROOT, env=env, stdout=output,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # it answers (e.g. 401 behind --auth)
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the lab did not start: {log.read_text()}") from None
                time.sleep(0.2)
        yield url, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
