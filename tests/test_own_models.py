"""A student's own model uploaded in the lab: it appears as 'your model' beside the shipped
methods (probabilities, t-SNE, accuracy with data), only in the session that uploaded it, and
memory stays bounded; bad files get the command line's messages."""

from __future__ import annotations

import pickle
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch

from hw3lab import limits
from hw3lab.lab import LabContext, digits
from hw3lab.lab.context import OwnModels, SessionModel
from hw3lab.lab.inputs import batch_files
from hw3lab.lab.own_models import OWN_TITLE, own_digits, upload_digits, upload_model
from hw3lab.methods import METHODS
from hw3lab.ui.widgets import user_errors
from tests import homework_reference as homework
from tests.random_checkpoints import make_checkpoints
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
    tsne = digits.feature_tsne(fresh_lab, TASK, 50, token)
    assert tsne.shape == (600, 300 * (len(METHODS) + 1), 3)  # a last column: your model
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
