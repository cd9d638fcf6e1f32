"""Every training CLI: --help, a --dry-run into a temporary folder, and --resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hw3lab.checkpoints import read_manifest
from hw3lab.inference import ModelStore
from hw3lab.training.cli import supervised_main
from tests.fixtures_training import TINY_WIDTH, tiny_data  # noqa: F401 - fixture
from train import adda, dann, gan, vae

MAINS = {
    "source_only": lambda argv: supervised_main("source_only", argv),
    "target_only": lambda argv: supervised_main("target_only", argv),
    "dann": dann.main, "adda": adda.main, "vae": vae.main, "gan": gan.main,
}


def lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("name", MAINS)
def test_help(name: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stop:
        MAINS[name](["--help"])
    assert stop.value.code == 0
    help_text = capsys.readouterr().out
    for option in ("--data", "--out", "--seed", "--device", "--epochs", "--time-budget",
                   "--resume", "--dry-run"):
        assert option in help_text


def _common(tmp_path: Path, data: Path) -> list[str]:
    return ["--data", str(data), "--out", str(tmp_path / "ckpt"), "--state-dir",
            str(tmp_path / "runs"), "--device", "cpu", "--no-progress", "--dry-run"]


def test_dry_run_of_every_digit_cli(tmp_path: Path, tiny_data: Path,  # noqa: F811
                                    capsys: pytest.CaptureFixture) -> None:
    argv = [*_common(tmp_path, tiny_data), "--source", "svhn", "--target", "usps", "--augment"]
    for name in ("source_only", "target_only", "dann", "adda"):
        MAINS[name](argv)
        result = lines(capsys.readouterr().out)[-1]
        assert result["method"] == name and 0 <= result["target_test_accuracy"] <= 1
    store = ModelStore(tmp_path / "ckpt", "cpu")
    for name in ("source_only", "target_only", "dann", "adda"):
        model = store.digits("svhn", "usps", name)
        assert model.grey and model.metadata["metrics"]["target_test_accuracy"] >= 0
    adda_meta = store.digits("svhn", "usps", "adda").metadata
    assert adda_meta["predictor_from"] == "digits/svhn-usps-source_only.safetensors"
    assert store.digits("svhn", "usps", "dann").metadata["adabn"] is True
    assert all(store.digits("svhn", "usps", m).metadata["recipe"]["augment"]
               for m in ("source_only", "dann", "adda"))
    entries = read_manifest(tmp_path / "ckpt")["checkpoints"]
    assert {f"digits/svhn-usps-{m}" for m in MAINS if m not in ("vae", "gan")} <= set(entries)
    assert entries["digits/svhn-usps-dann"]["seed"] == 0


def test_adda_reuses_an_existing_source_only_checkpoint(tmp_path: Path, tiny_data: Path,  # noqa: F811
                                                        capsys: pytest.CaptureFixture) -> None:
    argv = [*_common(tmp_path, tiny_data), "--source", "usps", "--target", "mnistm"]
    supervised_main("source_only", argv)
    source_only = tmp_path / "ckpt" / "digits" / "usps-mnistm-source_only.safetensors"
    before = source_only.read_bytes()
    capsys.readouterr()
    adda.main(argv)
    out = capsys.readouterr().out
    assert "usps-mnistm-source_only-seed0" not in out  # no pretraining run
    assert source_only.read_bytes() == before


def test_class_weighted_adda_prints_its_weights_and_records_them(
        tmp_path: Path, tiny_data: Path, capsys: pytest.CaptureFixture) -> None:  # noqa: F811
    adda.main([*_common(tmp_path, tiny_data), "--source", "usps", "--target", "mnistm",
               "--class-weighted"])
    out = lines(capsys.readouterr().out)
    weights = next(entry["class_weights"] for entry in out if "class_weights" in entry)
    assert len(weights) == 10 and all(0.1 <= w <= 10 for w in weights)
    model = ModelStore(tmp_path / "ckpt", "cpu").digits("usps", "mnistm", "adda")
    assert model.metadata["recipe"]["class_weighted"] is True


@pytest.mark.parametrize("name", ["vae", "gan"])
def test_dry_run_of_the_face_clis(name: str, tmp_path: Path, tiny_data: Path,  # noqa: F811
                                  capsys: pytest.CaptureFixture) -> None:
    MAINS[name]([*_common(tmp_path, tiny_data), "--width", str(TINY_WIDTH)])
    assert lines(capsys.readouterr().out)[-1]["epoch"] == 1
    store = ModelStore(tmp_path / "ckpt", "cpu")
    assert (store.vae() if name == "vae" else store.gan())[2]["width"] == TINY_WIDTH


def test_resume_after_an_interruption(tmp_path: Path, tiny_data: Path,  # noqa: F811
                                      capsys: pytest.CaptureFixture) -> None:
    argv = ["--data", str(tiny_data), "--out", str(tmp_path / "ckpt"), "--state-dir",
            str(tmp_path / "runs"), "--device", "cpu", "--no-progress", "--source", "usps",
            "--target", "mnistm"]
    dann.main([*argv, "--epochs", "3", "--time-budget", "0"])  # stops after one epoch
    first = lines(capsys.readouterr().out)
    assert [m["epoch"] for m in first if "epoch" in m] == [1] and first[0]["stopped_early"]
    dann.main([*argv, "--epochs", "3", "--resume"])
    resumed = lines(capsys.readouterr().out)
    assert resumed[0] == {"run": "usps-mnistm-dann-seed0", "resumed_at_epoch": 1}
    assert [m["epoch"] for m in resumed if "epoch" in m] == [2, 3]
    log = (tmp_path / "runs" / "usps-mnistm-dann-seed0.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in log] == [1, 2, 3]
