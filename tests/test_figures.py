"""hw3lab.figures on tiny random-initialised checkpoints and generated data."""

from __future__ import annotations

from pathlib import Path

import pytest

from hw3lab import figures
from hw3lab.devtools.random_checkpoints import TINY_WIDTH, make_checkpoints
from hw3lab.methods import METHODS, TASKS, task_name

FACE_FIGURES = {"vae_random.png", "gan_random.png", "vae_reconstruction.png", "vae_tsne.png",
                "gan_attribute_strips.png"}
pytestmark = pytest.mark.slow  # a t-SNE per figure

DIGIT_FIGURES = {f"tsne_{task_name(*task)}_{m}.png" for task in TASKS for m in METHODS}


def test_every_figure_from_the_checkpoints(tmp_path: Path, tiny_data: Path,
                                           random_checkpoints: Path) -> None:
    written, skipped = figures.make_figures(tmp_path / "figs", random_checkpoints, tiny_data,
                                            digit_count=8, device="cpu")
    assert skipped == []
    assert {p.name for p in written} == FACE_FIGURES | DIGIT_FIGURES
    assert all(p.stat().st_size > 1000 for p in written)


def test_missing_face_checkpoints_are_reported_and_digits_still_drawn(
        tmp_path: Path, tiny_data: Path, capsys: pytest.CaptureFixture) -> None:
    checkpoints = make_checkpoints(tmp_path / "ckpt", faces=False, width=TINY_WIDTH, tasks=TASKS)
    code = figures.main(["--out", str(tmp_path / "figs"), "--checkpoints", str(checkpoints),
                         "--data", str(tiny_data), "--digit-count", "8", "--device", "cpu"])
    assert code == 0
    assert {p.name for p in (tmp_path / "figs").iterdir()} == DIGIT_FIGURES
    err = capsys.readouterr().err
    assert "skipped VAE random faces" in err and "vae.json" in err
    assert "skipped GAN random faces" in err
