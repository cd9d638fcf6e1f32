"""The interactive t-SNE tab: every feature space (operations: :mod:`hw3lab.lab.tsne`)."""

from __future__ import annotations

import gradio as gr

from hw3lab.lab import LabContext
from hw3lab.ui.tsne_panel import build_panel


def build(ctx: LabContext) -> None:
    """The interactive t-SNE tab."""
    gr.Markdown("Pick a feature space and draw its t-SNE; click a point to see what it is. "
                "Each setting is computed once, then cached.")
    build_panel(ctx)
