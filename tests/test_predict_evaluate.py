"""hw3lab.predict and hw3lab.evaluate, the homework-compatible command lines."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hw3lab import evaluate, predict


def _images(tiny_data: Path, tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "images"
    shutil.copytree(tiny_data / "digits" / "usps" / "test", folder)
    gt = tmp_path / "gt.csv"
    shutil.copy(tiny_data / "digits" / "usps" / "test.csv", gt)
    return folder, gt


def test_predict_then_evaluate_round_trip(tmp_path: Path, tiny_data: Path,
                                          random_checkpoints: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    folder, gt = _images(tiny_data, tmp_path)
    (folder / "notes.txt").write_text("not an image, ignored")
    out = tmp_path / "pred.csv"
    code = predict.main(["--target", "usps", "--images", str(folder), "--out", str(out),
                         "--checkpoints", str(random_checkpoints), "--device", "cpu"])
    assert code == 0
    rows = out.read_text().splitlines()
    assert rows[0] == "image_name,label"
    names = [row.split(",")[0] for row in rows[1:]]
    assert names == sorted(p.name for p in folder.glob("*.png"))
    assert evaluate.main([str(out), str(gt)]) == 0
    printed = capsys.readouterr().out
    predicted = evaluate.read_labels(out)
    truth = evaluate.read_labels(gt)
    expected = np.mean([predicted[n] == truth[n] for n in truth])
    assert f"Accuracy: {expected:.4f}" in printed
    assert evaluate.evaluate_files(gt, gt) == 1.0


def test_predict_names_an_unreadable_file(tmp_path: Path, tiny_data: Path,
                                          random_checkpoints: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    folder, _ = _images(tiny_data, tmp_path)
    (folder / "broken.png").write_bytes(b"not a png")
    Image.new("RGBA", (40, 30), (0, 0, 0, 0)).save(folder / "odd.png")  # odd but usable
    out = tmp_path / "pred.csv"
    code = predict.main(["--target", "usps", "--images", str(folder), "--out", str(out),
                         "--checkpoints", str(random_checkpoints), "--device", "cpu"])
    assert code == 2 and not out.exists()
    error = capsys.readouterr().err
    assert "broken.png" in error and "not a readable image" in error and "odd.png" not in error


def test_predict_explains_a_missing_checkpoint(tmp_path: Path, tiny_data: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    folder, _ = _images(tiny_data, tmp_path)
    code = predict.main(["--target", "usps", "--images", str(folder), "--out",
                         str(tmp_path / "p.csv"), "--checkpoints", str(tmp_path / "none")])
    assert code == 2 and "missing" in capsys.readouterr().err


@pytest.mark.parametrize(("prediction", "message"), [
    ("image_name,label\na.png,1\n", "have no prediction (b.png)"),
    ("image_name,label\na.png,1\nb.png,2\nc.png,3\n", "not in"),
    ("image_name,label\na.png,1\na.png,1\nb.png,2\n", "listed twice"),
    ("name,label\na.png,1\nb.png,2\n", "first line"),
    ("image_name,label\na.png,one\nb.png,2\n", "not an integer"),
])
def test_evaluate_refuses_mismatched_files(tmp_path: Path, prediction: str, message: str,
                                           capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "gt.csv").write_text("image_name,label\na.png,1\nb.png,2\n")
    (tmp_path / "pred.csv").write_text(prediction)
    assert evaluate.main([str(tmp_path / "pred.csv"), str(tmp_path / "gt.csv")]) == 2
    assert message in capsys.readouterr().err
