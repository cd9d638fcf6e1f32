"""The pictures the lab shows, as plain uint8 arrays: grids, captions, titled rows and bar
charts (the interactive plots are :mod:`hw3lab.lab.charts`)."""

from __future__ import annotations

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


def probability_chart(panels: dict[str, np.ndarray | str], title: str) -> np.ndarray:
    """One bar chart per panel title of the first row of its (N, 10) class probabilities, side
    by side, the prediction highlighted; a panel given as text shows its first clause instead.
    Drawn with PIL: matplotlib took 200 ms a chart, most of a digit request's time under load;
    this takes about 1 ms."""
    width, height = CHART_PANEL
    left, top, right, bottom = CHART_BARS
    canvas = Image.new("RGB", (width * len(panels), height + 16), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 2), title, fill="black")
    step = (right - left) / 10
    for i, (name, probabilities) in enumerate(panels.items()):
        x0, y0 = i * width, 16
        draw.text((x0 + left, y0), name, fill="black")
        draw.rectangle((x0 + left, y0 + top, x0 + right, y0 + bottom), outline="#888888")
        for digit in range(10):
            draw.text((x0 + left + step * digit + step / 2 - 3, y0 + bottom + 2), str(digit),
                      fill="black")
        if isinstance(probabilities, str):
            draw.text((x0 + left + 40, y0 + (top + bottom) // 2), probabilities.split(":")[0],
                      fill="black")
            continue
        first = probabilities[0]
        predicted = int(first.argmax())
        for digit, value in enumerate(first):
            bar_top = y0 + bottom - float(value) * (bottom - top)
            draw.rectangle((x0 + left + step * digit + 2, bar_top,
                            x0 + left + step * (digit + 1) - 2, y0 + bottom),
                           fill="#e4572e" if digit == predicted else "#cccccc")
        draw.text((x0 + left + 50, y0 + bottom + 16), f"predicts {predicted}", fill="black")
    return np.asarray(canvas)
