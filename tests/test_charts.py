"""The interactive plots' Vega-Lite specifications (hw3lab/lab/charts.py) and their Gradio
widget: what the browser needs to zoom, pan, show each point's thumbnail on hover and send a
clicked point's number; the browser itself is tests/test_browser.py."""

from __future__ import annotations

import base64
import io
import json

import gradio as gr
import numpy as np
import pytest
from gradio.components.plot import PlotData
from PIL import Image

from hw3lab.data.samples import load_sample
from hw3lab.lab import charts
from hw3lab.ui.widgets import interactive_plot, picked_point, point_picker


def decoded(uri: str) -> Image.Image:
    header, data = uri.split(",", 1)
    assert header == "data:image/webp;base64"
    return Image.open(io.BytesIO(base64.b64decode(data)))


def test_thumbnails_are_small_webp_images() -> None:
    rng = np.random.default_rng(0)
    digit = rng.integers(0, 255, (28, 28, 3), dtype=np.uint8)
    assert decoded(charts.thumbnail_uri(digit)).size == (28, 28)
    face = rng.integers(0, 255, (64, 128, 3), dtype=np.uint8)  # a real face beside a decoded
    assert decoded(charts.thumbnail_uri(face, charts.FACE_THUMBNAIL)).size == (64, 32)
    smooth = np.repeat(np.linspace(0, 255, 64, dtype=np.uint8)[None, :, None], 64, 0)
    uri = charts.thumbnail_uri(np.repeat(smooth, 3, 2), charts.FACE_THUMBNAIL)
    assert len(uri) < 600  # a face-like picture: a few hundred bytes
    grey = decoded(charts.thumbnail_uri(np.full((28, 28, 3), 200, np.uint8))).convert("RGB")
    assert abs(int(np.asarray(grey)[5, 5, 0]) - 200) <= 2


def test_scatter_chart_zooms_and_shows_each_point() -> None:
    points = np.array([[0.12345, -1.0], [2.0, 3.5], [-4.0, 0.0]], np.float32)
    spec = charts.scatter_chart(points, np.array([1, 0, 1]), ["not Smiling", "Smiling"], "t",
                                ["data:image/webp;base64,AA"] * 3, ["a", "b", "c"], "Smiling")
    assert spec["$schema"].endswith("/vega-lite/v5.json")  # the version Gradio bundles
    # no link to other sites; SVG, so that the browser hit-tests each point where it is drawn
    assert spec["usermeta"]["embedOptions"] == {"actions": False, "renderer": "svg"}
    assert spec["params"] == [{"name": "zoom", "select": "interval", "bind": "scales"}]
    rows = spec["data"]["values"]
    assert rows[0] == {"image": "data:image/webp;base64,AA", "point": 0, "labels": "a",
                       "x": 0.123, "y": -1.0, "group": "Smiling"}
    assert [r["point"] for r in rows] == [0, 1, 2]
    tooltip = spec["encoding"]["tooltip"]
    assert [t["title"] for t in tooltip] == ["image", "point", "labels", "Smiling"]
    assert spec["encoding"]["color"]["scale"]["domain"] == ["not Smiling", "Smiling"]
    json.dumps(spec, allow_nan=False)  # plain JSON


def test_scatter_grid_sends_each_digit_once() -> None:
    rng = np.random.default_rng(1)
    colourings = {"class": (np.arange(6) % 3, ["0", "1", "2"]),
                  "domain": (np.repeat([0, 1], 3), ["source usps", "target mnistm"])}
    panels = {"DANN": rng.standard_normal((6, 2)), "ADDA": "no checkpoint",
              "your model": rng.standard_normal((6, 2))}
    spec = charts.scatter_grid(panels, colourings, ["data:,x"] * 6, [f"d{i}" for i in range(6)])
    rows = spec["data"]["values"]
    assert len(rows) == 6 and {"x0", "y0", "x2", "y2", "class", "domain"} <= set(rows[0])
    assert rows[3]["domain"] == "target mnistm" and rows[4]["class"] == "1"
    dann, adda, mine = spec["hconcat"]
    assert adda["data"]["values"] == [{"text": "no checkpoint"}]
    assert [u["title"] for u in mine["vconcat"]] == ["your model by class",
                                                     "your model by domain"]
    names = [u["params"][0]["name"] for c in (dann, mine) for u in c["vconcat"]]
    assert len(set(names)) == 4  # every plot zooms by itself
    assert "legend" in dann["vconcat"][0]["encoding"]["color"]  # none: the right column's
    assert "legend" not in mine["vconcat"][0]["encoding"]["color"]


def test_the_plot_widget_takes_a_spec_and_the_picker_a_click() -> None:
    with gr.Blocks():
        plot = interactive_plot("t", elem_id="p")
        picker = point_picker("p", charts.POINT_FIELD)
    spec = {"$schema": charts.SCHEMA, "mark": "point"}
    sent = plot.postprocess(spec)
    assert isinstance(sent, PlotData) and sent.type == "altair"
    assert json.loads(sent.plot) == spec
    assert plot.postprocess(None) is None
    assert '"p"' in picker.js_on_load and "'click'" in picker.js_on_load
    assert picked_point(gr.EventData(None, {"point": 7})) == 7
    for junk in (None, "x", [1]):
        assert picked_point(gr.EventData(None, junk)) is None


@pytest.mark.parametrize("dataset", ["face", "mnistm", "svhn"])
def test_default_payloads_stay_small(dataset: str) -> None:
    """1,000 points (the default) of real thumbnails (the shipped sample's, ten times over)
    with a typical caption: under 1 MB of JSON."""
    images = np.tile(load_sample(dataset).images, (10, 1, 1, 1))
    size = charts.FACE_THUMBNAIL if dataset == "face" else charts.DIGIT_THUMBNAIL
    rng = np.random.default_rng(2)
    spec = charts.scatter_chart(rng.standard_normal((1000, 2)) * 30, rng.integers(0, 2, 1000),
                                ["not Smiling", "Smiling"], "t",
                                charts.thumbnail_uris(images, size),
                                ["test face 123: Male, Smiling, Straight_Hair"] * 1000)
    assert len(json.dumps(spec, separators=(",", ":"))) < 1_000_000
