"""The shared training machinery: batches, schedules, resumable state, time budget, AdaBN,
ADDA's class weights, the mean teacher's parts."""

from __future__ import annotations

import math

import pytest
import torch

from hw3lab.data.transforms import digits_for_model, faces_for_model, faces_to_uint8
from hw3lab.metrics import per_image_mse
from hw3lab.models import VAE, Extractor, Predictor
from hw3lab.training.adda import class_weights
from hw3lab.training.common import (
    Cycle,
    Run,
    annealed_lr,
    dann_lambda,
    index_batches,
    progress_fraction,
)
from hw3lab.training.digits import DigitNets, Labelled, adapt_batchnorm, holdout
from hw3lab.training.mean_teacher import (
    aligned,
    balance_penalty,
    update_teacher,
    within_band,
)
from hw3lab.training.supervised import SupervisedConfig, classifier_optimizer, train_supervised
from hw3lab.training.vae import reconstruction_mse


def test_index_batches_cover_every_item_once() -> None:
    batches = index_batches(10, 4, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    assert [len(b) for b in index_batches(10, 4, torch.Generator(), drop_last=True)] == [4, 4]


def test_cycle_never_runs_dry() -> None:
    cycle = Cycle(5, 2, torch.Generator().manual_seed(0))
    assert all(len(cycle.next()) == 2 for _ in range(7))


def test_dann_schedules_follow_the_paper() -> None:
    assert dann_lambda(0.0) == 0.0
    assert dann_lambda(1.0) == pytest.approx(2 / (1 + math.exp(-10)) - 1)
    assert annealed_lr(1e-3, 0.0) == 1e-3
    assert annealed_lr(1e-3, 1.0) == pytest.approx(1e-3 / 11 ** 0.75)
    assert progress_fraction(1, 5, 10, 2) == 0.75


def test_holdout_is_disjoint_and_seeded() -> None:
    data = Labelled(torch.zeros(10, 1, 28, 28, dtype=torch.uint8), torch.arange(10))
    train, val = holdout(data, 0.3, seed=1)
    assert len(val) == 3 and len(train) == 7
    assert set(train.labels.tolist()).isdisjoint(val.labels.tolist())
    assert holdout(data, 0.3, seed=1)[1].labels.tolist() == val.labels.tolist()


def _digits(count: int = 24, seed: int = 0) -> Labelled:
    generator = torch.Generator().manual_seed(seed)
    return Labelled(torch.randint(0, 256, (count, 1, 28, 28), dtype=torch.uint8,
                                  generator=generator), torch.arange(count) % 10)


def _run(tmp_path, epochs: int, budget: float | None = None) -> tuple[Run, DigitNets, list]:
    torch.manual_seed(0)
    nets = DigitNets(Extractor(), Predictor())
    config = SupervisedConfig(epochs=epochs, batch_size=8)
    run = Run("test", nets.modules(), {"classifier": classifier_optimizer(nets, config.lr)},
              torch.device("cpu"), seed=3, state_dir=tmp_path, time_budget=budget,
              progress=False)
    return run, nets, config


@pytest.mark.slow
def test_resume_continues_from_the_saved_epoch_with_optimizer_state(tmp_path) -> None:
    data, val = _digits(), _digits(8, seed=1)
    straight, straight_nets, config = _run(tmp_path / "a", epochs=2)
    list(train_supervised(straight, straight_nets, data, val, config))

    first, nets, config = _run(tmp_path / "b", epochs=1)  # interrupted after epoch 1
    assert [m["epoch"] for m in train_supervised(first, nets, data, val, config)] == [1]

    resumed, nets, config = _run(tmp_path / "b", epochs=2)
    assert resumed.resume() and resumed.epoch == 1
    saved = torch.load(resumed.state_path, weights_only=True)
    assert saved["optimizers"]["classifier"]["state"], "optimizer moments were saved"
    moments = resumed.optimizers["classifier"].state_dict()["state"][0]["exp_avg"]
    assert torch.equal(moments, saved["optimizers"]["classifier"]["state"][0]["exp_avg"])
    metrics = list(train_supervised(resumed, nets, data, val, config))
    assert [m["epoch"] for m in metrics] == [2]
    for key, value in straight_nets.extractor.state_dict().items():
        assert torch.allclose(value.float(), nets.extractor.state_dict()[key].float(),
                              atol=1e-5), key
    assert len((tmp_path / "b" / "test.jsonl").read_text().splitlines()) == 2


def test_time_budget_stops_cleanly_and_saves(tmp_path) -> None:
    run, nets, config = _run(tmp_path, epochs=3, budget=0.0)
    metrics = list(train_supervised(run, nets, _digits(), _digits(8, 1), config))
    assert len(metrics) == 1 and metrics[0]["stopped_early"] and metrics[0]["partial"]
    # only the finished files remain: the state was written to a temporary file and renamed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.jsonl", "test.state.pt"]
    assert torch.load(tmp_path / "test.state.pt", weights_only=True)["epoch"] == 1


def test_adapt_batchnorm_uses_the_target_statistics() -> None:
    extractor = Extractor().eval()
    target = _digits(32).images
    adapt_batchnorm(extractor, target, grey=True, batch_size=8)
    first = extractor.extract[0].block
    with torch.no_grad():
        out = first[0](digits_for_model(target, True))
    assert torch.allclose(first[1].running_mean, out.mean(dim=(0, 2, 3)), atol=1e-4)
    assert not extractor.training and first[1].momentum == 0.1


@pytest.mark.parametrize("limit, expected_three", [(10.0, 8.5), (5.0, 5.0)])
def test_class_weights_are_the_predicted_target_prior_over_the_source_prior(
        limit: float, expected_three: float) -> None:
    nets = DigitNets(Extractor().eval(), Predictor())
    with torch.no_grad():
        nets.predictor.predict[-2].bias.copy_(torch.eye(10)[3] * 1e4)  # always predicts 3
    source_labels = torch.arange(10).repeat(100)  # a uniform source prior
    weights = class_weights(nets, source_labels, _digits(50).images, grey=True, limit=limit)
    # add-one smoothing: target prior 51/60 for class 3 and 1/60 elsewhere, source 101/1010
    expected = torch.full((10,), max((1 / 60) / 0.1, 1 / limit))  # clipped to 1/limit
    expected[3] = expected_three
    torch.testing.assert_close(weights, expected)
    assert not nets.extractor.training  # the model's own modes and statistics are untouched


def test_vae_test_mse_is_on_unit_pixels_like_the_reconstruction_figure() -> None:
    torch.manual_seed(0)
    vae = VAE(0.0625).eval()
    faces = torch.randint(0, 256, (6, 3, 64, 64), dtype=torch.uint8)
    with torch.no_grad():
        rebuilt = faces_to_uint8(vae.decoder(vae.encoder(faces_for_model(faces))[0]))
    figure_mse = per_image_mse(faces.permute(0, 2, 3, 1).numpy(), rebuilt).mean()
    # equal up to the figure's rounding to uint8 (at most half a grey level per pixel)
    assert abs(reconstruction_mse(vae, faces) - figure_mse) < 2e-3


def test_the_teacher_follows_the_student_by_its_decay() -> None:
    teacher, student = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        teacher.weight.fill_(1.0)
        student.weight.fill_(3.0)
        student.running_mean.fill_(5.0)
    update_teacher(teacher, student, 0.75)
    assert torch.allclose(teacher.weight, torch.full((3,), 1.5))  # 0.75 * 1 + 0.25 * 3
    assert torch.equal(teacher.running_mean, student.running_mean)  # buffers are copied


def test_alignment_demotes_the_class_the_teacher_over_predicts() -> None:
    probabilities = torch.tensor([[0.6, 0.4], [0.6, 0.4]])
    running_mean = torch.tensor([0.8, 0.2])  # class 0 predicted four times as often as class 1
    result = aligned(probabilities, running_mean)
    assert torch.allclose(result.sum(1), torch.ones(2))
    assert (result[:, 1] > result[:, 0]).all()


def test_the_band_keeps_a_plausible_class_mix_and_pulls_an_extreme_one_to_its_edge() -> None:
    uneven = torch.tensor([0.14, 0.13, 0.10, 0.09, 0.09, 0.08, 0.09, 0.09, 0.08, 0.11])
    assert torch.allclose(within_band(uneven, 1.5), uneven)  # every share in [1/15, 3/20]
    assert torch.allclose(within_band(uneven, 1.0), torch.full((10,), 0.1))
    collapsed = torch.tensor([0.05] * 9 + [0.55])  # a third of MNIST-M called an 8, and more
    pulled = within_band(collapsed, 1.5)
    assert pulled[9] < 0.25 and torch.allclose(pulled.sum(), torch.tensor(1.0))
    # alignment inside the band changes nothing; outside it demotes the over-predicted class
    probabilities = torch.tensor([[0.3, 0.7] + [0.0] * 8])
    assert torch.allclose(aligned(probabilities, uneven, 1.5), probabilities)
    assert aligned(probabilities[:, [9, 1, 2, 3, 4, 5, 6, 7, 8, 0]], collapsed, 1.5)[0, 0] < 0.3
    inside = uneven.expand(4, 10).log()
    assert balance_penalty(inside, 1.5).abs() < 1e-6 < balance_penalty(inside, 1.0)
    assert balance_penalty(collapsed.expand(4, 10).log(), 1.5) > 0.1


def test_balance_penalty_is_zero_only_for_a_uniform_mean_prediction() -> None:
    uniform = torch.full((4, 10), 0.1).log()
    one_class = torch.nn.functional.one_hot(torch.zeros(4, dtype=torch.long), 10).float()
    assert balance_penalty(uniform).abs() < 1e-6
    assert balance_penalty((one_class * 0.99 + 0.001).log()) > 1.0
