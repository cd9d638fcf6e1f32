"""Every command line answers a user's mistake (missing or malformed data, a bad argument, a
missing checkpoint) with one ``error: ...`` line on stderr and exit status 2, never a
traceback: the ``train.*`` CLIs, ``hw3lab.predict``, ``evaluate``, ``figures`` and ``app.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from hw3lab import evaluate, figures, predict
from hw3lab.analysis import latents
from hw3lab.ui import app
from train import adda, attributes, dann, gan, source_only, target_only, vae

ROOT = Path(__file__).resolve().parent.parent
TRAINING = {"source_only": source_only.main, "target_only": target_only.main,
            "dann": dann.main, "adda": adda.main, "vae": vae.main, "gan": gan.main,
            "attributes": attributes.main}
DIGIT_CLIS = ("source_only", "target_only", "dann", "adda")


def one_error_line(capsys: pytest.CaptureFixture, *fragments: str) -> str:
    """The command line's stderr, checked to be one ``error:`` line holding ``fragments``."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and all(f in lines[0] for f in fragments), err
    return lines[0]


def refused(main: Callable[[list[str]], int], argv: list[str]) -> int:
    """The exit status of ``main(argv)``, whether it returns it or argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code)


@pytest.fixture(autouse=True)
def _keep_torch_threads() -> None:
    """The training CLIs set the process's thread count; give the tests theirs back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", TRAINING)
def test_training_without_data(name: str, tmp_path: Path,
                               capsys: pytest.CaptureFixture) -> None:
    argv = ["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"),
            "--state-dir", str(tmp_path / "runs"), "--device", "cpu", "--threads", "1"]
    if name in DIGIT_CLIS:
        argv += ["--task", "all"]
    assert refused(TRAINING[name], argv) == 2
    one_error_line(capsys, "nowhere does not exist", "--data")


@pytest.mark.parametrize("name", TRAINING)
def test_training_with_a_bad_argument(name: str, capsys: pytest.CaptureFixture) -> None:
    assert refused(TRAINING[name], ["--epochs", "many"]) == 2
    one_error_line(capsys, "--epochs", "invalid int value")


def test_gan_decay_must_start_before_the_last_epoch(capsys: pytest.CaptureFixture) -> None:
    assert refused(gan.main, ["--epochs", "5", "--decay-from", "5"]) == 2
    one_error_line(capsys, "--decay-from must be 0 (no decay) or an epoch below --epochs (5)")


def test_training_with_malformed_data(tmp_path: Path,
                                      capsys: pytest.CaptureFixture) -> None:
    broken = tmp_path / "hw3_data"
    (broken / "digits" / "usps" / "train").mkdir(parents=True)
    (broken / "digits" / "usps" / "train.csv").write_text("name,label\n")
    assert refused(dann.main, ["--data", str(broken), "--source", "usps", "--target", "mnistm",
                               "--device", "cpu", "--threads", "1",
                               "--out", str(tmp_path / "out")]) == 2
    one_error_line(capsys, "train.csv", "header")
    assert refused(dann.main, ["--source", "usps", "--target", "usps"]) == 2
    one_error_line(capsys, "must differ")


def test_training_on_a_device_that_is_not_there(capsys: pytest.CaptureFixture) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    assert refused(vae.main, ["--device", "cuda", "--threads", "1"]) == 2
    one_error_line(capsys, "no CUDA GPU")


def test_predict(tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    images = tiny_data / "digits" / "usps" / "test"
    out = str(tmp_path / "p.csv")
    assert refused(predict.main, ["--target", "usps", "--images", str(images), "--out", out,
                                  "--checkpoints", str(tmp_path / "none")]) == 2
    one_error_line(capsys, "missing")
    assert refused(predict.main, ["--target", "usps", "--images", str(tmp_path / "none"),
                                  "--out", out]) == 2
    one_error_line(capsys, "is not a folder")
    assert refused(predict.main, ["--target", "mars", "--images", str(images),
                                  "--out", out]) == 2
    one_error_line(capsys, "--target", "invalid choice")


def test_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "gt.csv").write_text("image_name,label\na.png,1\n")
    assert refused(evaluate.main, [str(tmp_path / "gone.csv"), str(tmp_path / "gt.csv")]) == 2
    one_error_line(capsys, "gone.csv", "cannot read")
    assert refused(evaluate.main, [str(tmp_path / "gt.csv")]) == 2
    one_error_line(capsys, "required")


def test_figures(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert refused(figures.main, ["--out", str(tmp_path / "figs"), "--checkpoints",
                                  str(tmp_path / "none"), "--data", str(tmp_path / "none")]) == 2
    one_error_line(capsys, "no figure could be made", "missing")
    assert refused(figures.main, ["--out", str(tmp_path), "--attribute", "Tall"]) == 2
    one_error_line(capsys, "--attribute")


def test_the_latents_command(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert refused(latents.main, ["--checkpoints", str(tmp_path), "--data",
                                  str(tmp_path / "none")]) == 2
    one_error_line(capsys, "does not exist")


def test_app_with_a_bad_argument(capsys: pytest.CaptureFixture) -> None:
    assert refused(app.main, ["--auth", "nopassword"]) == 2
    one_error_line(capsys, "USER:PASS")
    assert refused(app.main, ["--port", "http"]) == 2
    one_error_line(capsys, "--port")


@pytest.mark.slow
@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "train.dann", "--task", "all", "--threads", "1"],
    [sys.executable, "app.py", "--device", "cuda:0"],
], ids=["train.dann --task all", "app.py --device cuda"])
def test_as_a_user_runs_them(command: list[str], tmp_path: Path) -> None:
    """The issue's own examples, as processes: without data, and on a GPU that is not there."""
    if "app.py" in command and torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HW3_DATA": str(tmp_path / "nowhere"),
                               "HW3LAB_THREADS": "1"})
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1, \
        done.stderr
