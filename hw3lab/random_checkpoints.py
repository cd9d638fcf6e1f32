"""Random-initialised checkpoints for tests, benches and demos: the lab runs on them without
data or training (latency and reliability do not depend on the weights' values)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from hw3lab.analysis.gan_directions import DIRECTIONS_FILE, GanDirections, save_directions
from hw3lab.analysis.latents import LATENTS_FILE, derive, save_vae_latents
from hw3lab.checkpoints import record_in_manifest, save_checkpoint
from hw3lab.data.layout import FACE_ATTRIBUTES
from hw3lab.inference import METHODS, digit_checkpoint
from hw3lab.models import (
    AttributeNet,
    Decoder,
    Discriminator,
    Encoder,
    Extractor,
    Generator,
    Predictor,
)
from hw3lab.models.gan import NOISE_DIM

SMALL_WIDTH = 0.125
TASK = ("usps", "mnistm")


def make_checkpoints(directory: Path, methods: tuple[str, ...] = METHODS, faces: bool = True,
                     width: float = SMALL_WIDTH) -> Path:
    """Random VAE and GAN of ``width`` (small by default, for speed) with an attribute
    classifier and GAN directions, ``methods`` for
    usps->mnistm with manifest metrics, and a derived latents file of 200 random 'test faces'."""
    torch.manual_seed(0)
    if faces:
        save_checkpoint(directory / "vae.safetensors",
                        {"encoder": Encoder(width), "decoder": Decoder(width)},
                        {"family": "vae", "width": width})
        save_checkpoint(directory / "gan.safetensors",
                        {"generator": Generator(width), "discriminator": Discriminator(width)},
                        {"family": "gan", "width": width})
        save_checkpoint(directory / "attributes.safetensors", {"attributes": AttributeNet()},
                        {"family": "attributes"})
        rng = np.random.default_rng(0)
        directions = rng.standard_normal((len(FACE_ATTRIBUTES), NOISE_DIM))
        save_directions(GanDirections(
            (directions / np.linalg.norm(directions, axis=1, keepdims=True)).astype(np.float32),
            np.full(len(FACE_ATTRIBUTES), 50.0), np.full(len(FACE_ATTRIBUTES), 50.0)),
            directory / DIRECTIONS_FILE)
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
