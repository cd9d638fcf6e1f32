"""The Models tab: a card for every checkpoint of the manifest and its per-epoch curves
(operations: :mod:`hw3lab.lab.models`)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from hw3lab.lab import LabContext
from hw3lab.lab.first_view import FirstView
from hw3lab.lab.models import CARD_HEADERS, curves, model_card, model_cards, model_names
from hw3lab.ui.widgets import INTERACTIVE, bind, checked_by_callback


def build(ctx: LabContext, demo: gr.Blocks, opening: FirstView | None = None) -> None:
    """The Models tab, its table read from the manifest once, at start-up (``opening``);
    ``demo`` is the whole app."""
    opening = opening or FirstView()
    gr.Markdown("Every checkpoint the lab serves, as its manifest describes it; pick one for "
                "its card and its curves.")
    gr.Dataframe(opening.model_cards, headers=CARD_HEADERS, interactive=False, label="Models",
                 wrap=True, elem_id="model-cards")
    read_cards = bind(model_cards, ctx)

    def model_cards_api() -> dict[str, Any]:
        """Every model's card row (headers and rows) read from the manifest now: the API
        name of what was the page-load event, kept for API clients."""
        return {"headers": CARD_HEADERS, "data": read_cards()}

    gr.api(model_cards_api, api_name="model_cards", **INTERACTIVE)
    names = model_names(ctx)
    first = names[0] if names else None
    name = checked_by_callback(gr.Dropdown(names, value=first, label="Model"))
    card = gr.Markdown(model_card(ctx, first) if first else "The manifest lists no models.")
    loss_curve, accuracy_curve, note = curves(ctx, first) if first else (None, None, "")
    with gr.Row():
        loss = gr.LinePlot(loss_curve, x="epoch", y="value", color="metric",
                           title="Loss per epoch", height=260)
        accuracy = gr.LinePlot(accuracy_curve, x="epoch", y="value", color="metric",
                               title="Accuracy per epoch", height=260)
    history = gr.Markdown(note)
    name.change(bind(model_card, ctx), name, card, api_name="model_card", **INTERACTIVE)
    name.change(bind(curves, ctx), name, [loss, accuracy, history], api_name="model_curves",
                **INTERACTIVE)
