"""Fixtures for the training, CLI, predict, evaluate and figure tests: a tiny hw3_data copy
and random-initialised checkpoints of every family, written in seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hw3lab.analysis.gan_directions import DIRECTIONS_FILE, GanDirections, save_directions
from hw3lab.checkpoints import record_in_manifest, save_checkpoint
from hw3lab.data.layout import FACE_ATTRIBUTES
from hw3lab.inference import METHODS, TASKS, digit_checkpoint, task_name
from hw3lab.models import VAE, AttributeNet, Discriminator, Extractor, Generator, Predictor
from hw3lab.models.gan import NOISE_DIM
from tests.hw3_fixtures import write_hw3_data

TINY_WIDTH = 0.0625


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hw3_data layout, 12 random images per split (digit labels 0-9 cycling)."""
    return write_hw3_data(tmp_path_factory.mktemp("hw3_data"), per_split=12)


def write_random_checkpoints(directory: Path, faces: bool = True) -> Path:
    """Random-initialised checkpoints of every digit task and method (and tiny faces)."""
    torch.manual_seed(0)
    if faces:
        vae = VAE(TINY_WIDTH)
        path = save_checkpoint(directory / "vae.safetensors",
                               {"encoder": vae.encoder, "decoder": vae.decoder},
                               {"family": "vae", "width": TINY_WIDTH})
        record_in_manifest(directory, "vae", path)
        path = save_checkpoint(directory / "gan.safetensors",
                               {"generator": Generator(TINY_WIDTH),
                                "discriminator": Discriminator(TINY_WIDTH)},
                               {"family": "gan", "width": TINY_WIDTH})
        record_in_manifest(directory, "gan", path)
        path = save_checkpoint(directory / "attributes.safetensors",
                               {"attributes": AttributeNet()}, {"family": "attributes"})
        record_in_manifest(directory, "attributes", path)
        directions = torch.nn.functional.normalize(torch.randn(len(FACE_ATTRIBUTES), NOISE_DIM))
        save_directions(GanDirections(directions.numpy(), np.zeros(len(FACE_ATTRIBUTES)),
                                      np.zeros(len(FACE_ATTRIBUTES))),
                        directory / DIRECTIONS_FILE)
    for source, target in TASKS:
        for method in METHODS:
            modules = {"extractor": Extractor()}
            if method != "adda":
                modules["predictor"] = Predictor()
            path = save_checkpoint(digit_checkpoint(directory, source, target, method), modules,
                                   {"family": "digits", "method": method, "grey": True})
            record_in_manifest(directory, f"digits/{task_name(source, target)}-{method}", path)
    return directory


@pytest.fixture(scope="session")
def random_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_random_checkpoints(tmp_path_factory.mktemp("checkpoints"))
