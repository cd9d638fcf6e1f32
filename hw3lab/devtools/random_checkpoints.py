"""Random-initialised checkpoints for the tests and benches: the lab, the figures and the CLIs
run on them without data or training (latency and reliability do not depend on the weights'
values). The one place such checkpoints are made."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from hw3lab.analysis.gan_directions import DIRECTIONS_FILE, GanDirections, save_directions
from hw3lab.analysis.latents import LATENTS_FILE, derive, save_vae_latents
from hw3lab.checkpoints import record_in_manifest, save_checkpoint
from hw3lab.data.layout import FACE_ATTRIBUTES
from hw3lab.methods import METHODS, digit_checkpoint, digit_key, predictor_file
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
TINY_WIDTH = 0.0625
TASK = ("usps", "mnistm")


def make_checkpoints(directory: Path, methods: tuple[str, ...] = tuple(METHODS),
                     faces: bool = True,
                     width: float = SMALL_WIDTH,
                     tasks: tuple[tuple[str, str], ...] = (TASK,)) -> Path:
    """Random VAE and GAN of ``width`` (small by default, for speed) with a derived latents
    file of 200 random 'test faces', an attribute classifier and GAN directions, and
    ``methods`` (every registered one by default) for each of ``tasks``, laid out as their
    trainers write them and listed in the manifest (digit metrics: 50% target, 90% source
    test accuracy)."""
    torch.manual_seed(0)
    if faces:
        for family, modules in (("vae", {"encoder": Encoder(width), "decoder": Decoder(width)}),
                                ("gan", {"generator": Generator(width),
                                         "discriminator": Discriminator(width)})):
            path = save_checkpoint(directory / f"{family}.safetensors", modules,
                                   {"family": family, "width": width})
            record_in_manifest(directory, family, path)
        path = save_checkpoint(directory / "attributes.safetensors",
                               {"attributes": AttributeNet()}, {"family": "attributes"})
        record_in_manifest(directory, "attributes", path)
        rng = np.random.default_rng(0)
        directions = rng.standard_normal((len(FACE_ATTRIBUTES), NOISE_DIM))
        save_directions(GanDirections(
            (directions / np.linalg.norm(directions, axis=1, keepdims=True)).astype(np.float32),
            np.full(len(FACE_ATTRIBUTES), 50.0), np.full(len(FACE_ATTRIBUTES), 50.0)),
            directory / DIRECTIONS_FILE)
        mean = rng.standard_normal((200, 128)).astype(np.float32)
        attributes = (rng.random((200, len(FACE_ATTRIBUTES))) > 0.5).astype(np.float32)
        save_vae_latents(derive(mean, mean * 0 - 1, attributes), directory / LATENTS_FILE)
    for source, target in tasks:
        for method in methods:
            path = digit_checkpoint(directory, source, target, method)
            modules = {"extractor": Extractor()}
            metadata = {"family": "digits", "method": method, "grey": True,
                        "metrics": {"target_test_accuracy": 0.5, "source_test_accuracy": 0.9}}
            shared = predictor_file(source, target, method)
            if shared:  # as hw3lab.training.saving.save_digits writes it
                metadata["predictor_from"] = shared
            else:
                modules["predictor"] = Predictor()
            save_checkpoint(path, modules, metadata)
            record_in_manifest(directory, digit_key(source, target, method), path)
    return directory
