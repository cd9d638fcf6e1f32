"""Interactive t-SNE: a feature space, a number of points, a perplexity and a colouring give an
interactive scatter plot (:mod:`hw3lab.lab.charts`: zoom, pan, and each point's thumbnail and
labels on hover: the digit, or the face its latent decodes to); a click on a point shows it
large. The lab keeps recent embeddings (:class:`hw3lab.lab.tsne_queue.TsneQueue`), so a
repeated setting is instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hw3lab import limits
from hw3lab.data.layout import FACE_ATTRIBUTES
from hw3lab.lab.charts import FACE_THUMBNAIL, scatter_chart, thumbnail_uris
from hw3lab.lab.context import LabContext
from hw3lab.lab.digits import DIGIT_COLOURINGS, digit_features, digit_thumbnails
from hw3lab.lab.pictures import enlarge
from hw3lab.lab.tsne_spaces import SPACES, VAE_SPACE, space_named
from hw3lab.lab.tsne_views import embed

__all__ = ["SPACES", "VAE_SPACE", "Embedded", "colourings", "point_at", "run_tsne"]


def colourings(space: str) -> tuple[str, ...]:
    """The colourings a feature space offers (none for an unknown space)."""
    if space not in SPACES:
        return ()
    return FACE_ATTRIBUTES if space == VAE_SPACE else DIGIT_COLOURINGS


@dataclass(frozen=True)
class Embedded:
    """One t-SNE result and what a click needs: each point's latent or image and labels."""

    points: np.ndarray  # (N, 2)
    latents: np.ndarray | None  # (N, 128) for the VAE space
    images: np.ndarray | None  # (N, 28, 28, 3) for a digit space
    captions: tuple[str, ...]


def run_tsne(ctx: LabContext, space: Any, count: Any, perplexity: Any,
             colouring: Any) -> tuple[dict, Embedded]:
    """Embed ``count`` points of ``space`` and plot them coloured by ``colouring``: an
    interactive chart (a Vega-Lite spec) whose tooltips show each point's thumbnail."""
    space = space_named(limits.check_choice(space, SPACES, "the feature space"))
    count = limits.TSNE_POINTS.check_int(count, "the number of points")
    perplexity = limits.TSNE_PERPLEXITY.check(perplexity, "the perplexity")
    colouring = limits.check_choice(colouring, colourings(space.name), "the colouring")
    latents = images = None
    if space.is_vae:
        data = ctx.latents()
        latents = data.mean[:count]
        present = data.attributes[:count, FACE_ATTRIBUTES.index(colouring)] > 0.5
        features, labels = latents, present.astype(int)
        names = [f"not {colouring}", colouring]
        captions = tuple(_attribute_caption(row) for row in data.attributes[:count])
        labelled = [f"test face {i}: {caption}" for i, caption in enumerate(captions)]
        # Decoding the faces and encoding their thumbnails was most of this view's cost (under
        # 50 students, bench/load.py: 1.9 s at p50, 58 ms once remembered); they depend on the
        # number of points only, so every student after the first gets them at once.
        thumbnails = ctx.remembered(("face thumbnails", count), lambda: thumbnail_uris(
            _faces(ctx, latents), FACE_THUMBNAIL))
    else:
        source, target, method = space.source, space.target, space.method
        features, images, by_colouring, captions = digit_features(ctx, source, target, method,
                                                                  count)
        labels, names = by_colouring[colouring]
        labelled = list(captions)
        thumbnails = digit_thumbnails(ctx, source, target, count, images)
    points = embed(ctx, space, count, perplexity, features, images if latents is None else latents)
    title = f"t-SNE of {space} ({len(points)} points, perplexity {perplexity:g}) by {colouring}"
    chart = scatter_chart(points, labels, names, title, thumbnails, labelled, colouring)
    return chart, Embedded(points, latents, images, captions)


def _faces(ctx: LabContext, latents: np.ndarray) -> np.ndarray:
    """The faces ``latents`` decode to, each beside its real test face when the lab has them
    (hw3_data's test faces are the latents' faces, in order)."""
    decoded = np.concatenate([ctx.store.decode_latents(chunk)
                              for chunk in np.array_split(latents, -(-len(latents) // 500))])
    faces = ctx.test_split("face")
    if faces is not None and len(faces) == len(ctx.latents().mean):
        return np.concatenate([faces.images[:len(latents)], decoded], axis=2)
    return decoded


def _attribute_caption(row: np.ndarray) -> str:
    present = [name for name, value in zip(FACE_ATTRIBUTES, row, strict=True) if value > 0.5]
    return ", ".join(present) or "none of the 13 attributes"


def point_at(ctx: LabContext, embedded: Embedded | None, index: Any) -> tuple[np.ndarray, str]:
    """The image and labels of point ``index`` of the plot (the number its tooltip shows)."""
    if embedded is None:
        raise limits.LimitError("draw a t-SNE plot first, then click one of its points")
    index = limits.Range(0, len(embedded.points) - 1, 0).check_int(index, "the point number")
    if embedded.latents is not None:
        image = ctx.store.decode_latents(embedded.latents[index:index + 1])[0]
        faces = ctx.test_split("face")
        if faces is not None and len(faces) == len(ctx.latents().mean):  # the real face too
            image = np.concatenate([faces.images[index], image], axis=1)
        return enlarge(image, 4), f"Test face {index} (decoded latent): {embedded.captions[index]}"
    assert embedded.images is not None
    return enlarge(embedded.images[index], 8), f"Point {index}: {embedded.captions[index]}"
