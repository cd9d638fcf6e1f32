"""ModelStore: lazy loading once, and the operations the UI and CLIs share."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hw3lab.checkpoints import CheckpointError, save_checkpoint
from hw3lab.inference import ModelStore, gan_noise
from hw3lab.methods import digit_checkpoint
from hw3lab.models import Decoder, Discriminator, Encoder, Extractor, Generator, Predictor


@pytest.fixture
def store(tmp_path) -> ModelStore:
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "vae.safetensors",
                    {"encoder": Encoder(0.125), "decoder": Decoder(0.125)},
                    {"family": "vae", "width": 0.125})
    save_checkpoint(tmp_path / "gan.safetensors",
                    {"generator": Generator(0.125), "discriminator": Discriminator(0.125)},
                    {"family": "gan", "width": 0.125})
    for method in ("source_only", "dann"):
        save_checkpoint(digit_checkpoint(tmp_path, "usps", "mnistm", method),
                        {"extractor": Extractor(), "predictor": Predictor()},
                        {"family": "digits", "grey": True})
    save_checkpoint(digit_checkpoint(tmp_path, "usps", "mnistm", "adda"),
                    {"extractor": Extractor()},
                    {"family": "digits", "grey": True,
                     "predictor_from": "digits/usps-mnistm-source_only.safetensors"})
    return ModelStore(tmp_path, device="cpu")


def test_faces_round_trip(store: ModelStore) -> None:
    faces = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    mean, logvar = store.encode_faces(faces)
    assert mean.shape == logvar.shape == (3, 128)
    decoded = store.decode_latents(mean)
    assert decoded.shape == (3, 64, 64, 3) and decoded.dtype == np.uint8
    realness = store.realness(decoded)
    assert realness.shape == (3,) and ((realness >= 0) & (realness <= 1)).all()


def test_a_seed_always_gives_the_same_face(store: ModelStore) -> None:
    first, again = store.generate_faces([1, 2, 3]), store.generate_faces([3, 2, 1])
    np.testing.assert_array_equal(first[0], again[2])
    assert not np.array_equal(first[0], first[1])
    torch.testing.assert_close(gan_noise([5])[0], gan_noise([9, 5])[1])


def test_models_load_once(store: ModelStore) -> None:
    assert store.vae()[0] is store.vae()[0]
    assert store.digits("usps", "mnistm", "dann") is store.digits("usps", "mnistm", "dann")


def test_digit_methods_and_adda_reuses_the_source_predictor(store: ModelStore) -> None:
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28, 3), dtype=np.uint8)
    probabilities = store.classify_digits(images, "usps", "mnistm", "dann")
    assert probabilities.shape == (4, 10)
    np.testing.assert_allclose(probabilities.sum(1), 1, rtol=1e-5)
    adda = store.digits("usps", "mnistm", "adda")
    assert adda.predictor is store.digits("usps", "mnistm", "source_only").predictor
    assert store.digit_features(images[:, :, :, :1], "usps", "mnistm", "adda").shape == (4, 512)


def test_missing_or_unknown_models_raise_clear_errors(store: ModelStore, tmp_path) -> None:
    with pytest.raises(CheckpointError, match="missing checkpoint .*usps-mnistm-target_only"
                       r".safetensors \(method 'target_only' of usps-mnistm\); "
                       "methods there: source_only, dann, adda"):
        store.digits("usps", "mnistm", "target_only")
    with pytest.raises(CheckpointError, match="unknown task"):
        store.digits("usps", "svhn", "dann")
    for name in ("../vae", "", "x" * 33, 3):
        with pytest.raises(CheckpointError, match="a method name is 1-32 letters"):
            store.digits("usps", "mnistm", name)
    with pytest.raises(CheckpointError, match="missing"):
        ModelStore(tmp_path / "empty", device="cpu").vae()
