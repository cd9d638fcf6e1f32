"""The Models tab: a card for every checkpoint of the manifest and its per-epoch curves
(operations: :mod:`hw3lab.lab.models`)."""

from __future__ import annotations

import gradio as gr

from hw3lab.lab import LabContext
from hw3lab.lab.models import CARD_HEADERS, curves, model_card, model_cards, model_names
from hw3lab.ui.widgets import INTERACTIVE, bind, checked_by_callback


def build(ctx: LabContext, demo: gr.Blocks) -> None:
    """The Models tab; ``demo`` is the whole app, whose page load fills the table."""
    gr.Markdown("Every checkpoint the lab serves, as its manifest describes it; pick one for "
                "its card and its curves.")
    table = gr.Dataframe(headers=CARD_HEADERS, interactive=False, label="Models", wrap=True,
                         elem_id="model-cards")
    # Read from the manifest on every page load.
    demo.load(bind(model_cards, ctx), None, table, api_name="model_cards", **INTERACTIVE)
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
