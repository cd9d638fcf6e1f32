"""User images of every odd kind become model input or a clear message."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from hw3lab.data.images import ImageInputError, fit_digit, fit_face, open_image


def encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def test_rgba_is_composited_on_white() -> None:
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    assert np.asarray(open_image(encode(rgba))).min() == 255


def test_sixteen_bit_is_rescaled() -> None:
    deep = Image.fromarray(np.full((8, 8), 65535, np.uint16))
    image = open_image(encode(deep))
    assert image.mode == "RGB" and np.asarray(image).min() == 255


def test_palette_and_animation_take_the_first_frame() -> None:
    palette = Image.new("P", (8, 8), 3)
    palette.putpalette([0, 0, 0] * 3 + [10, 20, 30] + [0, 0, 0] * 252)
    assert tuple(np.asarray(open_image(encode(palette)))[0, 0]) == (10, 20, 30)
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    gif = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert np.asarray(open_image(gif))[0, 0, 0] > 200


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty"), (b"hello, not an image", "not a readable image"),
    (encode(Image.new("RGB", (1, 1))), "too small"),
])
def test_bad_inputs_have_clear_messages(data: bytes, message: str) -> None:
    with pytest.raises(ImageInputError, match=message):
        open_image(data)


def test_huge_image_is_refused_before_decoding(monkeypatch) -> None:
    from hw3lab import limits
    monkeypatch.setattr(limits, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageInputError, match="too large"):
        open_image(encode(Image.new("L", (40, 40))))


def test_fit_to_model_sizes() -> None:
    wide = Image.new("RGB", (300, 100), (0, 0, 0))
    wide.paste((255, 255, 255), (100, 0, 200, 100))  # a white centre square
    face = fit_face(wide)
    assert face.shape == (64, 64, 3) and face.min() > 200  # centre crop keeps only the square
    assert fit_digit(wide).shape == (28, 28, 3)


def test_arrays_and_files(tmp_path) -> None:
    assert open_image(np.zeros((8, 8), np.float32)).size == (8, 8)
    assert open_image(np.ones((8, 8, 4), np.uint8) * 255).mode == "RGB"
    with pytest.raises(ImageInputError, match="must be"):
        open_image(np.zeros((8, 8, 7), np.uint8))
    with pytest.raises(ImageInputError, match="cannot read"):
        open_image(tmp_path / "missing.png")
