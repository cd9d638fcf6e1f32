"""Plot pieces that the figures command and the lab share, so both colour points alike."""

from __future__ import annotations

from typing import Any

import numpy as np


def draw_by_label(axes: Any, points: np.ndarray, labels: np.ndarray, names: list[str],
                  marker_size: float = 6) -> None:
    """Scatter 2-D ``points`` on matplotlib ``axes``, one colour and legend entry per integer
    label (``names[label]``); labels with no point are left out of the legend."""
    from matplotlib import colormaps  # imported on use: the lab must start fast

    colours = colormaps["tab10" if len(names) <= 10 else "tab20"]
    for value, name in enumerate(names):
        chosen = labels == value
        if chosen.any():
            axes.scatter(points[chosen, 0], points[chosen, 1], s=marker_size,
                         color=colours(value), label=name)
    axes.set(xticks=[], yticks=[])
