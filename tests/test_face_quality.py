"""The local face-quality measures, the GAN's attribute directions and their sliders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from hw3lab import limits
from hw3lab.analysis.face_quality import (
    References,
    frechet_distance,
    judge,
    kernel_distance,
    mean_pairwise_distance,
    nearest_distances,
    references,
    untrained_sampler,
)
from hw3lab.analysis.gan_directions import (
    DIRECTIONS_FILE,
    GanDirections,
    fit_direction,
    load_directions,
    save_directions,
)
from hw3lab.checkpoints import CheckpointError
from hw3lab.data import load_faces
from hw3lab.data.layout import FACE_ATTRIBUTES
from hw3lab.inference import ModelStore
from hw3lab.lab import LabContext, gan


def test_frechet_distance_matches_the_closed_form_for_gaussians() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 3))
    b = rng.standard_normal((20000, 3)) * 2 + np.array([1.0, 0.0, 0.0])
    # |mu|^2 + sum(1 + 4 - 2 * sqrt(1 * 4)) = 1 + 3 * 1
    assert frechet_distance(a, b) == pytest.approx(4.0, rel=0.03)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_kernel_distance_tells_same_from_shifted() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((600, 8)), rng.standard_normal((600, 8))
    same = kernel_distance(a, b, subsets=10, size=200)
    shifted = kernel_distance(a, b + 1.0, subsets=10, size=200)
    assert abs(same) < 0.02 < shifted


def test_diversity_and_nearest_distances() -> None:
    assert mean_pairwise_distance(np.zeros((5, 4))) == 0.0
    assert mean_pairwise_distance(np.array([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    pool = np.array([[0.0, 0.0], [10.0, 0.0]])
    assert nearest_distances(np.array([[1.0, 0.0], [9.0, 0.0]]), pool) == pytest.approx([1, 1])


def test_judge_puts_real_faces_at_the_floor_and_flags_copies(
        random_checkpoints: Path) -> None:
    store = ModelStore(random_checkpoints, "cpu")
    rng = np.random.default_rng(0)
    test = rng.integers(0, 256, (60, 64, 64, 3), dtype=np.uint8)
    train = rng.integers(0, 256, (80, 64, 64, 3), dtype=np.uint8)
    test_features, train_features = store.face_features(test), store.face_features(train)
    refs = References(test_features, train_features, floor=0.0, ceiling=1.0,
                      real_diversity=mean_pairwise_distance(test_features),
                      test_to_train=nearest_distances(test_features, train_features))
    copies = judge(store, refs, train[:60])
    assert copies.copying == 0.0 and copies.closer_than_any_test == 1.0
    assert copies.diversity == pytest.approx(1.0, rel=0.3)
    collapsed = judge(store, refs, np.repeat(test[:1], 60, axis=0))
    assert collapsed.diversity == pytest.approx(0.0, abs=1e-5)


def test_the_ceiling_averages_the_same_untrained_generators_whatever_the_seed(
        random_checkpoints: Path, tiny_data: Path) -> None:
    store = ModelStore(random_checkpoints, "cpu")
    first, other = (references(store, tiny_data, seed, ceiling_inits=2) for seed in (0, 1))
    test = store.face_features(load_faces("test", tiny_data).images)
    each = [frechet_distance(store.face_features(untrained_sampler(init)(len(test), init)), test)
            for init in (0, 1)]
    assert first.ceiling == pytest.approx(np.mean(each)) == other.ceiling
    assert each[0] != pytest.approx(each[1])  # one draw alone would set a different scale


def test_fit_direction_recovers_a_planted_direction() -> None:
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((4000, 128)).astype(np.float32)
    planted = rng.standard_normal(128)
    planted /= np.linalg.norm(planted)
    direction, accuracy = fit_direction(noise, noise @ planted + 0.1 * rng.standard_normal(4000))
    assert float(direction @ planted) > 0.9
    assert accuracy > 95


def test_directions_round_trip_and_refuse_damage(tmp_path: Path) -> None:
    found = GanDirections(np.eye(len(FACE_ATTRIBUTES), 128, dtype=np.float32),
                          np.full(len(FACE_ATTRIBUTES), 90.0), np.full(len(FACE_ATTRIBUTES), 40.0))
    path = save_directions(found, tmp_path / DIRECTIONS_FILE, {"samples": 10})
    np.testing.assert_array_equal(load_directions(path), found.directions)
    with pytest.raises(CheckpointError, match="python -m hw3lab.analysis.gan_directions"):
        load_directions(tmp_path / "missing.safetensors")
    path.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="damaged"):
        load_directions(path)
    save_directions(found, path)
    save_file({"directions": torch.zeros(3, 128)}, str(path))
    with pytest.raises(CheckpointError, match="13 face attributes"):
        load_directions(path)


def test_attribute_slider_moves_the_face_and_reports_attributes(
        random_checkpoints: Path) -> None:
    ctx = LabContext(random_checkpoints, random_checkpoints / "no-data")
    zeros = [0.0] * len(FACE_ATTRIBUTES)
    face, seen = gan.edit_face(ctx, 7, *zeros)
    moved, _ = gan.edit_face(ctx, 7, 3.0, *zeros[1:])
    again, _ = gan.edit_face(ctx, 7, *zeros)
    assert face.shape == (256, 256, 3)
    assert set(seen) == {name.replace("_", " ") for name in FACE_ATTRIBUTES}
    assert all(0.0 <= p <= 1.0 for p in seen.values())
    np.testing.assert_array_equal(face, again)
    assert not np.array_equal(face, moved)
    with pytest.raises(limits.LimitError):
        gan.edit_face(ctx, 7, 99.0, *zeros[1:])
    with pytest.raises(limits.LimitError, match="13 slider values"):
        gan.edit_face(ctx, 7, 0.0)
