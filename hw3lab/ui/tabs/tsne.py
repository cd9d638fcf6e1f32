"""The interactive t-SNE tab: every feature space (operations: :mod:`hw3lab.lab.tsne`)."""

from __future__ import annotations

import gradio as gr

from hw3lab.lab import LabContext
from hw3lab.lab.first_view import FirstView
from hw3lab.lab.tsne import SPACES
from hw3lab.ui.tsne_panel import build_panel


def build(ctx: LabContext, opening: FirstView | None = None) -> None:
    """The interactive t-SNE tab, opening on the first space's default view where ``opening``
    has it (computed at start-up)."""
    opening = opening or FirstView()
    gr.Markdown("Pick a feature space and draw its t-SNE; click a point to see what it is. "
                "Each setting is computed once, then cached.")
    build_panel(ctx, opening=opening.tsne_view(SPACES[0]))
