"""The sample of real test images shipped with the lab: small, complete, described, rebuilt
reproducibly, and what a lab with no hw3_data shows."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from hw3lab.data.samples import DATASETS, SAMPLES_FILE, build_samples, load_sample, pick_digits
from hw3lab.lab import digits, tsne, vae
from hw3lab.lab.context import LabContext


def test_the_sample_is_small_complete_and_described() -> None:
    assert SAMPLES_FILE.stat().st_size < 3_000_000
    about = json.loads(SAMPLES_FILE.with_suffix(".json").read_text())
    assert about["sha256"] == hashlib.sha256(SAMPLES_FILE.read_bytes()).hexdigest()
    for dataset in DATASETS:
        sample = load_sample(dataset)
        assert len(sample) == len(sample.images) == len(sample.targets) == 100
        assert sample.images.dtype == np.uint8 and about["datasets"][dataset]["terms"]
        if dataset == "face":
            assert sample.images.shape == (100, 64, 64, 3) and sample.targets.shape == (100, 13)
        else:
            assert sample.images.shape[1:3] == (28, 28)
            np.testing.assert_array_equal(sample.targets, np.arange(100) % 10)
            assert sample.images.std() > 20  # real digits, not a blank array


def test_pick_digits_takes_the_first_of_each_class_interleaved(tiny_data: Path,
                                                               tmp_path: Path) -> None:
    from hw3lab.data.readers import load_split

    split = load_split("usps", "test", tiny_data, use_cache=False)  # 12 images, labels i % 10
    assert pick_digits(split, per_class=1).tolist() == list(range(10))
    with pytest.raises(ValueError, match="fewer than 2 images of a class"):
        pick_digits(split, per_class=2)


@pytest.mark.real_data
def test_the_builder_reproduces_the_shipped_sample(real_data: Path, tmp_path: Path) -> None:
    assert build_samples(real_data, tmp_path / "samples.npz") == dict.fromkeys(DATASETS, 100)
    for dataset in DATASETS:
        rebuilt = load_sample(dataset, tmp_path / "samples.npz")
        shipped = load_sample(dataset)
        np.testing.assert_array_equal(rebuilt.images, shipped.images)
        assert rebuilt.names == shipped.names


def test_without_data_the_lab_shows_real_images(lab: LabContext) -> None:
    assert lab.data_root is None
    gallery = digits.examples(lab, "usps->mnistm")
    sample = load_sample("mnistm")
    assert [caption for _, caption in gallery][:2] == ["mnistm test image, label 0",
                                                       "mnistm test image, label 1"]
    assert "shipped sample" in digits.data_note(lab)
    features, images, colourings, _ = digits.digit_features(lab, "usps", "mnistm", "dann", 3000)
    assert len(features) == 200  # every sample digit of both domains, no more
    np.testing.assert_array_equal(images[100:], sample.images)
    _, embedded = tsne.run_tsne(lab, "usps->mnistm dann", 3000, 30, "class")
    assert len(embedded.points) == 200
    panel, table = vae.reconstruct(lab, None, None, 10)
    assert [row[0] for row in table] == [*load_sample("face").names[:10], "mean"]
