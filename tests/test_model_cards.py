"""The Models tab's operations: a card per manifest model, its per-epoch curves from the
history its JSON keeps, and a note where it keeps none."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import pytest

from hw3lab.checkpoints import metadata_path, read_metadata, record_in_manifest, write_json
from hw3lab.devtools.random_checkpoints import make_checkpoints
from hw3lab.lab import LabContext
from hw3lab.lab.models import CARD_HEADERS, curves, model_card, model_cards, model_names
from hw3lab.methods import METHODS, digit_checkpoint, digit_key
from hw3lab.ui.widgets import user_errors

HISTORY = [{"run": "x", "epoch": e, "epochs": 3, "label_loss": 1 / e, "domain_loss": 0.7,
            "val_accuracy": 0.5 + e / 10, "seconds": 2.0, "stopped_early": False}
           for e in (1, 2, 3)]


@pytest.fixture(scope="module")
def carded(tmp_path_factory: pytest.TempPathFactory) -> LabContext:
    """Random checkpoints whose DANN keeps a history and a command with --threads."""
    directory = make_checkpoints(tmp_path_factory.mktemp("cards"), faces=False)
    path = digit_checkpoint(directory, "usps", "mnistm", "dann")
    write_json(metadata_path(path), {**read_metadata(path), "history": HISTORY, "seed": 0,
                                     "command": "python -m train.dann --threads 1",
                                     "training_seconds": 495.0, "epochs_run": 3,
                                     "epochs_planned": 3})
    record_in_manifest(directory, "digits/usps-mnistm-dann", path)
    return LabContext(directory, directory / "no-data")


def test_every_manifest_model_has_a_card(carded: LabContext) -> None:
    rows = {row[0]: row for row in model_cards(carded)}
    assert set(rows) == {digit_key("usps", "mnistm", m) for m in METHODS}
    dann = dict(zip(CARD_HEADERS, rows["digits/usps-mnistm-dann"], strict=True))
    assert dann["metrics"] == "source test accuracy 90.00%; target test accuracy 50.00%"
    assert (dann["seed"], dann["training time"], dann["threads"], dann["epochs"]) == (
        "0", "495 s", "1", "3/3")
    card = model_card(carded, "digits/usps-mnistm-dann")
    assert card.startswith("### digits/usps-mnistm-dann (DANN)")
    assert "`python -m train.dann --threads 1`" in card and "target test accuracy 50.00%" in card
    assert "**Predictor from:** digits/usps-mnistm-source_only.safetensors" in model_card(
        carded, "digits/usps-mnistm-adda")


def test_curves_come_from_the_history(carded: LabContext) -> None:
    loss, accuracy, note = curves(carded, "digits/usps-mnistm-dann")
    assert sorted(set(loss["metric"])) == ["domain_loss", "label_loss"]
    assert loss[loss["metric"] == "label_loss"]["value"].round(3).tolist() == [1, 0.5, 0.333]
    assert accuracy["epoch"].tolist() == [1, 2, 3] and note == "3 epochs recorded."
    loss, accuracy, note = curves(carded, "digits/usps-mnistm-adda")
    assert loss.empty and accuracy.empty and "keeps no per-epoch history" in note


def test_a_name_not_in_the_manifest_is_refused(carded: LabContext) -> None:
    assert model_names(carded)[0].startswith("digits/")
    for bad in ("digits/nope", None, ["x"]):
        with pytest.raises(gr.Error, match="the model must be one of"):
            user_errors(curves)(carded, bad)


def test_the_shipped_manifest_has_a_card_for_every_model() -> None:
    shipped = LabContext(Path(__file__).resolve().parent.parent / "checkpoints", None)
    rows = model_cards(shipped)
    assert len(rows) >= 13 and all(row[2] != "-" for row in rows)
    dann = next(row for row in rows if row[0] == "digits/usps-mnistm-dann")
    record = json.loads((shipped.checkpoints / "digits" / "usps-mnistm-dann.json").read_text())
    seconds = f"{record['training_seconds']:.0f} s"
    assert dann[3:6] == ["0", seconds, "1"]  # seed, time, threads (from its command)
