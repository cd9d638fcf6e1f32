"""hw3_data readers: arrays, cache, transforms and clear errors."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch
from PIL import Image

from hw3lab.data import (
    DataLayoutError,
    load_digits,
    load_faces,
    load_split,
    readers,
    resolve_data_root,
)
from hw3lab.data.transforms import (
    augment_digits,
    digits_for_model,
    faces_for_model,
    faces_to_uint8,
    horizontal_flip,
    to_grey,
    to_tensor,
    uses_grey,
)
from hw3lab.devtools.fixture_data import write_hw3_data


@pytest.fixture
def data_root(tmp_path):
    return write_hw3_data(tmp_path / "hw3_data")


def test_reads_every_split(data_root) -> None:
    faces = load_faces("train", data_root)
    assert faces.images.shape == (12, 64, 64, 3) and faces.images.dtype == np.uint8
    assert faces.targets.shape == (12, 13) and set(np.unique(faces.targets)) <= {0.0, 1.0}
    usps, svhn = load_digits("usps", "test", data_root), load_digits("svhn", "test", data_root)
    assert usps.images.shape == (12, 28, 28, 1) and svhn.images.shape == (12, 28, 28, 3)
    assert usps.targets.dtype == np.int64 and list(usps.targets[:3]) == [0, 1, 2]
    assert usps.names[0] == "00000.png"
    on_disk = np.asarray(Image.open(data_root / "digits/svhn/test/00003.png"))
    np.testing.assert_array_equal(svhn.images[3], on_disk)


def test_root_comes_from_argument_then_env_then_default(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HW3_DATA", str(tmp_path / "env"))
    assert resolve_data_root(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_root() == tmp_path / "env"
    monkeypatch.delenv("HW3_DATA")
    assert str(resolve_data_root()) == "hw3_data"


def test_second_load_comes_from_the_cache(data_root, monkeypatch) -> None:
    first = load_split("mnistm", "train", data_root)
    monkeypatch.setattr(readers, "_decode_split", lambda *a: pytest.fail("decoded again"))
    second = load_split("mnistm", "train", data_root)
    np.testing.assert_array_equal(first.images, second.images)
    assert first.names == second.names


def test_cache_is_invalidated_when_the_folder_changes(data_root) -> None:
    before = load_split("usps", "train", data_root)
    path = data_root / "digits/usps/train/00000.png"
    Image.fromarray(np.full((28, 28), 7, np.uint8)).save(path)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    after = load_split("usps", "train", data_root)
    assert (after.images[0] == 7).all() and not (before.images[0] == 7).all()


def test_a_damaged_cache_is_rebuilt(data_root) -> None:
    load_split("svhn", "train", data_root)
    for cached in readers.cache_dir().glob("svhn-train-*.npz"):
        cached.write_bytes(b"not an npz")
    assert len(load_split("svhn", "train", data_root)) == 12


def test_wrong_root(tmp_path) -> None:
    with pytest.raises(DataLayoutError, match="does not exist"):
        load_digits("usps", "train", tmp_path / "nowhere")


def test_missing_folder(data_root) -> None:
    (data_root / "digits/svhn/test").rename(data_root / "digits/svhn/elsewhere")
    with pytest.raises(DataLayoutError, match="missing folder"):
        load_digits("svhn", "test", data_root)


def test_unknown_dataset_and_split(data_root) -> None:
    with pytest.raises(DataLayoutError, match="unknown dataset"):
        load_split("mnist", "train", data_root)
    with pytest.raises(DataLayoutError, match="unknown split"):
        load_split("usps", "val", data_root)


def test_row_without_image(data_root) -> None:
    (data_root / "digits/usps/train/00004.png").unlink()
    with pytest.raises(DataLayoutError, match="missing from"):
        load_digits("usps", "train", data_root)


def test_image_without_row(data_root) -> None:
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(data_root / "digits/usps/train/extra.png")
    with pytest.raises(DataLayoutError, match="without a row"):
        load_digits("usps", "train", data_root)


def test_label_outside_range(data_root) -> None:
    csv = data_root / "digits/mnistm/test.csv"
    csv.write_text(csv.read_text().replace("00002.png,2", "00002.png,10"))
    with pytest.raises(DataLayoutError, match="outside 0-9"):
        load_digits("mnistm", "test", data_root)


def test_unreadable_image(data_root) -> None:
    (data_root / "digits/mnistm/test/00001.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(DataLayoutError, match="unreadable image"):
        load_digits("mnistm", "test", data_root)


def test_wrong_header_and_image_size(data_root) -> None:
    csv = data_root / "face/test.csv"
    csv.write_text(csv.read_text().replace("Smiling", "Grinning"))
    with pytest.raises(DataLayoutError, match="header"):
        load_faces("test", data_root)
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(data_root / "face/train/train00000.png")
    with pytest.raises(DataLayoutError, match="expected 64x64"):
        load_faces("train", data_root)


def test_digit_recipe_is_grey_normalised_three_channels() -> None:
    assert uses_grey(("usps", "mnistm")) and uses_grey(("mnistm", "svhn"))
    assert not uses_grey(("usps", "usps"))
    images = to_tensor(np.array([[[[255, 0, 0]] * 28] * 28], dtype=np.uint8))
    x = digits_for_model(images, grey=True)
    assert x.shape == (1, 3, 28, 28)
    torch.testing.assert_close(x[0, :, 0, 0], torch.full((3,), 0.299 * 2 - 1))
    colour = digits_for_model(images, grey=False)
    torch.testing.assert_close(colour[0, :, 0, 0], torch.tensor([1.0, -1.0, -1.0]))
    grey_input = to_tensor(np.zeros((2, 28, 28, 1), np.uint8))
    assert digits_for_model(grey_input, grey=True).shape == (2, 3, 28, 28)


def test_augment_digits_is_identity_without_randomness_and_inverts_on_demand() -> None:
    images = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    still = augment_digits(images, torch.Generator().manual_seed(1), zoom=(1, 1), degrees=0,
                           shift=0, invert=0)
    torch.testing.assert_close(still, images, atol=1e-5, rtol=0)
    inverted = augment_digits(images, torch.Generator().manual_seed(1), zoom=(1, 1),
                              degrees=0, shift=0, invert=1)
    torch.testing.assert_close(inverted, 1 - images, atol=1e-5, rtol=0)


def test_augment_digits_is_seeded_keeps_range_and_shrinks_a_full_frame_digit() -> None:
    full = torch.ones(64, 1, 28, 28)
    full[..., :, :2] = full[..., :, -2:] = 0  # a bright block with dark side columns
    first = augment_digits(full, torch.Generator().manual_seed(3), invert=0)
    again = augment_digits(full, torch.Generator().manual_seed(3), invert=0)
    torch.testing.assert_close(first, again)
    assert first.min() >= 0 and first.max() <= 1 and first.shape == full.shape
    assert not torch.equal(first[0], first[1])  # each image has its own transform
    half = augment_digits(full, torch.Generator().manual_seed(3), zoom=(0.5, 0.5), degrees=0,
                          shift=0, invert=0)
    # zoomed to half size, the dark side columns now reach a quarter of the way in
    assert half[:, :, 14, 6].max() < 0.5 and half[:, :, 14, 14].min() > 0.5
    training = digits_for_model((full * 255).to(torch.uint8), grey=True,
                                augment_with=torch.Generator().manual_seed(3))
    assert training.shape == (64, 3, 28, 28) and training.min() >= -1 and training.max() <= 1


def test_grey_matches_pil() -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    ours = to_grey(to_tensor(rgb[None]).float())[0, 0].numpy()
    pil = np.asarray(Image.fromarray(rgb).convert("L"), np.float32)
    assert np.abs(ours - pil).max() <= 1.0  # PIL rounds to integers


def test_face_round_trip_and_flip() -> None:
    images = np.random.default_rng(2).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    x = faces_for_model(to_tensor(images))
    assert x.min() >= -1 and x.max() <= 1
    np.testing.assert_array_equal(faces_to_uint8(x), images)
    flipped = horizontal_flip(x, torch.Generator().manual_seed(0))
    for original, result in zip(x, flipped, strict=True):
        assert torch.equal(result, original) or torch.equal(result, original.flip(-1))


def test_shear_slants_a_bar_and_stroke_changes_its_width_and_both_off_change_nothing() -> None:
    bar = torch.zeros(8, 1, 28, 28)
    bar[..., 4:24, 13:15] = 1.0  # a vertical stroke, two pixels wide
    fixed = {"zoom": (1, 1), "degrees": 0, "shift": 0, "invert": 0}
    plain = augment_digits(bar, torch.Generator().manual_seed(5), **fixed)
    off = augment_digits(bar, torch.Generator().manual_seed(5), **fixed, shear=0, stroke=0)
    torch.testing.assert_close(off, plain, atol=0, rtol=0)  # and the same random stream

    def column(images: torch.Tensor, row: int) -> torch.Tensor:  # the stroke's centre column
        weights = images[:, 0, row]
        return (weights * torch.arange(28.0)).sum(1) / weights.sum(1)

    slanted = augment_digits(bar, torch.Generator().manual_seed(5), **fixed, shear=0.4)
    lean = column(slanted, 6) - column(slanted, 21)
    assert lean.abs().max() > 2 and (lean > 0).any() and (lean < 0).any()
    assert (column(plain, 6) - column(plain, 21)).abs().max() < 0.1

    restroked = augment_digits(bar, torch.Generator().manual_seed(5), **fixed, stroke=1.0)
    width = (restroked[:, 0, 14] > 0.5).sum(1)  # the stroke's width in the middle row
    assert set(width.tolist()) == {0, 4}  # eroded away (2 - 2) or dilated (2 + 2)
