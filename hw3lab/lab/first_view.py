"""What every visitor sees first, computed once when the lab starts.

Each tab opens on a result with nothing pressed: the VAE's face at the centre of its sliders,
the GAN's face of seed 0 (alone, with its attributes, and the homework's 32-face grid), the
first task's example 0 through every method with its probabilities, the accuracy table and
the model cards, and the default t-SNE view where its points are shipped precomputed. The UI
builds its components with these as initial values, so a page load runs no event: a room
opening the link at once costs the lab a page each, not a queue of model calls (a burst of
300 page loads filled the queue with their load events, bench/load.py ``--burst``).

Whatever cannot be computed (a family without a checkpoint, a damaged file) is left out and
said once on the console; the tab then opens empty, as the lab did before, and its own message
says what is missing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from hw3lab import limits
from hw3lab.data.layout import FACE_ATTRIBUTES
from hw3lab.lab import digits, gan, models, vae
from hw3lab.lab.context import TASK_NAMES, LabContext
from hw3lab.lab.tsne import SPACES, Embedded, colourings, run_tsne
from hw3lab.lab.tsne_spaces import VAE_SPACE
from hw3lab.lab.tsne_views import view_file

T = TypeVar("T")
FIRST_SEED = 0  # the seed boxes' default
FIRST_EXAMPLE = 0  # the example number box's default


@dataclass(frozen=True)
class TsneView:
    """A drawn t-SNE view: its chart (a Vega-Lite spec) and what a click on a point needs."""

    chart: dict
    embedded: Embedded


@dataclass(frozen=True)
class FirstView:
    """Every tab's first result; None where it could not be computed."""

    vae_face: np.ndarray | None = None
    vae_random: np.ndarray | None = None
    gan_face: str | None = None  # a PNG named after its seed (the image's download)
    gan_edited: tuple[np.ndarray, dict[str, float]] | None = None
    gan_grid: tuple[str, str] | None = None  # (PNG, seed list)
    digit: tuple[np.ndarray, np.ndarray, list[list[str]]] | None = None  # seen, chart, table
    accuracy: list[list[str]] | None = None
    model_cards: list[list[str]] | None = None
    tsne: dict[str, TsneView] = field(default_factory=dict)  # by feature space
    seconds: float = 0.0  # how long computing all this took

    def tsne_view(self, space: str) -> TsneView | None:
        return self.tsne.get(space)


def _attempt(ctx: LabContext, what: str, compute: Callable[[], T]) -> T | None:
    """``compute()``, or None with one console line if it fails: a first view is a courtesy,
    and the lab serves without it."""
    try:
        return compute()
    except Exception as error:  # noqa: BLE001 - the tab opens empty; its own message says why
        print(f"hw3lab: {what} is not shown on first load: "
              f"{ctx.redact(f'{type(error).__name__}: {error}')}", file=sys.stderr, flush=True)
        return None


def default_tsne_settings(space: str) -> tuple[int, float, str]:
    """(points, perplexity, colouring) a t-SNE panel opens with for ``space``."""
    return (int(limits.TSNE_POINTS.default), float(limits.TSNE_PERPLEXITY.default),
            colourings(space)[0])


def _precomputed_tsne(ctx: LabContext, space: str) -> TsneView | None:
    """The default view of ``space`` if its points are shipped (a t-SNE of 1,000 points is
    tens of seconds of CPU: never computed while the lab starts)."""
    count, perplexity, colouring = default_tsne_settings(space)
    if space == VAE_SPACE:  # a data folder (or a sample) may hold fewer faces than asked for
        count = min(count, len(ctx.latents().mean))
    if not view_file(ctx.checkpoints, space, count, perplexity).is_file():
        return None
    chart, embedded = run_tsne(ctx, space, count, perplexity, colouring)
    return TsneView(chart, embedded)


def compute_first_view(ctx: LabContext, tsne_spaces: tuple[str, ...] = SPACES[:1]
                       ) -> FirstView:
    """Every tab's first result for ``ctx`` (``tsne_spaces``: the spaces whose default view
    a panel opens on; the t-SNE tab and the VAE tab both open on the VAE's latents)."""
    started = time.perf_counter()
    sliders = [0.0] * vae.SLIDER_COUNT
    vae_face = vae_random = gan_face = gan_edited = gan_grid = None
    if ctx.has_family("vae"):
        vae_face = _attempt(ctx, "the VAE's face",
                            lambda: vae.decode_sliders(ctx, None, *sliders))
        vae_random = _attempt(ctx, "the VAE's random faces", lambda: vae.random_faces(
            ctx, FIRST_SEED, limits.VAE_GRID.default))
    if ctx.has_family("gan"):
        gan_face = _attempt(ctx, "the GAN's face", lambda: gan.face(ctx, FIRST_SEED))
        gan_edited = _attempt(ctx, "the GAN's attribute view", lambda: gan.edit_face(
            ctx, FIRST_SEED, *[0.0] * len(FACE_ATTRIBUTES)))
        gan_grid = _attempt(ctx, "the GAN's grid", lambda: gan.grid(
            ctx, FIRST_SEED, limits.GAN_GRID.default))
    digit = _attempt(ctx, "the example digit", lambda: digits.classify_example(
        ctx, TASK_NAMES[0], FIRST_EXAMPLE))
    accuracy = _attempt(ctx, "the accuracy table", lambda: digits.accuracy_table(ctx))
    cards = _attempt(ctx, "the model cards", lambda: models.model_cards(ctx))
    tsne = {}
    for space in tsne_spaces:
        view = _attempt(ctx, f"the t-SNE of {space}", lambda s=space: _precomputed_tsne(ctx, s))
        if view is not None:
            tsne[space] = view
    return FirstView(vae_face, vae_random, gan_face, gan_edited, gan_grid, digit, accuracy,
                     cards, tsne, time.perf_counter() - started)


def initial(value: Any, index: int | None = None) -> Any:
    """``value`` (or its ``index``-th item) as a component's initial value; None if absent."""
    if value is None:
        return None
    return value if index is None else value[index]
