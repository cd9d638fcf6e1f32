"""Face training on the CPU: precision choice, the GAN's logits loss and improved recipe, the
VAE's KL schedules, and the attribute classifier's loop."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from hw3lab import runtime
from hw3lab.checkpoints import load_tensors, read_metadata
from hw3lab.data.transforms import diff_augment
from hw3lab.models import VAE, AttributeNet, Discriminator, Generator
from hw3lab.models.gan import NOISE_DIM
from hw3lab.training.attributes import AttributeConfig, per_attribute_accuracy, train_attributes
from hw3lab.training.common import Run
from hw3lab.training.gan import (
    GanConfig,
    averaged_copy,
    gan_optimizers,
    mode_seeking_penalty,
    r1_penalty,
    recalibrate_batchnorm,
    sampling_generator,
    train_gan,
    update_average,
)
from hw3lab.training.vae import VaeConfig, kl_weight, train_vae, vae_optimizer
from tests.homework_reference import Discriminator as HomeworkDiscriminator

WIDTH = 0.0625


def test_precision_auto_follows_the_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    monkeypatch.setattr(runtime, "cpu_has_bf16", lambda: True)
    assert runtime.resolve_precision("auto", cpu) == "bf16"
    monkeypatch.setattr(runtime, "cpu_has_bf16", lambda: False)
    assert runtime.resolve_precision("auto", cpu) == "fp32"
    monkeypatch.setattr(runtime, "cuda_has_bf16", lambda: True)  # see tests/test_cross_device.py
    assert runtime.resolve_precision("auto", torch.device("cuda")) == "bf16"
    assert runtime.resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(ValueError, match="fp16"):
        runtime.resolve_precision("fp16", cpu)


def test_bf16_autocast_runs_the_gan_loss_on_the_cpu() -> None:
    """BCE on probabilities is refused under CUDA autocast; the logits loss is what runs in
    bf16 anywhere, and it gives the same value as BCE on the sigmoid in fp32."""
    torch.manual_seed(0)
    discriminator = Discriminator(WIDTH)
    images = torch.rand(4, 3, 64, 64) * 2 - 1
    with runtime.autocast(torch.device("cpu"), "bf16"):
        logits = discriminator.logits(images)
    assert logits.dtype == torch.bfloat16
    logits = discriminator.logits(images)
    torch.testing.assert_close(
        F.binary_cross_entropy_with_logits(logits, torch.ones(4)),
        F.binary_cross_entropy(discriminator(images), torch.ones(4)))


def test_logits_keep_the_homework_state_dict() -> None:
    ours, theirs = Discriminator(), HomeworkDiscriminator()
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    ours.eval()
    torch.testing.assert_close(ours.logits(images).sigmoid(), ours(images))


def test_diff_augment_is_random_shaped_and_differentiable() -> None:
    images = (torch.rand(6, 3, 64, 64) * 2 - 1).requires_grad_()
    first = diff_augment(images, torch.Generator().manual_seed(0))
    again = diff_augment(images, torch.Generator().manual_seed(0))
    other = diff_augment(images, torch.Generator().manual_seed(1))
    assert first.shape == images.shape
    torch.testing.assert_close(first, again)
    assert not torch.allclose(first, other)
    assert (first == 0).flatten(1).float().mean(1).min() >= 0.2  # a quarter is cut out
    first.sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


def test_moving_average_and_batchnorm_recalibration() -> None:
    torch.manual_seed(0)
    live = Generator(WIDTH)
    average = averaged_copy(live)
    with torch.no_grad():
        for p in live.parameters():
            p.add_(1.0)
    before = next(average.parameters()).clone()
    update_average(average, live, 0.9)
    torch.testing.assert_close(next(average.parameters()), before + 0.1)
    norm = next(m for m in average.modules() if isinstance(m, torch.nn.BatchNorm2d))
    recalibrate_batchnorm(average, torch.Generator().manual_seed(0), batches=2, batch_size=8)
    assert norm.momentum == 0.1 and norm.num_batches_tracked == 2
    assert not torch.allclose(norm.running_var, torch.ones_like(norm.running_var))


def test_homework_recipe_is_kept_as_an_option() -> None:
    homework = GanConfig.homework(epochs=3)
    assert (homework.lr, homework.beta1, homework.real_label, homework.diffaugment,
            homework.ema, homework.epochs) == (1e-4, 0.9, 1.0, False, 0.0, 3)
    improved = GanConfig()
    assert improved.beta1 == 0.5 and improved.diffaugment and improved.ema > 0


def test_gan_lr_decays_linearly_from_its_epoch() -> None:
    config = GanConfig(epochs=6, lr=1e-3, decay_from=2)
    assert [config.epoch_lr(i) for i in range(6)] == pytest.approx(
        [1e-3, 1e-3, 1e-3, 7.5e-4, 5e-4, 2.5e-4])
    assert {GanConfig(epochs=6).epoch_lr(i) for i in range(6)} == {GanConfig().lr}


def test_r1_penalty_is_the_squared_gradient_norm_at_the_inputs() -> None:
    weight = torch.tensor([3.0, -4.0], requires_grad=True)
    inputs = torch.randn(5, 2, requires_grad=True)
    penalty = r1_penalty(inputs @ weight + 1.0, inputs)
    assert penalty.item() == pytest.approx(25.0)
    assert penalty.requires_grad  # it trains the discriminator


def test_mode_seeking_penalty_falls_as_faces_of_different_noise_differ() -> None:
    noise = torch.zeros(4, 3)
    noise[2:] = 2.0  # the two halves are 2 apart in every noise dimension
    faces = torch.zeros(4, 3, 2, 2, requires_grad=True)
    alike, apart = (mode_seeking_penalty(f, noise) for f in (faces + 0.1, faces + torch.tensor(
        [0.0, 0.0, 1.0, 1.0]).view(4, 1, 1, 1)))
    assert apart.item() == pytest.approx(2.0, rel=1e-4)  # 1 / (1 / 2)
    assert alike.item() > 1e4  # identical faces: as large as the floor allows
    apart.backward()
    assert faces.grad[2:].sum() < 0 < faces.grad[:2].sum()  # pushes the halves further apart


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_gan_loop_writes_grids_and_snapshots(tmp_path: Path, precision: str) -> None:
    torch.manual_seed(0)
    generator, discriminator = Generator(WIDTH), Discriminator(WIDTH)
    config = GanConfig(epochs=2, batch_size=4, snapshot_every=1, lr=4e-4, disc_lr_scale=0.5,
                       r1=1.0, mode_seeking=1.0)
    modules = {"generator": generator, "discriminator": discriminator,
               "generator_ema": averaged_copy(generator)}
    # optimizers made at another lr, as on a resume: each epoch sets the config's
    run = Run("gan", modules, gan_optimizers(generator, discriminator, GanConfig(lr=1e-4)),
              torch.device("cpu"), 0, state_dir=tmp_path, progress=False, precision=precision)
    faces = torch.randint(0, 256, (12, 3, 64, 64), dtype=torch.uint8)
    history = list(train_gan(run, generator, discriminator, faces, config))
    assert [h["epoch"] for h in history] == [1, 2]
    assert [h["lr"] for h in history] == [4e-4, 4e-4]
    assert [o.param_groups[0]["lr"] for o in run.optimizers.values()] == [4e-4, 2e-4]
    assert all(torch.isfinite(torch.tensor([h["generator_loss"], h["disc_loss"]])).all()
               for h in history)
    assert {p.name for p in (tmp_path / "gan").iterdir()} == {
        "grid-e001.png", "grid-e002.png", "snapshot-e001.pt", "snapshot-e002.pt"}
    snapshot = torch.load(tmp_path / "gan" / "snapshot-e002.pt", weights_only=True)
    assert snapshot["generator"].keys() == generator.state_dict().keys()
    assert sampling_generator(run, generator, config) is modules["generator_ema"]
    assert sampling_generator(run, generator, GanConfig.homework()) is generator


def test_kl_schedules() -> None:
    mse = torch.tensor(0.01)
    homework = VaeConfig()
    assert kl_weight(homework, mse, 50.0).item() == pytest.approx(1e-5 / 1e-4)
    assert kl_weight(homework, torch.tensor(0.05), 0.0).item() == pytest.approx(1e-5)
    anneal = VaeConfig(kl_schedule="anneal", kl_weight=2e-4, kl_warmup=10)
    assert kl_weight(anneal, mse, 0.0).item() == 0.0
    assert kl_weight(anneal, mse, 5.0).item() == pytest.approx(1e-4)
    assert kl_weight(anneal, mse, 40.0).item() == pytest.approx(2e-4)


def test_vae_loop_reports_the_kl_weight_it_used() -> None:
    torch.manual_seed(0)
    vae = VAE(WIDTH)
    config = VaeConfig(epochs=2, batch_size=4, kl_schedule="anneal", kl_weight=1e-3,
                       kl_warmup=2)
    run = Run("vae", {"vae": vae}, {"vae": vae_optimizer(vae, config)}, torch.device("cpu"), 0,
              progress=False)
    faces = torch.randint(0, 256, (8, 3, 64, 64), dtype=torch.uint8)
    history = list(train_vae(run, vae, faces, faces[:4], config))
    # two steps an epoch, at 0, 0.5, 1 and 1.5 epochs of a 2-epoch ramp to 1e-3
    assert [h["kl_weight"] for h in history] == pytest.approx([1.25e-4, 6.25e-4])


def test_attribute_classifier_learns_a_visible_attribute() -> None:
    """Bright faces have attribute 0, dark ones do not: a few epochs must learn it."""
    torch.manual_seed(0)
    bright = torch.rand(64) > 0.5
    faces = torch.where(bright.view(-1, 1, 1, 1), 200, 40).to(torch.uint8).expand(
        -1, 3, 64, 64).contiguous()
    faces = (faces.int() + torch.randint(-30, 30, faces.shape)).clamp(0, 255).to(torch.uint8)
    targets = torch.zeros(64, 13)
    targets[:, 0] = bright.float()
    net = AttributeNet()
    config = AttributeConfig(epochs=4, lr=5e-3, batch_size=16)
    run = Run("attributes", {"attributes": net},
              {"attributes": torch.optim.AdamW(net.parameters(), lr=config.lr)},
              torch.device("cpu"), 0, progress=False)
    history = list(train_attributes(run, net, (faces[:48], targets[:48]),
                                    (faces[48:], targets[48:]), config))
    assert len(history) == 4
    assert per_attribute_accuracy(net, faces[48:], targets[48:])[0] == 100.0
    assert net.features(torch.zeros(2, 3, 64, 64)).shape == (2, 256)


def test_noise_dimension_is_the_homeworks() -> None:
    assert Generator(WIDTH)(torch.randn(3, NOISE_DIM)).shape == (3, 3, 64, 64)


def test_gan_cli_ships_a_chosen_snapshot(tmp_path: Path, tiny_data: Path,
                                         capsys: pytest.CaptureFixture) -> None:
    from train import gan as gan_cli

    common = ["--data", str(tiny_data), "--out", str(tmp_path / "out"), "--state-dir",
              str(tmp_path / "runs"), "--width", "0.0625", "--batch-size", "4",
              "--snapshot-every", "1", "--no-progress", "--threads", "1"]
    assert gan_cli.main([*common, "--epochs", "2"]) == 0
    assert gan_cli.main([*common, "--epochs", "2", "--ship-epoch", "1"]) == 0
    shipped = read_metadata(tmp_path / "out" / "gan.safetensors")
    assert shipped["shipped_epoch"] == 1 and shipped["epochs_run"] == 2
    assert shipped["metrics"]["epoch"] == 1  # the shipped epoch's numbers, not the last's
    assert [h["epoch"] for h in shipped["history"]] == [1, 2]
    snapshot = torch.load(tmp_path / "runs" / "gan-seed0" / "snapshot-e001.pt",
                          weights_only=True)
    torch.testing.assert_close(load_tensors(tmp_path / "out" / "gan.safetensors")[
        "discriminator.encode.0.block.0.weight"].float(),
        snapshot["discriminator"]["encode.0.block.0.weight"].half().float())
    assert gan_cli.main([*common, "--epochs", "2", "--ship-epoch", "2", "--ship-live"]) == 0
    live = torch.load(tmp_path / "runs" / "gan-seed0" / "snapshot-e002.pt",
                      weights_only=True)["live_generator"]
    torch.testing.assert_close(load_tensors(tmp_path / "out" / "gan.safetensors")[
        "generator.decode.0.block.0.weight"].float(),
        live["decode.0.block.0.weight"].half().float())
    capsys.readouterr()
    assert gan_cli.main([*common, "--ship-epoch", "7"]) == 2
    assert capsys.readouterr().err.startswith("error: no snapshot of epoch 7")
