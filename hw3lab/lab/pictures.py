"""The pictures the lab shows, as plain uint8 arrays: grids, captions, titled rows and bar
charts (the interactive plots are :mod:`hw3lab.lab.charts`)."""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image, ImageDraw


def tile(images: np.ndarray, columns: int, gap: int = 2, scale: int = 1) -> np.ndarray:
    """(N, H, W, 3) uint8 -> one grid image with white gaps, ``columns`` per row."""
    n, h, w, _ = images.shape
    rows = -(-n // columns)
    grid = np.full((rows * (h + gap) - gap, min(n, columns) * (w + gap) - gap, 3), 255, np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        grid[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = image
    return enlarge(grid, scale)


def enlarge(image: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscaling, so small faces and digits show their pixels."""
    return image.repeat(scale, 0).repeat(scale, 1) if scale > 1 else image


def with_captions(images: np.ndarray, captions: list[str], scale: int = 2) -> np.ndarray:
    """Each image enlarged, with its caption written in a strip underneath: (N, H', W', 3)."""
    out = []
    for image, caption in zip(images, captions, strict=True):
        big = Image.fromarray(enlarge(image, scale))
        canvas = Image.new("RGB", (big.width, big.height + 14), "white")
        canvas.paste(big)
        ImageDraw.Draw(canvas).text((2, big.height + 1), caption, fill="black")
        out.append(np.asarray(canvas))
    return np.stack(out)


def pad_width(image: np.ndarray, width: int, below: int = 4) -> np.ndarray:
    """``image`` on a white canvas ``width`` wide and ``below`` pixels taller (rows of a panel
    of unequal widths stack into one image)."""
    pad = np.full((image.shape[0] + below, width, 3), 255, np.uint8)
    pad[:image.shape[0], :image.shape[1]] = image
    return pad


def titled_rows(rows: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Images stacked top to bottom, each under its title, on one white canvas (the shipped
    model's picture over a student's own model's)."""
    width = max(image.shape[1] for _, image in rows)
    parts = []
    for title, image in rows:
        strip = Image.new("RGB", (width, 16), "white")
        ImageDraw.Draw(strip).text((2, 2), title, fill="black")
        parts += [np.asarray(strip), pad_width(image, width, below=0)]
    return np.concatenate(parts)


CHART_PANEL = (220, 200)  # width, height of one bar chart, in pixels
CHART_BARS = (20, 30, 200, 150)  # left, top, right, bottom of the bars inside a panel


PREDICTED, OTHER = (0xE4, 0x57, 0x2E), (0xCC, 0xCC, 0xCC)  # bar colours


def probability_chart(panels: dict[str, np.ndarray | str], title: str) -> np.ndarray:
    """One bar chart per panel title of the first row of its (N, 10) class probabilities, side
    by side, the prediction highlighted; a panel given as text shows its first clause instead.
    Bars and verdicts go onto a frame drawn once per set of titles (:func:`_chart_frame`):
    matplotlib took 200 ms a chart, most of a digit request's time under load; drawing it all
    with PIL, its 61 labels took most of 13 ms on busy cores; this takes under 1 ms."""
    width, _ = CHART_PANEL
    left, top, right, bottom = CHART_BARS
    canvas = np.array(_chart_frame(tuple(panels), title))
    step = (right - left) / 10
    y0 = 16
    for i, probabilities in enumerate(panels.values()):
        x0 = i * width
        if isinstance(probabilities, str):
            picture = Image.fromarray(canvas)
            ImageDraw.Draw(picture).text((x0 + left + 40, y0 + (top + bottom) // 2),
                                         probabilities.split(":")[0], fill="black")
            canvas = np.asarray(picture).copy()
            continue
        first = probabilities[0]
        predicted = int(first.argmax())
        for digit, value in enumerate(first):
            bar_top = round(y0 + bottom - float(value) * (bottom - top))
            bar_left = round(x0 + left + step * digit + 2)
            bar_right = round(x0 + left + step * (digit + 1) - 2)
            canvas[bar_top:y0 + bottom + 1, bar_left:bar_right + 1] = \
                PREDICTED if digit == predicted else OTHER
        verdict = _label(f"predicts {predicted}")
        x, y = x0 + left + 50, y0 + bottom + 16
        canvas[y:y + verdict.shape[0], x:x + verdict.shape[1]] = verdict
    return canvas


@functools.lru_cache(maxsize=64)
def _chart_frame(names: tuple[str, ...], title: str) -> np.ndarray:
    """What a probability chart shows whatever the probabilities: its title, and each panel's
    name, box and class labels."""
    width, height = CHART_PANEL
    left, top, right, bottom = CHART_BARS
    canvas = Image.new("RGB", (width * len(names), height + 16), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 2), title, fill="black")
    step = (right - left) / 10
    for i, name in enumerate(names):
        x0, y0 = i * width, 16
        draw.text((x0 + left, y0), name, fill="black")
        draw.rectangle((x0 + left, y0 + top, x0 + right, y0 + bottom), outline="#888888")
        for digit in range(10):
            draw.text((x0 + left + step * digit + step / 2 - 3, y0 + bottom + 2), str(digit),
                      fill="black")
    frame = np.asarray(canvas)
    frame.flags.writeable = False
    return frame


@functools.lru_cache(maxsize=64)
def _label(text: str) -> np.ndarray:
    """``text`` in black on white, as PIL's default font draws it, cut to the text's box."""
    _, _, width, height = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), text)
    picture = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(picture).text((0, 0), text, fill="black")
    label = np.asarray(picture)
    label.flags.writeable = False
    return label
