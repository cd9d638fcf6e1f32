"""Every split of the real hw3_data (skipped when it is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from hw3lab.data import load_split

# (dataset, split) -> number of images, as ../shared/hw3_data/PROVENANCE.md states.
EXPECTED = {
    ("face", "train"): 9000, ("face", "test"): 1000,
    ("usps", "train"): 7291, ("usps", "test"): 2007,
    ("mnistm", "train"): 20000, ("mnistm", "test"): 9001,
    ("svhn", "train"): 7000, ("svhn", "test"): 3000,
}


@pytest.mark.real_data
@pytest.mark.parametrize(("dataset", "split"), list(EXPECTED))
def test_real_split_counts_and_labels(real_data, dataset: str, split: str) -> None:
    data = load_split(dataset, split, real_data)
    assert len(data) == len(data.images) == len(data.targets) == EXPECTED[dataset, split]
    assert data.images.dtype == np.uint8
    if dataset == "face":
        assert data.images.shape[1:] == (64, 64, 3)
        assert data.targets.shape == (len(data), 13)
        assert set(np.unique(data.targets)) == {0.0, 1.0}
    else:
        assert data.images.shape[1:3] == (28, 28)
        assert data.images.shape[3] == (1 if dataset == "usps" else 3)
        assert set(np.unique(data.targets)) == set(range(10))  # every class present, 0-9 only
