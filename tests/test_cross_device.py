"""Runs that move between the CPU and a GPU, checked on the CPU: a state written as a CUDA run
writes it resumes here (and a CPU one would there), optimizer states keep this device's Adam,
``auto`` precision asks whether bf16 is native, provenance names the device that trained, and
``--deterministic`` is set and recorded."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
import torch

from hw3lab import runtime
from hw3lab.checkpoints import read_metadata, run_provenance
from hw3lab.models import Extractor, Predictor
from hw3lab.training.common import Run, adam, load_optimizer_state, saved_rng_device
from hw3lab.training.digits import DigitNets, Labelled
from hw3lab.training.supervised import SupervisedConfig, classifier_optimizer, train_supervised

CUDA_GENERATOR_STATE_BYTES = 16  # a CUDA (Philox) generator's get_state(): seed and offset


def _digits(count: int = 24, seed: int = 0) -> Labelled:
    generator = torch.Generator().manual_seed(seed)
    return Labelled(torch.randint(0, 256, (count, 1, 28, 28), dtype=torch.uint8,
                                  generator=generator), torch.arange(count) % 10)


def _run(state_dir: Path, epochs: int = 1) -> tuple[Run, DigitNets, SupervisedConfig]:
    torch.manual_seed(0)
    nets = DigitNets(Extractor(), Predictor())
    config = SupervisedConfig(epochs=epochs, batch_size=8)
    run = Run("test", nets.modules(), {"classifier": classifier_optimizer(nets, config.lr)},
              torch.device("cpu"), seed=3, state_dir=state_dir, progress=False)
    return run, nets, config


def _as_if_saved_on_cuda(path: Path, record_device: bool = True) -> None:
    """Rewrite a CPU run's state as the CUDA path writes it: a 16-byte generator state, the
    CUDA global state beside the CPU's, and (unless ``record_device`` is off, as in states
    written before the device was recorded) the device type."""
    state = torch.load(path, weights_only=True)
    state["rng"]["generator"] = torch.arange(CUDA_GENERATOR_STATE_BYTES, dtype=torch.uint8)
    state["rng"]["cuda"] = torch.arange(CUDA_GENERATOR_STATE_BYTES, dtype=torch.uint8)
    if record_device:
        state["rng"]["device"] = "cuda"
    else:
        state["rng"].pop("device", None)
    torch.save(state, path)


def test_a_state_records_the_device_that_wrote_it(tmp_path: Path) -> None:
    run, nets, config = _run(tmp_path)
    list(train_supervised(run, nets, _digits(), _digits(8, 1), config))
    rng = torch.load(run.state_path, weights_only=True)["rng"]
    assert rng["device"] == "cpu" and saved_rng_device(rng) == "cpu"
    assert saved_rng_device({"generator": torch.zeros(CUDA_GENERATOR_STATE_BYTES,
                                                      dtype=torch.uint8)}) == "cuda"
    assert saved_rng_device({"generator": torch.Generator().get_state()}) == "cpu"


def test_same_device_resume_restores_the_generator_exactly(tmp_path: Path) -> None:
    run, nets, config = _run(tmp_path)
    list(train_supervised(run, nets, _digits(), _digits(8, 1), config))
    expected = run.generator.get_state()
    resumed, _, _ = _run(tmp_path, epochs=2)
    assert resumed.resume() and resumed.resume_note is None
    assert torch.equal(resumed.generator.get_state(), expected)


@pytest.mark.parametrize("record_device", [True, False])
def test_a_cuda_state_resumes_on_the_cpu(tmp_path: Path, record_device: bool) -> None:
    data, val = _digits(), _digits(8, 1)
    run, nets, config = _run(tmp_path)
    list(train_supervised(run, nets, data, val, config))
    weights = {k: v.clone() for k, v in nets.extractor.state_dict().items()}
    _as_if_saved_on_cuda(run.state_path, record_device)
    with pytest.raises(RuntimeError):  # what resuming did before: the sizes differ
        torch.Generator().set_state(torch.load(run.state_path,
                                               weights_only=True)["rng"]["generator"])

    resumed, nets, config = _run(tmp_path, epochs=2)
    assert resumed.resume() and resumed.epoch == 1
    assert "saved on cuda, resumed on cpu" in resumed.resume_note
    assert "seed + epoch = 4" in resumed.resume_note
    assert torch.equal(resumed.generator.get_state(),
                       torch.Generator().manual_seed(3 + 1).get_state())
    for key, value in nets.extractor.state_dict().items():
        assert torch.equal(value, weights[key]), key
    metrics = list(train_supervised(resumed, nets, data, val, config))
    assert [m["epoch"] for m in metrics] == [2]
    assert torch.load(resumed.state_path, weights_only=True)["rng"]["device"] == "cpu"


def _stepped(optimizer: torch.optim.Optimizer, parameters: list[torch.Tensor],
             steps: int = 2) -> None:
    for _ in range(steps):
        optimizer.zero_grad()
        sum((p * p).sum() for p in parameters).backward()
        optimizer.step()


def test_optimizer_state_keeps_this_devices_adam() -> None:
    torch.manual_seed(0)
    weights = [torch.randn(4, 3, requires_grad=True), torch.randn(3, requires_grad=True)]
    fused = torch.optim.Adam(weights, lr=0.1, fused=True)  # what a CUDA run's adam() makes
    _stepped(fused, weights)
    saved = copy.deepcopy(fused.state_dict())  # as read from a file: tensors of its own
    assert saved["param_groups"][0]["fused"] is True

    here = [w.detach().clone().requires_grad_() for w in weights]
    plain = adam(here, lr=0.1)  # on the CPU: PyTorch's default Adam, as before
    assert plain.param_groups[0]["fused"] is None
    load_optimizer_state(plain, copy.deepcopy(saved))
    assert plain.param_groups[0]["fused"] is None
    assert all(s["step"].device.type == "cpu" for s in plain.state.values())
    reference = [w.detach().clone().requires_grad_() for w in weights]
    unfused = torch.optim.Adam(reference, lr=0.1)
    unfused.load_state_dict(copy.deepcopy(saved))
    unfused.param_groups[0]["fused"] = None
    _stepped(plain, here)
    _stepped(unfused, reference)
    for a, b in zip(here, reference, strict=True):
        torch.testing.assert_close(a, b)

    back = torch.optim.Adam([w.detach().clone().requires_grad_() for w in weights], lr=0.1,
                            fused=True)
    load_optimizer_state(back, copy.deepcopy(plain.state_dict()))  # a CPU state into a fused Adam
    assert back.param_groups[0]["fused"] is True
    _stepped(back, back.param_groups[0]["params"])


def test_auto_precision_is_bf16_only_where_the_gpu_has_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    asked = []

    def is_bf16_supported(including_emulation: bool = True) -> bool:
        asked.append(including_emulation)
        return including_emulation or native

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    cuda = torch.device("cuda")
    native = False  # a pre-Ampere GPU: bf16 only emulated
    assert runtime.resolve_precision("auto", cuda) == "fp32"
    assert runtime.resolve_precision("bf16", cuda) == "bf16"  # asked for: honoured
    native = True
    assert runtime.resolve_precision("auto", torch.device("cuda:1")) == "bf16"
    assert asked == [False, False]
    monkeypatch.setattr(runtime, "cpu_has_bf16", lambda: False)
    assert runtime.resolve_precision("auto", torch.device("cpu")) == "fp32"


def test_provenance_names_the_device_that_trained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name",
                        lambda device=None: f"GPU {torch.device(device).index or 0}")
    assert run_provenance(0, torch.device("cpu"))["device"] == "cpu"
    assert run_provenance(0, "cuda:1")["device"] == "GPU 1"
    assert run_provenance(0)["device"] == "GPU 0"  # no device given: this process's default


@pytest.fixture
def restored_backends(monkeypatch: pytest.MonkeyPatch):
    """Put back what ``--deterministic`` sets process-wide."""
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    saved = (torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    yield
    torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[2:]


def test_deterministic_flag_is_set_and_recorded(tmp_path: Path, tiny_data: Path,
                                                restored_backends: None,
                                                capsys: pytest.CaptureFixture) -> None:
    from train import vae as vae_cli

    common = ["--data", str(tiny_data), "--state-dir", str(tmp_path / "runs"), "--width",
              "0.0625", "--batch-size", "4", "--epochs", "1", "--no-progress", "--threads",
              "1", "--device", "cpu", "--precision", "fp32"]
    assert vae_cli.main([*common, "--out", str(tmp_path / "plain")]) == 0
    plain = read_metadata(tmp_path / "plain" / "vae.safetensors")
    assert plain["deterministic"] is False and not torch.are_deterministic_algorithms_enabled()
    assert plain["device"] == "cpu" and plain["training_device"] == "cpu"

    assert vae_cli.main([*common, "--out", str(tmp_path / "fixed"), "--deterministic"]) == 0
    fixed = read_metadata(tmp_path / "fixed" / "vae.safetensors")
    assert fixed["deterministic"] is True
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    capsys.readouterr()


def test_gan_cli_resumes_and_ships_a_cuda_runs_state_on_the_cpu(
        tmp_path: Path, tiny_data: Path, capsys: pytest.CaptureFixture) -> None:
    from train import gan as gan_cli

    common = ["--data", str(tiny_data), "--out", str(tmp_path / "out"), "--state-dir",
              str(tmp_path / "runs"), "--width", "0.0625", "--batch-size", "4",
              "--snapshot-every", "1", "--no-progress", "--threads", "1", "--device", "cpu"]
    assert gan_cli.main([*common, "--epochs", "1"]) == 0
    state = tmp_path / "runs" / "gan-seed0.state.pt"
    _as_if_saved_on_cuda(state)
    capsys.readouterr()
    assert gan_cli.main([*common, "--epochs", "2", "--resume"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    resumed = next(line for line in lines if "resumed_at_epoch" in line)
    assert resumed["resumed_at_epoch"] == 1 and "reseeded" in resumed["note"]
    assert [line["epoch"] for line in lines if "generator_loss" in line] == [2]

    _as_if_saved_on_cuda(state)
    assert gan_cli.main([*common, "--epochs", "2", "--ship-epoch", "1"]) == 0
    shipped = read_metadata(tmp_path / "out" / "gan.safetensors")
    assert shipped["shipped_epoch"] == 1 and shipped["device"] == "cpu"


def test_multi_tensor_averages_match_the_per_tensor_ones() -> None:
    from hw3lab.training.gan import update_average
    from hw3lab.training.mean_teacher import update_teacher

    torch.manual_seed(0)
    live = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    live[1].running_mean.fill_(2.0)
    live[1].num_batches_tracked.fill_(7)
    for average in (update_average, update_teacher):
        mean = copy.deepcopy(live)
        with torch.no_grad():
            for p in mean.parameters():
                p.mul_(-1)
        expected = [m.lerp(v, 0.1) for m, v in zip(mean.parameters(), live.parameters(),
                                                    strict=True)]
        average(mean, live, 0.9)
        for got, want in zip(mean.parameters(), expected, strict=True):
            torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert mean[1].num_batches_tracked.item() == 7  # the teacher copies buffers
    update_teacher(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), 0.5)  # no buffers at all
