"""The mean teacher's levers: MNIST-M-like source textures (on by default, as shipped), SHOT's
information maximisation and its nearest-centroid pseudo-labels (off)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, replace
from pathlib import Path

import torch

from hw3lab.models import Extractor, Predictor
from hw3lab.models.digits import NUM_CLASSES
from hw3lab.training.digits import DigitNets
from hw3lab.training.mean_teacher import (
    MeanTeacherConfig,
    information_maximisation,
    mean_teacher_step,
    nearest_centroid_labels,
    textured,
)

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"


def test_the_defaults_are_the_shipped_mean_teachers_recipe() -> None:
    """python -m train.mean_teacher with no recipe option trains what ships, for every task;
    a lever added after the shipped models were trained is off (0) by default."""
    defaults = asdict(MeanTeacherConfig())
    for path in sorted(CHECKPOINTS.glob("digits/*-mean_teacher.json")):
        recipe = json.loads(path.read_text())["recipe"]
        assert {name: recipe.get(name, 0.0) for name in defaults} == defaults, path.name
    assert defaults["source_texture"] > 0 and defaults["im_weight"] == 0


def test_texture_blends_each_picked_image_as_the_absolute_difference() -> None:
    black = torch.zeros(6, 1, 28, 28, dtype=torch.uint8)
    white = torch.full_like(black, 255)
    on_black = textured(black, torch.Generator().manual_seed(3), 1.0)
    on_white = textured(white, torch.Generator().manual_seed(3), 1.0)  # the same textures T
    assert on_black.dtype == torch.uint8 and on_black.shape == black.shape
    # |0 - T| + |1 - T| = 1: the same texture, once as it is and once inverted
    assert ((on_black.int() + on_white.int() - 255).abs() <= 1).all()
    spread = on_black.float().flatten(1).std(1)
    assert spread.max() > 5 and len(set(on_black.flatten(1).median(1).values.tolist())) > 1
    assert torch.equal(textured(black, torch.Generator(), 0.0), black)
    half = textured(black, torch.Generator().manual_seed(0), 0.5, cells=(2, 2))
    untouched = (half.flatten(1) == 0).all(1)
    assert 0 < int(untouched.sum()) < 6  # seed 0 picks some of the six, not all


def test_information_maximisation_prefers_confident_and_diverse_predictions() -> None:
    k = NUM_CLASSES
    diverse = torch.eye(k) * 0.99 + 0.01 / k
    collapsed = diverse[[0] * k]
    uniform = torch.full((k, k), 1.0 / k)
    assert math.isclose(information_maximisation(uniform.log()).item(), 0.0, abs_tol=1e-5)
    assert information_maximisation(diverse.log()) < -0.9 * math.log(k)  # near its minimum
    assert information_maximisation(collapsed.log()) > -0.1  # confident but one class


def test_nearest_centroid_labels_follow_the_feature_clusters_not_the_noisy_probabilities(
        ) -> None:
    features = torch.tensor([[1.0, 0.1], [0.9, 0.0], [0.0, 1.0], [0.1, 0.9]])
    # the classifier is right on three images, wrong on the second one
    probabilities = torch.tensor([[0.9, 0.1], [0.4, 0.6], [0.1, 0.9], [0.2, 0.8]])
    centroids = torch.zeros(2, 2)
    labels = nearest_centroid_labels(features, probabilities, centroids)
    assert labels.tolist() == [0, 0, 1, 1]
    first = centroids.clone()  # the first use takes the batch centroids as they are
    assert torch.allclose(first[0], (probabilities[:, 0] @ features) / probabilities[:, 0].sum())
    nearest_centroid_labels(features[[2, 3]], probabilities[[2, 3]], centroids, momentum=0.5)
    assert torch.allclose(centroids, first.lerp(
        (probabilities[[2, 3]].t() @ features[[2, 3]])
        / probabilities[[2, 3]].sum(0).unsqueeze(1), 0.5))


def test_a_step_with_every_lever_on_reports_their_parts_and_trains() -> None:
    torch.manual_seed(0)
    student = DigitNets(Extractor(), Predictor())
    teacher = DigitNets(Extractor(), Predictor())
    teacher.extractor.load_state_dict(student.extractor.state_dict())
    teacher.predictor.load_state_dict(student.predictor.state_dict())
    source = torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8)
    target = torch.randint(0, 256, (8, 3, 28, 28), dtype=torch.uint8)
    labels = torch.arange(8) % NUM_CLASSES
    class_mean = torch.full((NUM_CLASSES,), 1.0 / NUM_CLASSES)
    shipped = MeanTeacherConfig(threshold=0.0)
    _, parts = mean_teacher_step(student, teacher, source, labels, target, class_mean.clone(),
                                 shipped, torch.Generator().manual_seed(0))
    assert set(parts) == {"source_loss", "target_loss", "balance", "confident"}
    levers = replace(shipped, source_texture=1.0, im_weight=0.5, centroid_weight=0.3)
    centroids = torch.zeros(NUM_CLASSES, 512)
    loss, parts = mean_teacher_step(student, teacher, source, labels, target, class_mean,
                                    levers, torch.Generator().manual_seed(0), centroids)
    assert {"information", "centroid_loss", "centroid_agrees"} <= set(parts)
    assert centroids.abs().sum() > 0
    loss.backward()
    assert student.extractor.extract[0].block[0].weight.grad.abs().sum() > 0
