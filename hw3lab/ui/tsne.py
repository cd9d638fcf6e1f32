"""Interactive t-SNE tab: a feature space, a number of points, a perplexity and a colouring give
a scatter plot; clicking a point shows its image (or the decoded face of its latent) and labels.
Embeddings are cached by :func:`hw3lab.analysis.tsne.tsne_2d`, so a repeated setting is instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import numpy as np

from hw3lab import limits
from hw3lab.analysis.tsne import tsne_2d
from hw3lab.data.layout import FACE_ATTRIBUTES
from hw3lab.inference import METHODS
from hw3lab.ui.common import (
    TASK_NAMES,
    LabContext,
    PlotFrame,
    bind,
    checked,
    enlarge,
    nearest,
    parse_task,
    range_slider,
    scatter,
    shown,
    user_errors,
)
from hw3lab.ui.digits import DIGIT_COLOURINGS, digit_features

VAE_SPACE = "VAE latents"
SPACES = (VAE_SPACE, *(f"{task} {method}" for task in TASK_NAMES for method in METHODS))


def colourings(space: str) -> tuple[str, ...]:
    """The colourings a feature space offers."""
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
    points = tsne_2d(features, perplexity=perplexity)
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


def build_panel(ctx: LabContext, spaces: tuple[str, ...] = SPACES, prefix: str = "tsne") -> None:
    """The t-SNE controls, plot and point view; used by this tab and (VAE space only) the VAE
    tab, with ``prefix`` naming the API endpoints apart."""
    with gr.Row():
        with gr.Column(scale=1):
            space = checked(gr.Dropdown(list(spaces), value=spaces[0], label="Feature space",
                                        visible=len(spaces) > 1))
            # The choices follow the space; run_tsne checks the pair, so the API may send any.
            first = colourings(spaces[0])
            colouring = checked(gr.Dropdown(list(first), value=first[0], label="Colour by",
                                            allow_custom_value=True))
            count = range_slider(limits.TSNE_POINTS, "Points")
            perplexity = range_slider(limits.TSNE_PERPLEXITY, "Perplexity")
            button = gr.Button("Draw t-SNE", variant="primary")
            point = shown("Clicked point", height=160)
            caption = gr.Markdown("Click a point of the plot to see it.")
        plot = shown("t-SNE (click a point)", scale=2, elem_id=f"{prefix}-plot")
    state = gr.State(None)

    def change_space(chosen: str) -> Any:
        options = list(colourings(chosen)) if chosen in SPACES else []
        return gr.update(choices=options, value=options[0] if options else None)

    def select(embedded: Embedded | None, event: gr.SelectData) -> tuple[np.ndarray, str]:
        return point_at(ctx, embedded, *event.index)

    space.change(change_space, space, colouring, api_visibility="private")
    button.click(bind(run_tsne, ctx),
                 [space, count, perplexity, colouring], [plot, state], api_name=f"{prefix}_run")
    plot.select(user_errors(select), state, [point, caption], api_visibility="private")


def build(ctx: LabContext) -> None:
    """The interactive t-SNE tab."""
    gr.Markdown("Pick a feature space and draw its t-SNE; click a point to see what it is. "
                "Each setting is computed once, then cached.")
    build_panel(ctx)
