"""The t-SNE controls, interactive plot and clicked-point view: the t-SNE tab shows every
feature space, the VAE tab the VAE's latents only."""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np

from hw3lab import limits
from hw3lab.lab import LabContext
from hw3lab.lab.charts import POINT_FIELD
from hw3lab.lab.first_view import TsneView, default_tsne_settings
from hw3lab.lab.tsne import SPACES, Embedded, colourings, point_at, run_tsne
from hw3lab.ui.widgets import (
    INTERACTIVE,
    TSNE,
    checked_by_callback,
    interactive_plot,
    picked_point,
    point_picker,
    range_slider,
    seed_box,
    shown,
    user_errors,
    with_progress,
)


def build_panel(ctx: LabContext, spaces: tuple[str, ...] = SPACES, prefix: str = "tsne",
                opening: TsneView | None = None) -> None:
    """The panel over ``spaces``, with ``prefix`` naming its API endpoints apart, showing
    ``opening`` (the first space's default view, computed at start-up) until a new one is
    drawn."""
    points, perplexity_value, _ = default_tsne_settings(spaces[0])
    with gr.Row():
        with gr.Column(scale=1):
            space = checked_by_callback(gr.Dropdown(list(spaces), value=spaces[0],
                                                    label="Feature space",
                                                    visible=len(spaces) > 1))
            # The choices follow the space; run_tsne checks the pair, so the API may send any.
            first = colourings(spaces[0])
            colouring = checked_by_callback(gr.Dropdown(list(first), value=first[0],
                                                        label="Colour by",
                                                        allow_custom_value=True))
            count = range_slider(limits.TSNE_POINTS, "Points", value=points)
            perplexity = range_slider(limits.TSNE_PERPLEXITY, "Perplexity",
                                      value=perplexity_value)
            button = gr.Button("Draw t-SNE", variant="primary")
            point = shown("Clicked point", height=160, elem_id=f"{prefix}-point")
            caption = gr.Markdown("Hover a point of the plot to see it, click it to show it "
                                  "here.")
            number = seed_box("Point number (as its tooltip shows)", minimum=0,
                              elem_id=f"{prefix}-point-number")
        with gr.Column(scale=2):
            plot = interactive_plot("t-SNE: hover a point to see it, click to keep it; the "
                                    "wheel zooms, dragging pans", elem_id=f"{prefix}-plot",
                                    value=opening.chart if opening else None)
            picker = point_picker(f"{prefix}-plot", POINT_FIELD)
    state = gr.State(opening.embedded if opening else None)

    def change_space(chosen: str) -> Any:
        options = list(colourings(chosen))
        return gr.update(choices=options, value=options[0] if options else None)

    def select(embedded: Embedded | None, event: gr.EventData) -> tuple[np.ndarray, str, Any]:
        index = picked_point(event)
        return (*point_at(ctx, embedded, index), index)

    space.change(change_space, space, colouring, api_visibility="private", **INTERACTIVE)
    button.click(with_progress(run_tsne, ctx),
                 [space, count, perplexity, colouring], [plot, state], api_name=f"{prefix}_run",
                 **TSNE)
    picker.click(user_errors(select, ctx.redact), state, [point, caption, number],
                 api_visibility="private", **INTERACTIVE)
    number.submit(user_errors(lambda embedded, index: point_at(ctx, embedded, index),
                              ctx.redact),
                  [state, number], [point, caption], api_visibility="private", **INTERACTIVE)
