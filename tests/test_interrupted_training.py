"""A training run killed with SIGKILL partway resumes with ``--resume`` from its last saved
epoch (epoch count and optimizer state restored), completes, and never leaves a half-written
state or checkpoint behind: every file that looks like one loads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hw3lab.checkpoints import MANIFEST, load_tensors, read_manifest
from hw3lab.devtools.fixture_data import write_hw3_data
from hw3lab.inference import ModelStore
from hw3lab.training.digits import run_name

ROOT = Path(__file__).resolve().parent.parent
EPOCHS = 30
KILL_AFTER_EPOCHS = 2
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # two training processes


def train(data: Path, out: Path, state: Path, *extra: str) -> subprocess.Popen:
    """``python -m train.dann`` for usps->mnistm on the tiny data, one CPU thread."""
    command = [sys.executable, "-m", "train.dann", "--data", str(data), "--out", str(out),
               "--state-dir", str(state), "--source", "usps", "--target", "mnistm",
               "--epochs", str(EPOCHS), "--device", "cpu", "--threads", "1", "--no-progress",
               "--seed", "0", *extra]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, "HW3LAB_THREADS": "1"})


def logged_epochs(log: Path) -> list[int]:
    if not log.is_file():
        return []
    return [json.loads(line)["epoch"] for line in log.read_text().splitlines()
            if line.strip().startswith("{")]


def adam_steps(state: dict) -> int:
    """The Adam step count of the run's optimizer (the same for every parameter)."""
    steps = {int(s["step"]) for s in state["optimizers"]["dann"]["state"].values()}
    assert len(steps) == 1, steps
    return steps.pop()


def assert_nothing_half_written(*folders: Path) -> None:
    """Every state and checkpoint file loads; temporary files never have a checkpoint's name."""
    for folder in folders:
        for path in folder.rglob("*"):
            if path.name.endswith(".state.pt"):
                torch.load(path, weights_only=True)
            elif path.suffix == ".safetensors":
                load_tensors(path)
            elif path.suffix == ".json":
                json.loads(path.read_text())
            elif path.suffix == ".jsonl":
                for line in path.read_text().splitlines():
                    json.loads(line)  # a killed run may stop between lines, not inside one
            else:
                assert path.is_dir() or path.suffix == ".tmp", path


def test_sigkill_then_resume_continues_from_the_saved_epoch(tmp_path: Path) -> None:
    data = write_hw3_data(tmp_path / "hw3_data", per_split=200)
    out, state_dir = tmp_path / "checkpoints", tmp_path / "runs"
    name = run_name("usps", "mnistm", "dann", 0)
    state_path, log = state_dir / f"{name}.state.pt", state_dir / f"{name}.jsonl"

    first = train(data, out, state_dir)
    while len(logged_epochs(log)) < KILL_AFTER_EPOCHS:  # pytest-timeout ends a hang
        assert first.poll() is None, first.communicate()[0]
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert first.returncode == -signal.SIGKILL

    assert_nothing_half_written(out, state_dir)
    saved = torch.load(state_path, weights_only=True)
    saved_epoch = int(saved["epoch"])
    assert KILL_AFTER_EPOCHS <= saved_epoch < EPOCHS, "the run was not killed partway"
    steps_per_epoch, remainder = divmod(adam_steps(saved), saved_epoch)
    assert steps_per_epoch > 0 and remainder == 0
    assert not (out / "digits").exists(), "the checkpoint is only written at the end"

    second = train(data, out, state_dir, "--resume")
    output, _ = second.communicate(timeout=240)
    assert second.returncode == 0, output
    resumed = [json.loads(line) for line in output.splitlines() if '"resumed_at_epoch"' in line]
    assert resumed == [{"run": name, "resumed_at_epoch": saved_epoch}], output

    epochs = logged_epochs(log)
    after = epochs[epochs.index(saved_epoch + 1, len(epochs) - (EPOCHS - saved_epoch)):]
    assert after == list(range(saved_epoch + 1, EPOCHS + 1)), epochs  # not restarted at 1
    assert epochs[:KILL_AFTER_EPOCHS] == list(range(1, KILL_AFTER_EPOCHS + 1))
    final = torch.load(state_path, weights_only=True)
    assert int(final["epoch"]) == EPOCHS
    # Restored optimizer: its step count went on from the saved one (a fresh Adam would have
    # only the resumed epochs' steps), so the schedules saw the whole run.
    assert adam_steps(final) == steps_per_epoch * EPOCHS

    assert_nothing_half_written(out, state_dir)
    assert not list(out.rglob("*.tmp")) and not list(state_dir.rglob("*.tmp"))
    assert "digits/usps-mnistm-dann" in read_manifest(out)["checkpoints"]
    assert (out / MANIFEST).is_file()
    model = ModelStore(out, "cpu").digits("usps", "mnistm", "dann")
    assert model.metadata["epochs_run"] == EPOCHS
