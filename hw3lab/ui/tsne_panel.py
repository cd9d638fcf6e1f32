"""The t-SNE controls, plot and clicked-point view: the t-SNE tab shows every feature space,
the VAE tab the VAE's latents only."""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np

from hw3lab import limits
from hw3lab.lab import LabContext
from hw3lab.lab.tsne import SPACES, Embedded, colourings, point_at, run_tsne
from hw3lab.ui.widgets import (
    INTERACTIVE,
    TSNE,
    checked,
    range_slider,
    shown,
    user_errors,
    with_progress,
)


def build_panel(ctx: LabContext, spaces: tuple[str, ...] = SPACES, prefix: str = "tsne") -> None:
    """The panel over ``spaces``, with ``prefix`` naming its API endpoints apart."""
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
        options = list(colourings(chosen))
        return gr.update(choices=options, value=options[0] if options else None)

    def select(embedded: Embedded | None, event: gr.SelectData) -> tuple[np.ndarray, str]:
        return point_at(ctx, embedded, *event.index)

    space.change(change_space, space, colouring, api_visibility="private", **INTERACTIVE)
    button.click(with_progress(run_tsne, ctx), [space, count, perplexity, colouring],
                 [plot, state], api_name=f"{prefix}_run", **TSNE)
    plot.select(user_errors(select, ctx.redact), state, [point, caption],
                api_visibility="private", **INTERACTIVE)
