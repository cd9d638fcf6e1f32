"""Interactive t-SNE: a feature space, a number of points, a perplexity and a colouring give a
scatter plot; a click on the plot finds a point and shows its image (or the decoded face of its
latent) and labels. Embeddings are cached by :func:`hw3lab.analysis.tsne.tsne_2d`, so a
repeated setting is instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hw3lab import limits
from hw3lab.data.layout import FACE_ATTRIBUTES
from hw3lab.lab.context import TASK_NAMES, LabContext, parse_task
from hw3lab.lab.digits import DIGIT_COLOURINGS, digit_features
from hw3lab.lab.pictures import PlotFrame, enlarge, nearest, scatter
from hw3lab.lab.tsne_cache import embed
from hw3lab.methods import METHODS

VAE_SPACE = "VAE latents"
SPACES = (VAE_SPACE, *(f"{task} {method}" for task in TASK_NAMES for method in METHODS))


def colourings(space: str) -> tuple[str, ...]:
    """The colourings a feature space offers (none for an unknown space)."""
    if space not in SPACES:
        return ()
    return FACE_ATTRIBUTES if space == VAE_SPACE else DIGIT_COLOURINGS


@dataclass(frozen=True)
class Embedded:
    """One t-SNE result and what a click needs: each point's latent or image and labels."""

    points: np.ndarray  # (N, 2)
    frame: PlotFrame
    latents: np.ndarray | None  # (N, 128) for the VAE space
    images: np.ndarray | None  # (N, 28, 28, 3) for a digit space
    captions: tuple[str, ...]


def run_tsne(ctx: LabContext, space: Any, count: Any, perplexity: Any,
             colouring: Any) -> tuple[np.ndarray, Embedded]:
    """Embed ``count`` points of ``space`` and draw them coloured by ``colouring``."""
    space = limits.check_choice(space, SPACES, "the feature space")
    count = limits.TSNE_POINTS.check_int(count, "the number of points")
    perplexity = limits.TSNE_PERPLEXITY.check(perplexity, "the perplexity")
    colouring = limits.check_choice(colouring, colourings(space), "the colouring")
    latents = images = None
    if space == VAE_SPACE:
        data = ctx.latents()
        latents = data.mean[:count]
        present = data.attributes[:count, FACE_ATTRIBUTES.index(colouring)] > 0.5
        features, labels = latents, present.astype(int)
        names = [f"not {colouring}", colouring]
        captions = tuple(_attribute_caption(row) for row in data.attributes[:count])
    else:
        task, method = space.split()
        source, target = parse_task(task)
        features, images, by_colouring, captions = digit_features(ctx, source, target, method,
                                                                  count)
        labels, names = by_colouring[colouring]
    points = embed(ctx, space, count, perplexity, features, images if latents is None else latents)
    title = f"t-SNE of {space} ({len(points)} points, perplexity {perplexity:g}) by {colouring}"
    picture, frame = scatter(points, labels, names, title, size=(6.0, 6.0))
    return picture, Embedded(points, frame, latents, images, captions)


def _attribute_caption(row: np.ndarray) -> str:
    present = [name for name, value in zip(FACE_ATTRIBUTES, row, strict=True) if value > 0.5]
    return ", ".join(present) or "none of the 13 attributes"


def point_at(ctx: LabContext, embedded: Embedded | None, x: Any,
             y: Any) -> tuple[np.ndarray, str]:
    """The image and labels of the point nearest to pixel (``x``, ``y``) of the plot."""
    if embedded is None:
        raise limits.LimitError("draw a t-SNE plot first, then click one of its points")
    index = nearest(embedded.points, embedded.frame, float(x), float(y))
    if embedded.latents is not None:
        image = ctx.store.decode_latents(embedded.latents[index:index + 1])[0]
        faces = ctx.test_split("face")
        if faces is not None and len(faces) == len(ctx.latents().mean):  # the real face too
            image = np.concatenate([faces.images[index], image], axis=1)
        return enlarge(image, 4), f"Test face {index} (decoded latent): {embedded.captions[index]}"
    assert embedded.images is not None
    return enlarge(embedded.images[index], 8), f"Point {index}: {embedded.captions[index]}"
