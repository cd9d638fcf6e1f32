"""Latent directions and the derived latents file that lets the VAE tab run without data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hw3lab.analysis.latents import (
    LATENTS_FILE,
    attribute_directions,
    build_vae_latents,
    load_vae_latents,
    principal_directions,
    save_vae_latents,
)
from hw3lab.checkpoints import CheckpointError
from hw3lab.data.readers import Split
from hw3lab.devtools.random_checkpoints import make_checkpoints
from hw3lab.inference import ModelStore


def test_principal_directions_find_the_spread() -> None:
    rng = np.random.default_rng(0)
    means = rng.standard_normal((500, 8)) * [5, 2, 1, 1, 1, 1, 1, 1] + 3
    directions, std = principal_directions(means, 3)
    assert directions.shape == (3, 8) and std.shape == (3,)
    assert abs(abs(directions[0, 0]) - 1) < 0.02 and abs(std[0] - 5) < 0.5
    np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1, rtol=1e-5)


def test_attribute_direction_is_the_difference_of_group_means() -> None:
    means = np.array([[1.0, 0], [3, 0], [0, 2], [0, 4]])
    attributes = np.array([[1, 0], [1, 0], [0, 0], [0, 1]])
    directions = attribute_directions(means, attributes)
    np.testing.assert_allclose(directions[0], [2, -3])
    np.testing.assert_allclose(directions[1], [-4 / 3, 4 - 2 / 3])
    assert not attribute_directions(means, np.ones((4, 1))).any()  # nobody without it


def test_build_save_and_load(tmp_path: Path) -> None:
    make_checkpoints(tmp_path, methods=())
    store = ModelStore(tmp_path, "cpu")
    rng = np.random.default_rng(0)
    faces = Split("face", "test", rng.integers(0, 256, (20, 64, 64, 3), np.uint8),
                  (rng.random((20, 13)) > 0.5).astype(np.float32),
                  tuple(f"{i}.png" for i in range(20)))
    latents = build_vae_latents(store, faces, directions=5)
    np.testing.assert_allclose(latents.mean, store.encode_faces(faces.images)[0], rtol=1e-5)
    path = save_vae_latents(latents, tmp_path / LATENTS_FILE)
    loaded = load_vae_latents(path)
    np.testing.assert_array_equal(loaded.attribute, latents.attribute)
    assert loaded.principal.shape == (5, 128)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="damaged"):
        load_vae_latents(path)
    with pytest.raises(CheckpointError, match="missing"):
        load_vae_latents(tmp_path / "nothing.safetensors")
