"""Every training CLI: --help, the options each recipe's dataclass gives it, a --dry-run into
a temporary folder, and --resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hw3lab.checkpoints import read_manifest
from hw3lab.devtools.random_checkpoints import TINY_WIDTH
from hw3lab.inference import ModelStore
from hw3lab.methods import METHODS
from hw3lab.training.adda import AddaConfig
from hw3lab.training.arguments import add_config, config_from, training_parser
from hw3lab.training.dann import DannConfig
from hw3lab.training.digits import for_task
from hw3lab.training.gan import GanConfig
from tests.conftest import REPO
from train import adda, attributes, dann, gan, mean_teacher, source_only, target_only, vae

MAINS = {"source_only": source_only.main, "target_only": target_only.main, "dann": dann.main,
         "adda": adda.main, "mean_teacher": mean_teacher.main, "vae": vae.main, "gan": gan.main,
         "attributes": attributes.main}


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


def test_every_registered_method_is_trained_by_its_cli() -> None:
    for name, method in METHODS.items():
        assert method.trains == f"python -m train.{name}" and name in MAINS


def test_options_come_from_the_recipe_dataclass() -> None:
    parser = training_parser("test")
    add_config(parser, DannConfig, {}, per_task=("batch_size", "grey"))
    defaults = config_from(DannConfig, parser.parse_args([]))
    assert defaults.batch_size is None and defaults.grey is None  # decided per task
    assert defaults.gamma == DannConfig.gamma and defaults.anneal_lr is True
    chosen = config_from(DannConfig, parser.parse_args(["--max-lambda", "0.3", "--no-anneal-lr",
                                                        "--augment", "--batch-size", "32"]))
    assert (chosen.max_lambda, chosen.anneal_lr, chosen.augment) == (0.3, False, True)
    assert for_task(chosen, "svhn", "usps").batch_size == 32


def test_per_task_settings_follow_the_homework() -> None:
    config = for_task(AddaConfig(batch_size=None, grey=None), "mnistm", "svhn",
                      {"mnistm-svhn": 1e-3})
    assert (config.batch_size, config.grey, config.lr) == (256, True, 1e-3)
    assert for_task(DannConfig(batch_size=None, grey=None), "usps", "mnistm").batch_size == 64
    assert for_task(AddaConfig(lr=5e-5), "mnistm", "svhn", {"mnistm-svhn": 1e-3}).lr == 5e-5


def test_gan_options_only_override_the_chosen_recipe() -> None:
    parser = training_parser("test")
    add_config(parser, GanConfig, {}, overrides_only=True)
    args = parser.parse_args(["--ema", "0"])
    assert args.lr is None and args.ema == 0.0


def _common(tmp_path: Path, data: Path) -> list[str]:
    return ["--data", str(data), "--out", str(tmp_path / "ckpt"), "--state-dir",
            str(tmp_path / "runs"), "--device", "cpu", "--no-progress", "--dry-run"]


@pytest.mark.slow
def test_dry_run_of_every_digit_cli(tmp_path: Path, tiny_data: Path,
                                    capsys: pytest.CaptureFixture) -> None:
    argv = [*_common(tmp_path, tiny_data), "--source", "svhn", "--target", "usps", "--augment"]
    for name in METHODS:  # the registry's order: source-only before what starts from it
        MAINS[name](argv)
        printed = capsys.readouterr()
        result = lines(printed.out)[-1]
        assert result["method"] == name and 0 <= result["target_test_accuracy"] <= 1
        # a mean teacher from a start without --standardize is not the shipped recipe: it says so
        assert ("--standardize" in printed.err) == (name == "mean_teacher")
    store = ModelStore(tmp_path / "ckpt", "cpu")
    for name in METHODS:
        model = store.digits("svhn", "usps", name)
        assert model.grey and model.metadata["metrics"]["target_test_accuracy"] >= 0
        history = model.metadata["history"]  # per-epoch metrics, for the Models tab's curves
        assert history and history[0]["epoch"] == 1 and len(history[0]) > 1
    adda_meta = store.digits("svhn", "usps", "adda").metadata
    assert adda_meta["predictor_from"] == "digits/svhn-usps-source_only.safetensors"
    assert store.digits("svhn", "usps", "dann").metadata["adabn"] is True
    teacher = store.digits("svhn", "usps", "mean_teacher").metadata
    assert teacher["started_from"] == "digits/svhn-usps-source_only.safetensors"
    start = store.digits("svhn", "usps", "source_only").metadata
    assert teacher["started_from_command"] == start["command"]
    assert teacher["history"][0]["confident"] >= 0
    assert all(store.digits("svhn", "usps", m).metadata["recipe"]["augment"]
               for m in ("source_only", "dann", "adda"))
    entries = read_manifest(tmp_path / "ckpt")["checkpoints"]
    assert {f"digits/svhn-usps-{m}" for m in METHODS} <= set(entries)
    assert entries["digits/svhn-usps-dann"]["seed"] == 0


@pytest.mark.slow
def test_adda_reuses_an_existing_source_only_checkpoint(tmp_path: Path, tiny_data: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    argv = [*_common(tmp_path, tiny_data), "--source", "usps", "--target", "mnistm"]
    source_only.main(argv)
    checkpoint = tmp_path / "ckpt" / "digits" / "usps-mnistm-source_only.safetensors"
    before = checkpoint.read_bytes()
    capsys.readouterr()
    adda.main(argv)
    out = capsys.readouterr().out
    assert "usps-mnistm-source_only-seed0" not in out  # no pretraining run
    assert checkpoint.read_bytes() == before


def test_mean_teacher_asks_for_its_source_only_model_first(tmp_path: Path, tiny_data: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    argv = [a for a in _common(tmp_path, tiny_data) if a != "--dry-run"]
    status = mean_teacher.main([*argv, "--source", "usps", "--target", "mnistm"])
    assert status == 2
    message = capsys.readouterr().err
    assert "python -m train.source_only --source usps --target mnistm" in message
    assert "Traceback" not in message


@pytest.mark.slow
def test_a_mean_teacher_dry_run_runs_without_a_source_only_model(
        tmp_path: Path, tiny_data: Path, capsys: pytest.CaptureFixture) -> None:
    status = mean_teacher.main([*_common(tmp_path, tiny_data), "--source", "usps", "--target",
                                "mnistm"])
    assert not status
    results = [line["method"] for line in lines(capsys.readouterr().out) if "method" in line]
    assert results == ["source_only", "mean_teacher"]  # a one-epoch source-only model first
    store = ModelStore(tmp_path / "ckpt", "cpu")
    assert store.digits("usps", "mnistm", "source_only").metadata["dry_run"] is True


@pytest.mark.slow
def test_class_weighted_adda_prints_its_weights_and_records_them(
        tmp_path: Path, tiny_data: Path, capsys: pytest.CaptureFixture) -> None:
    adda.main([*_common(tmp_path, tiny_data), "--source", "usps", "--target", "mnistm",
               "--class-weighted"])
    out = lines(capsys.readouterr().out)
    weights = next(entry["class_weights"] for entry in out if "class_weights" in entry)
    assert len(weights) == 10 and all(0.1 <= w <= 10 for w in weights)
    model = ModelStore(tmp_path / "ckpt", "cpu").digits("usps", "mnistm", "adda")
    assert model.metadata["recipe"]["class_weighted"] is True


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vae", "gan"])
def test_dry_run_of_the_face_clis(name: str, tmp_path: Path, tiny_data: Path,
                                  capsys: pytest.CaptureFixture) -> None:
    MAINS[name]([*_common(tmp_path, tiny_data), "--width", str(TINY_WIDTH)])
    assert lines(capsys.readouterr().out)[-1]["epoch"] == 1
    store = ModelStore(tmp_path / "ckpt", "cpu")
    assert (store.vae() if name == "vae" else store.gan())[2]["width"] == TINY_WIDTH


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vae", "gan"])
def test_the_default_recipe_is_the_shipped_one(name: str, tmp_path: Path, tiny_data: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    """``python -m train.X`` with no recipe option trains what ships: its dry run's recipe is
    the shipped file's, but for the length of the run and how often it snapshots."""
    MAINS[name]([*_common(tmp_path, tiny_data), "--width", str(TINY_WIDTH)])
    capsys.readouterr()
    trained = json.loads((tmp_path / "ckpt" / f"{name}.json").read_text())["recipe"]
    shipped = json.loads((REPO / "checkpoints" / f"{name}.json").read_text())["recipe"]
    length = {"epochs", "snapshot_every"}
    assert {k: v for k, v in trained.items() if k not in length} == {
        k: v for k, v in shipped.items() if k not in length}


def test_the_vae_cli_defaults_to_the_shipped_network_and_precision(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The recipe's dictionary leaves out the network's width and the precision: the VAE's
    defaults must give the shipped ones too (``--recipe homework`` the homework's width)."""
    shipped = json.loads((REPO / "checkpoints" / "vae.json").read_text())
    assert vae.WIDTHS["shipped"] == shipped["width"]
    assert vae.WIDTHS["homework"] == 1.0
    with pytest.raises(SystemExit):
        vae.main(["--help"])
    assert f"(default: {shipped['precision']};" in " ".join(capsys.readouterr().out.split())


@pytest.mark.slow
def test_resume_after_an_interruption(tmp_path: Path, tiny_data: Path,
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


@pytest.mark.slow
def test_a_standardized_source_model_passes_its_input_recipe_to_the_mean_teacher(
        tmp_path: Path, tiny_data: Path, capsys: pytest.CaptureFixture) -> None:
    argv = [*_common(tmp_path, tiny_data), "--source", "usps", "--target", "mnistm"]
    source_only.main([*argv, "--standardize"])
    mean_teacher.main(argv)
    capsys.readouterr()
    store = ModelStore(tmp_path / "ckpt", "cpu")
    for method in ("source_only", "mean_teacher"):
        model = store.digits("usps", "mnistm", method)
        assert model.metadata["standardize"] is True and model.extractor.standardize
        assert model.fast.standardize
    source_only.main([*_common(tmp_path / "plain", tiny_data), "--source", "usps", "--target",
                      "mnistm"])
    plain = ModelStore(tmp_path / "plain" / "ckpt", "cpu").digits("usps", "mnistm", "source_only")
    assert plain.metadata["standardize"] is False and not plain.fast.standardize
