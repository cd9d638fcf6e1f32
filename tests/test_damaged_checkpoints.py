"""Tampered or broken checkpoints in a running lab: wrong shapes, a truncated file, a manifest
naming a file that is gone. The affected tab or method answers with a message naming the file
and the problem; the rest of the lab keeps working."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gradio as gr
import pytest
import torch

from hw3lab.checkpoints import save_checkpoint
from hw3lab.devtools.random_checkpoints import TASK
from hw3lab.lab import LabContext, digits, gan, tsne, vae
from hw3lab.methods import METHODS, digit_checkpoint
from hw3lab.models import Decoder, Encoder
from hw3lab.ui.widgets import user_errors
from tests.fixtures_ui import pixels

TASK_NAME = "->".join(TASK)


@pytest.fixture
def damage(lab_checkpoints: Path, tmp_path: Path) -> Path:
    """A copy of the session's random checkpoints, for one test to damage."""
    return Path(shutil.copytree(lab_checkpoints, tmp_path / "checkpoints"))


def lab_on(directory: Path) -> LabContext:
    return LabContext(directory, directory / "no-data")


def serves_faces_and_digits(ctx: LabContext, faces: tuple[str, ...] = ("vae", "gan")) -> None:
    """The parts of the lab a broken checkpoint must not take down still answer."""
    if "vae" in faces:
        assert vae.random_faces(ctx, 0, 4).ndim == 3
    if "gan" in faces:
        assert pixels(gan.face(ctx, 0)).ndim == 3
    _, _, table = digits.classify_example(ctx, TASK_NAME, 0)
    assert table[0][1].endswith("%)")  # source-only still classifies


def test_wrong_shapes_name_the_file_and_the_keys(damage: Path) -> None:
    ctx = lab_on(damage)
    torch.manual_seed(0)  # a wider VAE under the small one's metadata: every conv mis-shaped
    save_checkpoint(damage / "vae.safetensors", {"encoder": Encoder(0.25),
                                                   "decoder": Decoder(0.25)},
                    {"family": "vae", "width": 0.125})
    for call in (lambda: vae.random_faces(ctx, 0, 4),
                 lambda: vae.decode_sliders(ctx, None, *[0.0] * vae.SLIDER_COUNT),
                 lambda: vae.start_face(ctx, "random", 1, None)):
        with pytest.raises(gr.Error, match=r"vae\.safetensors \[encoder\] does not fit Encoder: "
                                           r"wrong shapes .* != "):
            user_errors(call)()
    serves_faces_and_digits(ctx, faces=("gan",))
    plot, _ = tsne.run_tsne(ctx, f"{TASK_NAME} dann", 60, 10, "class")
    assert len(plot["data"]["values"]) == 60


def test_truncated_file_is_reported_as_damaged(damage: Path) -> None:
    ctx = lab_on(damage)
    weights = damage / "gan.safetensors"
    weights.write_bytes(weights.read_bytes()[:weights.stat().st_size // 2])
    with pytest.raises(gr.Error, match=r"gan\.safetensors is damaged or not a safetensors"):
        user_errors(gan.face)(ctx, 1)
    with pytest.raises(gr.Error, match="damaged"):
        user_errors(gan.grid)(ctx, 0, 4)
    serves_faces_and_digits(ctx, faces=("vae",))


def test_one_damaged_digit_method_leaves_the_others_answering(damage: Path) -> None:
    ctx = lab_on(damage)
    weights = digit_checkpoint(damage, *TASK, "dann")
    weights.write_bytes(b"\x00" * 100)
    seen, chart, table = digits.classify_example(ctx, TASK_NAME, 0)
    source_only, dann = table[0][1], table[0][2]
    assert source_only.endswith("%)") and dann.startswith("damaged checkpoint: ")
    assert "usps-mnistm-dann.safetensors is damaged" in dann
    assert seen.ndim == chart.ndim == 3
    columns = digits.feature_tsne(ctx, TASK_NAME, 50)["hconcat"]
    assert len(columns) == len(METHODS) and columns[1]["mark"]["type"] == "text"  # DANN
    assert columns[1]["data"]["values"][0]["text"] == "damaged checkpoint"
    with pytest.raises(gr.Error, match="damaged"):
        user_errors(tsne.run_tsne)(ctx, f"{TASK_NAME} dann", 60, 10, "class")
    serves_faces_and_digits(ctx)


def test_manifest_naming_a_missing_file(damage: Path) -> None:
    ctx = lab_on(damage)
    manifest = json.loads((damage / "manifest.json").read_text())
    assert manifest["checkpoints"]["digits/usps-mnistm-dann"]["file"]
    weights = digit_checkpoint(damage, *TASK, "dann")
    weights.unlink()
    weights.with_suffix(".json").unlink()
    rows = {(row[0], row[1]): row for row in digits.accuracy_table(ctx)}
    assert rows[TASK_NAME, "DANN"][-1] == "manifest, but the checkpoint file is missing"
    assert rows[TASK_NAME, "Source only"][-1] == "manifest"
    _, _, table = digits.classify_example(ctx, TASK_NAME, 0)
    assert table[0][2] == "no checkpoint" and table[0][1].endswith("%)")
    with pytest.raises(gr.Error, match="No dann checkpoint for usps-mnistm .*python -m "
                                       "train.dann"):
        user_errors(digits.batch_csv)(ctx, TASK_NAME, "dann", [str(damage / "x.png")])
    serves_faces_and_digits(ctx)


def test_damaged_manifest_is_named(damage: Path) -> None:
    ctx = lab_on(damage)
    (damage / "manifest.json").write_text("{not json")
    with pytest.raises(gr.Error, match=r"manifest\.json is not valid JSON"):
        user_errors(digits.accuracy_table)(ctx)
    serves_faces_and_digits(ctx)
