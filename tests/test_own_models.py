"""A student's own model uploaded in the lab: a digit model appears as 'your model' beside the
shipped methods (probabilities, t-SNE, accuracy with data), a VAE or GAN beside the shipped one
(the same latents, faces and seeds), only in the session that uploaded it, and memory stays
bounded; bad files get the command line's messages."""

from __future__ import annotations

import pickle
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from hw3lab import limits
from hw3lab.devtools.random_checkpoints import make_checkpoints
from hw3lab.lab import LabContext, digits, gan, vae
from hw3lab.lab.context import OwnModels, SessionModel
from hw3lab.lab.inputs import batch_files
from hw3lab.lab.own_models import (
    OWN_TITLE,
    own_digits,
    own_faces,
    upload_digits,
    upload_gan,
    upload_model,
    upload_vae,
)
from hw3lab.lab.pictures import tile
from hw3lab.methods import METHODS
from hw3lab.models import Decoder, Discriminator, Encoder, Generator
from hw3lab.ui.widgets import user_errors
from tests import homework_reference as homework
from tests.fixtures_ui import pixels
from tests.test_import_pth import Payload, homework_digits

TASK = "usps->mnistm"


@pytest.fixture(scope="module")
def fresh_lab(tmp_path_factory: pytest.TempPathFactory) -> LabContext:
    directory = make_checkpoints(tmp_path_factory.mktemp("own"), faces=False)
    return LabContext(directory, directory / "no-data")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("pth")
    extractor, predictor = homework_digits()
    paths = {"extractor": folder / "extractor.pth", "predictor": folder / "predictor.pth",
             "gan": folder / "G.pth", "evil": folder / "evil.pth", "empty": folder / "e.pth",
             "huge": folder / "huge.pth"}
    torch.save(extractor, paths["extractor"])
    torch.save({f"module.{k}": v for k, v in predictor.items()}, paths["predictor"])
    torch.save(homework.Generator().state_dict(), paths["gan"])
    with open(paths["evil"], "wb") as handle:
        pickle.dump({"w": Payload(str(folder / "pwned"))}, handle)
    paths["empty"].write_bytes(b"")
    with open(paths["huge"], "wb") as handle:
        handle.truncate(limits.MAX_MODEL_UPLOAD_BYTES + 1)
    return {name: str(path) for name, path in paths.items()}


def test_your_model_appears_beside_the_shipped_ones(fresh_lab: LabContext,
                                                    files: dict[str, str]) -> None:
    token, message = upload_digits(fresh_lab, TASK, [files["predictor"], files["extractor"]])
    assert "your model" in message and "predictor.pth" in message
    _, chart, table = digits.classify_example(fresh_lab, TASK, 3, token)
    assert table[0][-1].endswith("%)")  # its prediction, in the last column
    _, _, without = digits.classify_example(fresh_lab, TASK, 3, None)  # another session
    assert without[0][-1] == "-" and without[0][:-1] == table[0][:-1]
    assert chart.shape[1] > digits.classify_example(fresh_lab, TASK, 3, None)[1].shape[1]
    columns = digits.feature_tsne(fresh_lab, TASK, 50, token)["hconcat"]
    assert len(columns) == len(METHODS) + 1  # a last column: your model
    assert columns[-1]["vconcat"][0]["title"] == f"{OWN_TITLE} by class"
    assert own_digits(fresh_lab, token, "svhn", "usps").startswith("for usps->mnistm")


def test_accuracy_of_your_model_needs_data(fresh_lab: LabContext, tiny_data: Path,
                                           files: dict[str, str]) -> None:
    with_data = LabContext(fresh_lab.checkpoints, tiny_data)
    token, _ = upload_digits(with_data, TASK, [files["extractor"], files["predictor"]])
    rows = digits.recompute_accuracy(with_data, TASK, token)
    assert rows[-1][:2] == [TASK, OWN_TITLE] and rows[-1][2].endswith("%")
    with pytest.raises(gr.Error, match="needs hw3_data"):
        user_errors(digits.recompute_accuracy)(
            fresh_lab, TASK, upload_digits(fresh_lab, TASK, [files["extractor"],
                                                              files["predictor"]])[0])


def test_bad_uploads_get_one_message_each(fresh_lab: LabContext, files: dict[str, str]) -> None:
    upload = user_errors(upload_digits)
    expected = {"evil": "not a plain state_dict", "empty": "e.pth is empty",
                "huge": "over the limit of 16 MB a file",
                "gan": "hold a gan model's generator, not a digits model"}
    for name, message in expected.items():
        with pytest.raises(gr.Error, match=message):
            upload(fresh_lab, TASK, [files[name]])
    with pytest.raises(gr.Error, match="no extractor in predictor.pth"):
        upload(fresh_lab, TASK, [files["predictor"]])
    with pytest.raises(gr.Error, match="at most 4 files"):
        upload(fresh_lab, TASK, [files["extractor"]] * 5)
    with pytest.raises(gr.Error, match="the model family must be one of"):
        user_errors(upload_model)(fresh_lab, "resnet", TASK, [files["extractor"]])
    assert not Path(files["evil"]).with_name("pwned").exists()


def test_memory_stays_bounded_and_tokens_are_private() -> None:
    store = OwnModels(cap=2)
    tokens = [store.add(SessionModel("digits", [f"{i}.pth"])) for i in range(3)]
    assert len(store) == 2 and len(set(tokens)) == 3 and len(tokens[0]) >= 20
    with pytest.raises(gr.Error, match="no longer held .* at most 2 at once"):
        user_errors(store.get)(tokens[0])
    assert store.get(tokens[2]).files == ["2.pth"] and store.get(None) is None
    with pytest.raises(gr.Error, match="no longer held"):
        user_errors(store.get)("a guessed token")
    np.testing.assert_equal(limits.MAX_OWN_MODELS, 8)


def test_the_larger_limit_for_models_does_not_let_batches_grow(tmp_path: Path) -> None:
    """The server takes model files up to 16 MB, so a batch of plain images is capped too."""
    paths = []
    for i in range(6):
        with open(tmp_path / f"{i}.png", "wb") as handle:
            handle.truncate(9 * 2**20)
        paths.append(str(tmp_path / f"{i}.png"))
    with pytest.raises(limits.LimitError, match="a batch holds at most 50 MB"):
        batch_files(paths)


@pytest.fixture(scope="module")
def face_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A narrow VAE in one dict (the homework's full-width VAE is over the upload limit) and a
    GAN's generator and discriminator in two files, with the homework's keys."""
    folder = tmp_path_factory.mktemp("faces")
    torch.manual_seed(1)
    paths = {"vae": folder / "vae.pth", "G": folder / "G.pth", "D": folder / "D.pth"}
    torch.save({"encoder": Encoder(0.125).state_dict(), "decoder": Decoder(0.125).state_dict(),
                "epoch": 7}, paths["vae"])
    torch.save(Generator(0.125).state_dict(), paths["G"])
    torch.save({f"module.{k}": v for k, v in Discriminator(0.125).state_dict().items()},
               paths["D"])
    return {name: str(path) for name, path in paths.items()}


def test_your_vae_decodes_the_same_latents_and_faces(lab: LabContext,
                                                     face_files: dict[str, str]) -> None:
    token, message = upload_vae(lab, [face_files["vae"]])
    assert "your model" in message and "width 0.125" in message and "encoder, decoder" in message
    mine = own_faces(lab, token, "vae")
    assert mine is not None and own_faces(lab, token, "gan") is None
    shipped = vae.random_faces(lab, 3, 8)
    both = vae.random_faces(lab, 3, 8, token)
    z = np.random.default_rng(3).standard_normal((8, 128)).astype(np.float32)
    yours = tile(lab.store.decode_latents(z, mine), 8, scale=2)
    assert not np.array_equal(yours, shipped)  # other weights, other faces
    strip = 16  # each picture under a title strip
    np.testing.assert_array_equal(both[strip:strip + len(shipped)], shipped)
    np.testing.assert_array_equal(both[-len(yours):], yours)  # the same latents, your decoder
    np.testing.assert_array_equal(vae.random_faces(lab, 3, 8, None), shipped)  # others' view
    face = np.full((64, 64, 3), 120, np.uint8)
    alone, table = vae.reconstruct(lab, None, face, 0)
    panel, mine_table = vae.reconstruct(lab, None, face, 0, token)
    assert table[0][2] == "-" and mine_table[0][2] != "-" and mine_table[0][1] == table[0][1]
    # rows of 64 pixels, 2-pixel gaps and 4 below, enlarged twice: a third row, yours
    assert (alone.shape[0], panel.shape[0]) == (2 * (2 * 64 + 2 + 4), 2 * (3 * 64 + 4 + 4))
    assert float(mine_table[-1][2]) == pytest.approx(float(mine_table[0][2]))  # one face


def test_your_gan_draws_the_same_seeds(lab: LabContext, face_files: dict[str, str],
                                       tmp_path: Path) -> None:
    token, message = upload_gan(lab, [face_files["D"], face_files["G"]])  # any order
    assert "generator, discriminator" in message and "for this session only" in message
    shipped, both = pixels(gan.face(lab, 5)), pixels(gan.face(lab, 5, token))
    assert both.shape[0] > 2 * shipped.shape[0] and both.shape[1] == shipped.shape[1]
    np.testing.assert_array_equal(both[16:16 + len(shipped)], shipped)
    assert not np.array_equal(both[-len(shipped):], shipped)  # your generator's face of 5
    grid, seeds = gan.grid(lab, 10, 4, token)
    assert seeds == "10, 11, 12, 13"
    assert pixels(grid).shape[0] > pixels(gan.grid(lab, 10, 4)[0]).shape[0] * 2
    upload = tmp_path / "face.png"
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(upload)
    _, verdict = gan.judge(lab, str(upload), token)
    assert "The discriminator says" in verdict and f"The discriminator of {OWN_TITLE}" in verdict
    assert OWN_TITLE not in gan.judge(lab, str(upload))[1]


def test_face_uploads_name_the_family_they_hold(lab: LabContext,
                                                face_files: dict[str, str],
                                                files: dict[str, str]) -> None:
    with pytest.raises(gr.Error, match="hold a gan model's generator, discriminator, not a vae "
                                       "model"):
        user_errors(upload_vae)(lab, [face_files["G"], face_files["D"]])
    with pytest.raises(gr.Error, match="hold a vae model's encoder, decoder, not a gan model"):
        user_errors(upload_gan)(lab, [face_files["vae"]])
    with pytest.raises(gr.Error, match="no discriminator in G.pth"):
        user_errors(upload_gan)(lab, [face_files["G"]])
    with pytest.raises(gr.Error, match="not a plain state_dict"):
        user_errors(upload_gan)(lab, [files["evil"]])
    token, _ = upload_digits(lab, TASK, [files["extractor"], files["predictor"]])
    np.testing.assert_array_equal(vae.random_faces(lab, 1, 2, token),
                                  vae.random_faces(lab, 1, 2))  # a digit model: no face model
