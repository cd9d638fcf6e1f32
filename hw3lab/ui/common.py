"""What every tab shares: the lab's context (models, data, derived latents), user-input checks
that end in a clear message, and image/plot helpers that return plain arrays."""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
import numpy as np
from PIL import Image, ImageDraw

from hw3lab import limits
from hw3lab.analysis.gan_directions import DIRECTIONS_FILE, load_directions
from hw3lab.analysis.latents import LATENTS_FILE, VaeLatents, build_vae_latents, load_vae_latents
from hw3lab.checkpoints import CheckpointError
from hw3lab.data.images import ImageInputError, open_image
from hw3lab.data.layout import DataLayoutError, resolve_data_root
from hw3lab.data.readers import Split, load_split
from hw3lab.inference import TASKS, ModelStore, digit_checkpoint, task_name
from hw3lab.plots import draw_by_label

TASK_NAMES = tuple(f"{s}->{t}" for s, t in TASKS)
TRAIN_COMMANDS = {"vae": "python -m train.vae", "gan": "python -m train.gan"}


class UnavailableError(RuntimeError):
    """A feature needs a checkpoint or data the lab does not have; the message says which and
    how to get it."""


USER_ERRORS = (limits.LimitError, ImageInputError, CheckpointError, DataLayoutError,
               UnavailableError)
F = TypeVar("F", bound=Callable[..., Any])


def user_errors(function: F) -> F:
    """Turn the lab's expected failures into a ``gr.Error`` the page shows as a message."""
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except USER_ERRORS as error:
            raise gr.Error(str(error), print_exception=False) from None
    return wrapper  # type: ignore[return-value]


def bind(function: Callable[..., Any], ctx: LabContext) -> Callable[..., Any]:
    """``function`` with the lab's context as first argument, as a Gradio callback: its other
    parameters keep their names (they name the API's parameters), errors become messages, and
    Gradio's own messages name the callback."""
    callback = user_errors(functools.partial(function, ctx))
    callback.__name__ = function.__name__
    return callback


C = TypeVar("C", bound=gr.components.Component)
# Gradio's number and choice widgets refuse API values outside their range or choices with
# messages that echo the value whole (a 100,000-character string, a 400-digit number), or, for
# text in a number, with a TypeError naming Gradio's internals.
_PREPROCESS_REFUSALS = (gr.Error, TypeError, ValueError, OverflowError)
# Gradio decodes webcam pictures and sketches itself, before the callback's checks.
_DECODE_FAILURES = (OSError, ValueError, TypeError, SyntaxError, EOFError,
                    Image.DecompressionBombError)


def checked(component: C) -> C:
    """``component`` passing a value its preprocessing refuses on unchanged, so the callback's
    :mod:`hw3lab.limits` check answers with a short message naming the argument. (A wrapped
    method, not a subclass: Gradio writes a ``.pyi`` file beside any module that subclasses a
    component.)"""
    preprocess = component.preprocess

    def let_the_callback_check(payload: Any) -> Any:
        try:
            return preprocess(payload)
        except _PREPROCESS_REFUSALS:
            return payload

    component.preprocess = let_the_callback_check  # type: ignore[method-assign]
    return component


def decode_checked(component: C) -> C:
    """``component`` (an image input Gradio decodes itself) answering a file it cannot decode
    with a clear message instead of one about Gradio's internals."""
    preprocess = component.preprocess
    label = getattr(component, "label", None) or "the image"

    def clear_decode_errors(payload: Any) -> Any:
        try:
            return preprocess(payload)
        except _DECODE_FAILURES:
            raise gr.Error(f"{label}: not a readable image (PNG, JPEG, GIF, BMP or WebP) or too "
                           "large", print_exception=False) from None

    component.preprocess = clear_decode_errors  # type: ignore[method-assign]
    return component


def range_slider(limit: limits.Range, label: str, **options: Any) -> gr.Slider:
    """A slider over one of :mod:`hw3lab.limits`' ranges (its default unless ``value`` is
    given), whose API values the callback checks."""
    options.setdefault("value", limit.default)
    return checked(gr.Slider(limit.low, limit.high, step=limit.step, label=label, **options))


def parse_task(task: Any) -> tuple[str, str]:
    """'usps->mnistm' -> ('usps', 'mnistm'), checked against the homework's tasks."""
    source, target = limits.check_choice(task, TASK_NAMES, "the task").split("->")
    return source, target


class LabContext:
    """The lab's shared state: one model store, the optional data folder, derived latents.

    Everything loads lazily on first use, so the first page serves before any model is read.
    """

    def __init__(self, checkpoints: str | os.PathLike, data: str | os.PathLike | None = None,
                 device: str | None = None) -> None:
        self.checkpoints = Path(checkpoints)
        self.store = ModelStore(self.checkpoints, device)
        root = resolve_data_root(data)
        self.data_root: Path | None = root if root.is_dir() else None
        self._splits: dict[tuple[str, str], Split | None] = {}
        self._latents: VaeLatents | None = None
        self._gan_directions: np.ndarray | None = None
        self._lock = threading.RLock()

    # -- availability, as short messages ---------------------------------------------------

    def has_family(self, family: str) -> bool:
        return (self.checkpoints / f"{family}.safetensors").is_file()

    def missing_family(self, family: str) -> str:
        return (f"No {family.upper()} checkpoint in {self.checkpoints}: train one with "
                f"{TRAIN_COMMANDS[family]} --out {self.checkpoints}")

    def require_family(self, family: str) -> None:
        if not self.has_family(family):
            raise UnavailableError(self.missing_family(family))

    def has_digits(self, source: str, target: str, method: str) -> bool:
        return digit_checkpoint(self.checkpoints, source, target, method).is_file()

    def missing_digits(self, source: str, target: str, method: str) -> str:
        return (f"No {method} checkpoint for {task_name(source, target)} in "
                f"{self.checkpoints / 'digits'}: train one with python -m train.{method} "
                f"--source {source} --target {target} --out {self.checkpoints}")

    # -- data --------------------------------------------------------------------------------

    def test_split(self, dataset: str) -> Split | None:
        """The test split of ``dataset`` ('face' or a digit domain), or None without data.

        A data folder that breaks the layout is not silently ignored: the console says once
        which split is unusable and why, and the lab goes on as without data for it."""
        with self._lock:
            if (dataset, "test") not in self._splits:
                split = None
                if self.data_root is not None:
                    try:
                        split = load_split(dataset, "test", self.data_root)
                    except DataLayoutError as error:
                        print(f"hw3_data: {dataset}/test is unusable, the lab goes on without "
                              f"it: {error}", file=sys.stderr, flush=True)
                self._splits[dataset, "test"] = split
            return self._splits[dataset, "test"]

    def latents(self) -> VaeLatents:
        """Test faces' latents: the file shipped beside the VAE, else encoded from the data."""
        with self._lock:
            if self._latents is None:
                path = self.checkpoints / LATENTS_FILE
                if path.is_file():
                    self._latents = load_vae_latents(path)
                else:
                    self.require_family("vae")
                    faces = self.test_split("face")
                    if faces is None:
                        raise UnavailableError(f"No {LATENTS_FILE} in {self.checkpoints} and no "
                                          "hw3_data: the latent directions need one of them")
                    self._latents = build_vae_latents(self.store, faces,
                                                      limits.PRINCIPAL_DIRECTIONS)
            return self._latents

    def gan_directions(self) -> np.ndarray:
        """The GAN's (13, 128) attribute directions, shipped beside it."""
        with self._lock:
            if self._gan_directions is None:
                self.require_family("gan")
                self._gan_directions = load_directions(self.checkpoints / DIRECTIONS_FILE)
            return self._gan_directions


# -- user images ----------------------------------------------------------------------------

def read_image_file(path: Any) -> Image.Image:
    """An uploaded file as an RGB image, after the size checks of :mod:`hw3lab.limits`."""
    if not isinstance(path, str | os.PathLike):
        raise ImageInputError("expected an uploaded image file")
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
    except OSError:
        raise ImageInputError(f"{name}: the upload could not be read") from None
    if size > limits.MAX_UPLOAD_BYTES:
        raise ImageInputError(f"{name}: {size / 1e6:.1f} MB is larger than the "
                              f"{limits.MAX_UPLOAD_BYTES // 2**20} MB limit")
    return open_image(path.read_bytes(), name)


def image_from_array(array: Any, what: str = "the image") -> Image.Image:
    """A webcam frame or an array sent through the API, checked like a file."""
    if not isinstance(array, np.ndarray) or array.ndim not in (2, 3):
        raise ImageInputError(f"{what} is missing or not an image")
    return open_image(array, what)


def upload_paths(files: Any, most: int) -> list[str]:
    """The paths of a multi-file upload (one path or a list), at most ``most`` of them."""
    if files is None or files == []:
        raise ImageInputError("no file uploaded: choose one or more images")
    paths = files if isinstance(files, list) else [files]
    if len(paths) > most:
        raise limits.LimitError(f"at most {most} files at once; got {len(paths)}")
    return [str(getattr(p, "name", p)) for p in paths]


# -- pictures -------------------------------------------------------------------------------

def shown(label: str, **options: Any) -> gr.Image:
    """An output image sent as PNG, so faces and plots stay exact (Gradio's default is a lossy
    WebP)."""
    return gr.Image(label=label, interactive=False, format="png", **options)


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
    from matplotlib.backends.backend_agg import FigureCanvasAgg
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
