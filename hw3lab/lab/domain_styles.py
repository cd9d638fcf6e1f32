"""A drawn digit in each domain's style, classified by every method: the domain shift seen on
the student's own digit.

A clean white-on-black drawing is nothing like an MNIST-M or SVHN digit, so the methods
adapted to those domains may misread it. Rendering it like each domain shows why: plain and
filling the frame like USPS; ``|texture - digit|`` over a colour texture, MNIST-M's own
recipe (the texture from the digit-free corner of a shipped MNIST-M sample image); grey,
low-contrast and between neighbouring digits like an SVHN house-number crop (neighbours from
the sample's USPS digits).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from hw3lab.data.layout import DIGIT_DOMAINS, DIGIT_SIZE
from hw3lab.data.samples import load_sample
from hw3lab.lab.context import LabContext, UnavailableError
from hw3lab.lab.digits import classify
from hw3lab.lab.inputs import sketch_digit
from hw3lab.lab.pictures import enlarge

TEXTURE = 5  # which MNIST-M sample image lends its texture (a colourful one)
TEXTURE_CORNER = 7  # its top-left pixels hold photo only: MNIST digits keep a 4-pixel margin
NEIGHBOURS = (3, 0)  # which USPS sample digits (wide ones) stand left and right of the drawing
SVHN_PLATE, SVHN_INK = 105.0, 165.0  # grey levels: low contrast, like a weathered plate


def _resized(grey: np.ndarray, height: int, width: int) -> np.ndarray:
    return np.asarray(Image.fromarray(grey.astype(np.uint8)).resize(
        (width, height), Image.Resampling.LANCZOS), np.float32)


def usps_style(digit: np.ndarray) -> np.ndarray:
    """White on black, the digit's 20-pixel box grown to fill the frame as USPS digits do."""
    grown = _resized(digit[4:24, 4:24, 0], 26, 26)
    out = np.zeros((DIGIT_SIZE, DIGIT_SIZE), np.float32)
    out[1:27, 1:27] = grown
    return np.repeat(np.clip(out, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)


def texture_of(image: np.ndarray) -> np.ndarray:
    """A (28, 28, 3) photo texture: the digit-free corner of an MNIST-M image, enlarged."""
    corner = Image.fromarray(image[:TEXTURE_CORNER, :TEXTURE_CORNER])
    return np.asarray(corner.resize((DIGIT_SIZE, DIGIT_SIZE), Image.Resampling.BICUBIC))


def mnistm_style(digit: np.ndarray, texture: np.ndarray) -> np.ndarray:
    """MNIST-M's recipe: the binarised digit subtracted from a colour texture, absolute."""
    ink = (digit[:, :, :1] > 127).astype(np.float32) * 255.0
    return np.abs(texture.astype(np.float32) - ink).astype(np.uint8)


def svhn_style(digit: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Grey and low-contrast, cut from a row of digits: parts of two neighbours show."""
    row = np.concatenate([_resized(image[:, :, 0], DIGIT_SIZE, 20)
                          for image in (left, digit, right)], axis=1)
    crop = row[:, 16:16 + DIGIT_SIZE] / 255.0
    grey = SVHN_PLATE + (SVHN_INK - SVHN_PLATE) * crop
    return np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)


def styled(digit: np.ndarray) -> dict[str, np.ndarray]:
    """The (28, 28, 3) white-on-black ``digit`` in each domain's style."""
    mnistm, usps = load_sample("mnistm"), load_sample("usps")
    if mnistm is None or usps is None:
        raise UnavailableError("the domain styles need the shipped sample "
                               "(hw3lab/data/samples.npz): rebuild it with "
                               "python -m hw3lab.data.samples --data DIR")
    left, right = (np.repeat(usps.images[i], 3 // usps.images.shape[3], axis=2)
                   for i in NEIGHBOURS)
    texture = texture_of(mnistm.images[TEXTURE])
    return {"usps": usps_style(digit), "mnistm": mnistm_style(digit, texture),
            "svhn": svhn_style(digit, left, right)}


def classify_styles(ctx: LabContext, task: Any, sketch: Any,
                    own: Any = None) -> tuple[np.ndarray, list[list[str]]]:
    """The drawing in each domain's style side by side, and every style's prediction by every
    method (and the session's own model), in one table."""
    styles = styled(sketch_digit(sketch))
    images = np.stack([styles[d] for d in DIGIT_DOMAINS])
    _, _, table = classify(ctx, task, images, [f"{d} style" for d in DIGIT_DOMAINS], own)
    gap = np.full((DIGIT_SIZE, 2, 3), 255, np.uint8)
    strip = np.concatenate([part for image in images for part in (image, gap)][:-1], axis=1)
    return enlarge(strip, 6), table
