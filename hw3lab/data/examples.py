"""Synthetic digit images for tests and benches (the lab itself shows real ones: hw3_data's
or the shipped sample, :mod:`hw3lab.data.samples`).

Digits are drawn with Pillow's bundled font (no system fonts, no downloads), jittered in size,
position and angle, and styled like each domain: USPS white on black, MNIST-M a coloured digit
over a noisy colour background, SVHN a coloured digit on a plain colour plate.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from hw3lab.data.layout import DIGIT_DOMAINS, DIGIT_SIZE

_CANVAS = 56  # draw at twice the size, then downsample for smooth strokes


def render_digits(domain: str, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` digits in ``domain``'s style: (count, 28, 28, 3) uint8 and (count,) labels
    0-9 (cycled, so every class appears). The same seed gives the same images."""
    if domain not in DIGIT_DOMAINS:
        raise ValueError(f"unknown digit domain {domain!r}: expected one of {DIGIT_DOMAINS}")
    rng = np.random.default_rng([seed, DIGIT_DOMAINS.index(domain)])
    labels = np.arange(count) % 10
    images = np.stack([_render(int(label), domain, rng) for label in labels])
    return images, labels.astype(np.int64)


def _render(label: int, domain: str, rng: np.random.Generator) -> np.ndarray:
    font = ImageFont.load_default(size=int(rng.integers(34, 46)))
    mask = Image.new("L", (_CANVAS, _CANVAS), 0)
    draw = ImageDraw.Draw(mask)
    left, top, right, bottom = draw.textbbox((0, 0), str(label), font=font)
    x = (_CANVAS - (right - left)) / 2 - left + rng.uniform(-4, 4)
    y = (_CANVAS - (bottom - top)) / 2 - top + rng.uniform(-3, 3)
    draw.text((x, y), str(label), fill=255, font=font, stroke_width=int(rng.integers(1, 3)),
              stroke_fill=255)
    mask = mask.rotate(rng.uniform(-12, 12), resample=Image.Resampling.BILINEAR)
    mask = mask.resize((DIGIT_SIZE, DIGIT_SIZE), Image.Resampling.LANCZOS)
    alpha = np.asarray(mask, dtype=np.float32)[:, :, None] / 255.0
    if domain == "usps":
        foreground, background = np.full(3, 255.0), np.zeros((DIGIT_SIZE, DIGIT_SIZE, 3))
    elif domain == "mnistm":
        foreground = rng.uniform(0, 255, 3)
        background = rng.uniform(0, 255, 3) + rng.normal(0, 40, (DIGIT_SIZE, DIGIT_SIZE, 3))
    else:  # svhn: a plate colour and a contrasting digit colour
        background = np.broadcast_to(rng.uniform(0, 255, 3), (DIGIT_SIZE, DIGIT_SIZE, 3))
        foreground = 255.0 - background[0, 0] + rng.normal(0, 20, 3)
    image = alpha * foreground + (1 - alpha) * background
    return np.clip(image, 0, 255).round().astype(np.uint8)
