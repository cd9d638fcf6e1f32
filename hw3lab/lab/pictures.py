"""The pictures the lab shows, as plain uint8 arrays: grids, captions, bar charts and scatter
plots that know where their points are (so a click finds one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from hw3lab.plots import draw_by_label


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


def notice(size: tuple[int, int], text: str) -> np.ndarray:
    """A white (height, width) panel with ``text`` half-way down: what stands in for a plot
    that cannot be drawn."""
    canvas = Image.new("RGB", (size[1], size[0]), "white")
    ImageDraw.Draw(canvas).text((10, size[0] // 2), text, fill="black")
    return np.asarray(canvas)


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


@dataclass(frozen=True)
class PlotFrame:
    """How a scatter plot's pixels map to its data, so a click finds the nearest point."""

    left: float
    top: float
    width: float
    height: float
    xlim: tuple[float, float]
    ylim: tuple[float, float]

    def to_data(self, x: float, y: float) -> tuple[float, float]:
        fx, fy = (x - self.left) / self.width, (y - self.top) / self.height
        return (self.xlim[0] + fx * (self.xlim[1] - self.xlim[0]),
                self.ylim[1] - fy * (self.ylim[1] - self.ylim[0]))


def new_figure(size: tuple[float, float], dpi: int) -> Any:
    """A matplotlib figure on its own Agg canvas: no pyplot, whose global state is not safe
    when requests draw in several threads at once."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # on use: the lab starts fast
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def figure_to_array(figure: Any) -> np.ndarray:
    """Render a figure from :func:`new_figure` to an RGB uint8 array."""
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[:, :, :3].copy()


def scatter(points: np.ndarray, labels: np.ndarray, names: list[str], title: str,
            size: tuple[float, float] = (5.0, 5.0), dpi: int = 100) -> tuple[np.ndarray, PlotFrame]:
    """A 2-D scatter coloured by integer ``labels`` (``names`` for the legend), as an image and
    the frame that maps its pixels back to ``points``' coordinates."""
    figure = new_figure(size, dpi)
    box = (0.06, 0.06, 0.9, 0.86)  # left, bottom, width, height as fractions of the figure
    axes = figure.add_axes(box)
    span = points.max(axis=0) - points.min(axis=0) + 1e-6
    xlim = (float(points[:, 0].min() - 0.03 * span[0]), float(points[:, 0].max() + 0.03 * span[0]))
    ylim = (float(points[:, 1].min() - 0.03 * span[1]), float(points[:, 1].max() + 0.03 * span[1]))
    draw_by_label(axes, points, labels, names)
    axes.set(xlim=xlim, ylim=ylim)
    axes.set_title(title, fontsize=9)
    axes.legend(fontsize=6, markerscale=2, loc="upper right", framealpha=0.7)
    width_px, height_px = size[0] * dpi, size[1] * dpi
    frame = PlotFrame(box[0] * width_px, (1 - box[1] - box[3]) * height_px, box[2] * width_px,
                      box[3] * height_px, xlim, ylim)
    return figure_to_array(figure), frame


def nearest(points: np.ndarray, frame: PlotFrame, x: float, y: float) -> int:
    """Index of the point nearest to pixel (``x``, ``y``) of a plot drawn with ``frame``."""
    dx, dy = frame.to_data(x, y)
    scale = np.array([frame.xlim[1] - frame.xlim[0], frame.ylim[1] - frame.ylim[0]])
    return int(np.argmin((((points - (dx, dy)) / scale) ** 2).sum(axis=1)))
