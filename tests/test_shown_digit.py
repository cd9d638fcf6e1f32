"""The domain-adaptation tab's re-classification (hw3lab/lab/shown_digit.py): when a session's
own model arrives, the input its predictions show is classified again, with the model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from hw3lab.devtools.random_checkpoints import make_checkpoints
from hw3lab.lab import LabContext, digits
from hw3lab.lab.own_models import upload_digits
from hw3lab.lab.shown_digit import INPUT_KINDS, classify_shown_again
from tests.fixtures_ui import png_bytes
from tests.test_import_pth import homework_digits

TASK = "usps->mnistm"


@pytest.fixture(scope="module")
def lab_and_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[LabContext, str]:
    """A fresh lab over random checkpoints, and a session's uploaded homework digit model."""
    folder = tmp_path_factory.mktemp("shown")
    checkpoints = make_checkpoints(folder / "checkpoints", faces=False)
    ctx = LabContext(checkpoints, folder / "no-data")
    extractor, predictor = homework_digits()
    torch.save(extractor, folder / "extractor.pth")
    torch.save(predictor, folder / "predictor.pth")
    token, _ = upload_digits(ctx, TASK, [str(folder / "extractor.pth"),
                                         str(folder / "predictor.pth")])
    return ctx, token


def your_column(table: list[list[str]]) -> list[str]:
    return [row[-1] for row in table]


def test_nothing_shown_is_nothing_to_classify(lab_and_model: tuple[LabContext, str]) -> None:
    ctx, token = lab_and_model
    assert classify_shown_again(ctx, None, TASK, None, None, 0, token) is None
    assert classify_shown_again(ctx, "webcam", TASK, None, None, 0, token) is None


def test_the_shown_example_is_classified_again_with_the_model(
        lab_and_model: tuple[LabContext, str]) -> None:
    ctx, token = lab_and_model
    _, _, before = digits.classify_example(ctx, TASK, 3)  # shown before the model arrived
    assert your_column(before) == ["-"]
    again = classify_shown_again(ctx, "example", TASK, None, None, 3, token)
    assert again is not None
    _, _, table = again
    assert your_column(table) != ["-"] and table[0][:-1] == before[0][:-1]


def test_the_shown_upload_is_classified_again(lab_and_model: tuple[LabContext, str],
                                              tmp_path: Path) -> None:
    ctx, token = lab_and_model
    digit = tmp_path / "seven.png"
    digit.write_bytes(png_bytes(Image.new("L", (28, 28), 200)))
    again = classify_shown_again(ctx, "upload", TASK, None, [str(digit)], 0, token)
    assert again is not None and your_column(again[2]) != ["-"]


def test_an_input_that_cannot_be_classified_keeps_what_is_shown(
        lab_and_model: tuple[LabContext, str]) -> None:
    ctx, token = lab_and_model
    assert set(INPUT_KINDS) == {"sketch", "upload", "example"}
    # no files, no sketch: the message was shown when it was first classified
    assert classify_shown_again(ctx, "upload", TASK, None, None, 0, token) is None
    assert classify_shown_again(ctx, "sketch", TASK, None, None, 0, token) is None
