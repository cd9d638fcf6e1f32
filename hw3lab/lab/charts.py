"""Interactive scatter plots as Vega-Lite specifications: plain dicts that the UI hands to
Gradio's plot component, which draws them with the Vega it bundles (no CDN).

Every plot zooms with the mouse wheel and pans by dragging; hovering a point shows a tooltip
with its thumbnail (a ``data:`` URI in the tooltip's ``image`` field, which vega-tooltip shows
as a picture) and its labels, among them its number (:data:`POINT_FIELD`), which a click sends
back to the lab (``hw3lab.ui.widgets.point_picker``). The specs are Vega-Lite 5, the version
Gradio 6.31 bundles (5.23; Altair 6 writes version 6).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
POINT_FIELD = "point"  # the tooltip row a click reads
IMAGE_FIELD = "image"  # the tooltip key vega-tooltip draws as a picture
GROUP_FIELD = "group"
DIGIT_THUMBNAIL = 28  # digits keep their pixels
FACE_THUMBNAIL = 32  # faces: 64x64 halved
THUMBNAIL_QUALITY = 80
PALETTE = "category10"  # matplotlib's tab10, as in the figures
# vega-embed's menu (export, view source, open in the online Vega editor) is left out: the lab
# must not send users to other sites. The SVG renderer, not the canvas: Gradio's stylesheet pads
# the chart's canvas by 6 px, which Vega's canvas hit-testing does not subtract, so a tooltip
# showed only 6 px above and left of its point (with Chromium 156 no hover on a point found
# one). With SVG the browser hit-tests each point's own element, and every point is an element
# of the page (a test finds them from Vega's scene graph, not from pixel colours).
EMBED_OPTIONS = {"actions": False, "renderer": "svg"}
SCALE = {"zero": False, "nice": False, "padding": 6}  # t-SNE axes mean nothing: fit the points
PADDING = {"top": 30, "left": 6, "right": 6, "bottom": 6}  # room for Gradio's label above


def thumbnail_uri(image: np.ndarray, size: int | None = None) -> str:
    """An (H, W, 3) uint8 image (scaled to ``size`` pixels high if given) as a WebP data URI.
    Lossy WebP at quality 80 is 200-450 bytes for a 28x28 digit or a 32x32 face of the shipped
    sample, a fifth to a half of an optimised PNG (570-2,400 bytes)."""
    picture = Image.fromarray(np.ascontiguousarray(image))
    if size is not None and picture.height != size:
        width = max(1, round(picture.width * size / picture.height))
        picture = picture.resize((width, size), Image.Resampling.BOX)
    buffer = io.BytesIO()
    picture.save(buffer, format="WEBP", quality=THUMBNAIL_QUALITY)
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def thumbnail_uris(images: np.ndarray, size: int | None = None) -> list[str]:
    return [thumbnail_uri(image, size) for image in images]


def _zoom(name: str) -> dict:
    """Wheel zoom and drag pan of one plot's scales."""
    return {"name": name, "select": "interval", "bind": "scales"}


def _unit(x: str, y: str, colour: str, names: Sequence[str], title: str, size: int,
          tooltip: list[dict], zoom: str, legend: bool = True) -> dict:
    axis = {"title": None, "labels": False, "ticks": False, "grid": False}
    return {
        "title": title, "width": size, "height": size,
        "mark": {"type": "circle", "size": 30, "opacity": 0.8},
        "params": [_zoom(zoom)],
        "encoding": {
            "x": {"field": x, "type": "quantitative", "axis": axis, "scale": SCALE},
            "y": {"field": y, "type": "quantitative", "axis": axis, "scale": SCALE},
            "color": {"field": colour, "type": "nominal", "title": None,
                      "scale": {"domain": list(names), "scheme": PALETTE},
                      **({} if legend else {"legend": None})},
            "tooltip": tooltip,
        },
    }


def _rows(images: Sequence[str], captions: Sequence[str], columns: dict[str, Sequence]
          ) -> list[dict]:
    rows = []
    for i, (image, caption) in enumerate(zip(images, captions, strict=True)):
        row = {IMAGE_FIELD: image, POINT_FIELD: i, "labels": caption}
        row.update({name: values[i] for name, values in columns.items()})
        rows.append(row)
    return rows


def _coordinates(points: np.ndarray) -> tuple[list[float], list[float]]:
    """x and y, rounded: three decimals of a t-SNE map are far below a pixel."""
    rounded = np.round(np.asarray(points, np.float64), 3)
    return rounded[:, 0].tolist(), rounded[:, 1].tolist()


def _tooltip(field: str, title: str) -> list[dict]:
    """The thumbnail, number and caption of a point, then its colouring's ``field``."""
    return [{"field": IMAGE_FIELD, "title": IMAGE_FIELD},
            {"field": POINT_FIELD, "title": POINT_FIELD, "type": "quantitative",
             "format": "d"},
            {"field": "labels", "title": "labels"},
            {"field": field, "title": title}]


def _spec(rows: list[dict], **layout: object) -> dict:
    """A whole chart: its rows (every plot of it reads them) and its plots' ``layout``."""
    return {"$schema": SCHEMA, "usermeta": {"embedOptions": EMBED_OPTIONS},
            "padding": PADDING, "data": {"values": rows}, **layout}


def scatter_chart(points: np.ndarray, labels: np.ndarray, names: Sequence[str], title: str,
                  thumbnails: Sequence[str], captions: Sequence[str],
                  colouring: str = "colour", size: int = 520) -> dict:
    """One scatter plot of 2-D ``points`` coloured by integer ``labels`` (``names`` in the
    legend), each point's tooltip showing its thumbnail, number and caption."""
    x, y = _coordinates(points)
    groups = [names[int(label)] for label in labels]
    rows = _rows(thumbnails, captions, {"x": x, "y": y, GROUP_FIELD: groups})
    return _spec(rows, **_unit("x", "y", GROUP_FIELD, names, title, size,
                                _tooltip(GROUP_FIELD, colouring), "zoom"))


def scatter_grid(panels: dict[str, np.ndarray | str], colourings: dict[str, tuple[np.ndarray,
                 Sequence[str]]], thumbnails: Sequence[str], captions: Sequence[str],
                 size: int = 180) -> dict:
    """One column per panel title (a method): its 2-D points once per colouring (rows), the
    points of every panel being the same items (one thumbnail and caption each, sent once).
    A panel given as text (why it has no points) is that text."""
    columns: dict[str, Sequence] = {}
    for name, (labels, names) in colourings.items():
        columns[name] = [names[int(label)] for label in labels]
    units = []
    plotted = [k for k, points in enumerate(panels.values()) if not isinstance(points, str)]
    for k, (title, points) in enumerate(panels.items()):
        if isinstance(points, str):
            units.append({"data": {"values": [{"text": points}]}, "width": size,
                          "height": size, "title": title, "mark": {"type": "text"},
                          "encoding": {"text": {"field": "text"}}})
            continue
        columns[f"x{k}"], columns[f"y{k}"] = _coordinates(points)
        units.append({"vconcat": [
            _unit(f"x{k}", f"y{k}", name, names, f"{title} by {name}", size,
                  _tooltip(name, name), f"zoom{k}_{c}",
                  legend=k == plotted[-1])  # legends at the right only: columns colour alike
            for c, (name, (_, names)) in enumerate(colourings.items())],
            "resolve": {"scale": {"color": "independent"}}})
    rows = _rows(thumbnails, captions, columns)
    return _spec(rows, hconcat=units, resolve={"scale": {"color": "independent"}})
