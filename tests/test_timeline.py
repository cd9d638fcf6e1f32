"""Training timelines: stages recorded as a run goes, kept once across an interruption, and
shipped beside the checkpoint with t-SNE maps whose points move rather than jump."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hw3lab.devtools.random_checkpoints import TINY_WIDTH
from hw3lab.models import VAE, Discriminator, Generator
from hw3lab.training.timeline import (
    FaceProbe,
    gan_noise,
    gan_stage,
    read_stages,
    record_stage,
    ship_timeline,
    tsne_path,
    vae_stage,
)
from train import dann


def test_a_stage_recorded_again_replaces_it_and_every_later_one(tmp_path: Path) -> None:
    path = tmp_path / "run.timeline.safetensors"
    for epoch in (1, 2, 3):
        record_stage(path, epoch, {"features": torch.full((4, 2), float(epoch)), "score": epoch})
    record_stage(path, 2, {"features": torch.full((4, 2), 20.0), "score": 20})  # resumed at 1
    stages = read_stages(path)
    assert stages["epochs"].tolist() == [1, 2]
    assert stages["score"].tolist() == [1.0, 20.0]
    assert stages["features"].shape == (2, 4, 2) and stages["features"][1].eq(20).all()
    assert not list(tmp_path.glob("*.tmp"))  # written through a temporary file


def test_no_state_folder_keeps_no_timeline(tmp_path: Path) -> None:
    record_stage(None, 1, {"score": 1.0})
    assert not list(tmp_path.iterdir())


def test_tsne_stages_start_from_the_stage_before() -> None:
    """Three stages of the same features: each later map starts where the one before ended,
    so it stays close to it; three independent maps would not need to."""
    features = torch.from_numpy(np.random.default_rng(0).normal(size=(60, 8)).astype(np.float32))
    clusters = features + 6 * torch.arange(60).remainder(3)[:, None].float()
    maps = tsne_path(torch.stack([clusters] * 3)).numpy()
    assert maps.shape == (3, 60, 2)
    spread = np.linalg.norm(maps[0] - maps[0].mean(0), axis=1).mean()
    moved = np.linalg.norm(maps[2] - maps[1], axis=1).mean()
    assert moved < 0.2 * spread


@pytest.mark.slow
def test_a_digit_run_ships_its_timeline_across_a_resume(tmp_path: Path, tiny_data: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    argv = ["--data", str(tiny_data), "--out", str(tmp_path / "ckpt"), "--state-dir",
            str(tmp_path / "runs"), "--device", "cpu", "--no-progress", "--source", "usps",
            "--target", "mnistm", "--epochs", "3"]
    dann.main([*argv, "--time-budget", "0"])  # stops after one epoch
    dann.main([*argv, "--resume"])
    capsys.readouterr()
    entry = json.loads((tmp_path / "ckpt" / "digits" / "usps-mnistm-dann.json").read_text())
    shipped = read_stages(tmp_path / "ckpt" / entry["timeline"])
    probe = len(shipped["source_labels"]) + len(shipped["target_labels"])
    assert shipped["epochs"].tolist() == [1, 2, 3]
    assert shipped["features"].shape[:2] == (3, probe)
    assert shipped["tsne"].shape == (3, probe, 2)
    assert shipped["source_images"].shape[1:] == (28, 28, 1)  # usps: grey, as read
    assert shipped["target_images"].shape[1:] == (28, 28, 3)
    for key in ("source_accuracy", "target_accuracy", "domain_accuracy"):
        assert shipped[key].shape == (3,) and ((0 <= shipped[key]) & (shipped[key] <= 1)).all()
    manifest = json.loads((tmp_path / "ckpt" / "manifest.json").read_text())
    assert manifest["checkpoints"]["digits/usps-mnistm-dann"]["timeline"] == entry["timeline"]


def test_vae_and_gan_stages_follow_fixed_inputs() -> None:
    torch.manual_seed(0)
    faces = torch.randint(0, 256, (12, 3, 64, 64), dtype=torch.uint8)
    vae = VAE(TINY_WIDTH)
    probe = FaceProbe.of(faces, 128, count=8, decoded=3)
    first, again = vae_stage(probe, vae), vae_stage(probe, vae)
    assert first["means"].shape == (8, 128) and first["decoded"].shape == (3, 64, 64, 3)
    assert torch.equal(first["means"], again["means"]) and vae.training  # mode restored
    generator, discriminator = Generator(TINY_WIDTH), Discriminator(TINY_WIDTH)
    stage = gan_stage(generator, generator, discriminator, faces, gan_noise(4))
    assert stage["faces"].shape == (4, 64, 64, 3) and stage["faces"].dtype == torch.uint8
    assert 0 < float(stage["realness_real"]) < 1 and 0 < float(stage["realness_fake"]) < 1


def test_ship_timeline_names_its_file(tmp_path: Path) -> None:
    stages = {"epochs": torch.tensor([1, 2]), "score": torch.tensor([0.5, 0.6])}
    relative = ship_timeline(stages, tmp_path, "digits/usps-mnistm-dann")
    assert relative == "timelines/digits-usps-mnistm-dann.safetensors"
    assert read_stages(tmp_path / relative)["score"].tolist() == pytest.approx([0.5, 0.6])
