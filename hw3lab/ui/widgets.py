"""Gradio glue every tab shares: lab operations as callbacks whose user errors become messages,
widgets that let the operation check an API value itself, PNG output images, and interactive
charts whose clicked point comes back to the lab."""

from __future__ import annotations

import base64
import functools
import inspect
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
import numpy as np
from gradio.components.plot import PlotData
from gradio.data_classes import ImageData
from PIL import Image

from hw3lab import limits
from hw3lab.errors import UserInputError
from hw3lab.lab import LabContext
from hw3lab.lab.served_files import png_bytes
from hw3lab.lab.tsne_queue import reporting

F = TypeVar("F", bound=Callable[..., Any])
MESSAGE_CHARACTERS = 300  # an unexpected error's message, at most
C = TypeVar("C", bound=gr.components.Component)

# The pools every event runs in, named where the event is declared (``**INTERACTIVE``), never
# patched on afterwards; tests/test_pools.py fails if an event has none. Measured with
# bench/load.py on 2 cores: every callback runs torch with one intra-op thread
# (runtime.SERVING_THREADS), so two interactive requests fill the two cores and more would only
# share them (Gradio's default, a limit per event, let 13 endpoints x 2 run at once and a popular
# one queue behind itself). Interactive events share one pool of 2, served in arrival order;
# batch labelling and recomputed accuracy (seconds of CPU each) share a pool of 1, so they
# never hold both cores while sliders wait. t-SNE events have a pool of their own, wide enough
# that a precomputed or cached view is answered at once: the t-SNE computations themselves run
# one at a time in the lab's lanes (hw3lab.lab.tsne_queue), and a request waiting on one shows
# its place there and its progress. The rest wait in Gradio's queue, which shows each user
# their position.
INTERACTIVE: dict[str, Any] = {"concurrency_id": "interactive", "concurrency_limit": 2}
HEAVY: dict[str, Any] = {"concurrency_id": "heavy", "concurrency_limit": 1}
TSNE: dict[str, Any] = {"concurrency_id": "tsne", "concurrency_limit": 4}
POOLS = {pool["concurrency_id"]: pool["concurrency_limit"] for pool in (INTERACTIVE, HEAVY, TSNE)}


def user_errors(function: F, redact: Callable[[str], str] = str) -> F:
    """Turn the lab's expected failures into a ``gr.Error`` the page shows as a message, and
    anything unexpected into a short one (the traceback goes to the server's console only);
    ``redact`` (:meth:`LabContext.redact`) takes the server's folders out of every message."""
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except UserInputError as error:
            raise gr.Error(redact(str(error)), print_exception=False) from None
        except gr.Error:
            raise
        except Exception as error:  # noqa: BLE001 - shown short, logged whole
            traceback.print_exc(file=sys.stderr)
            message = redact(f"{type(error).__name__}: {error}")[:MESSAGE_CHARACTERS]
            raise gr.Error(f"the lab could not do this ({message})",
                           print_exception=False) from None
    return wrapper  # type: ignore[return-value]


def bind(function: Callable[..., Any], ctx: LabContext) -> Callable[..., Any]:
    """``function`` with the lab's context as first argument, as a Gradio callback: its other
    parameters keep their names (they name the API's parameters), errors become messages
    without the server's paths, and Gradio's own messages name the callback."""
    callback = user_errors(functools.partial(function, ctx), ctx.redact)
    callback.__name__ = function.__name__
    return callback


def with_progress(function: Callable[..., Any], ctx: LabContext) -> Callable[..., Any]:
    """:func:`bind` for an operation that may compute a t-SNE: while it waits, its place in
    line and its progress show on its outputs (Gradio's progress bar)."""
    def callback(*args: Any) -> Any:
        *inputs, progress = args  # Gradio passes its tracker where the signature says
        with reporting(lambda fraction, text: progress(fraction, desc=text)):
            return function(ctx, *inputs)

    parameters = list(inspect.signature(function).parameters.values())[1:]
    parameters.append(inspect.Parameter("progress", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                        default=gr.Progress()))
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    callback.__name__ = function.__name__
    return user_errors(callback, ctx.redact)


# Gradio's number and choice widgets refuse API values outside their range or choices with
# messages that echo the value whole (a 100,000-character string, a 400-digit number), or, for
# text in a number, with a TypeError naming Gradio's internals.
_PREPROCESS_REFUSALS = (gr.Error, TypeError, ValueError, OverflowError)
# Gradio decodes webcam pictures and sketches itself, before the callback's checks.
_DECODE_FAILURES = (OSError, ValueError, TypeError, SyntaxError, EOFError,
                    Image.DecompressionBombError)


def checked_by_callback(component: C) -> C:
    """``component`` passing a value its preprocessing refuses on unchanged, so the callback's
    :mod:`hw3lab.limits` check answers with a short message naming the argument. (A wrapped
    method, not a subclass: Gradio writes a ``.pyi`` file beside any module that subclasses a
    component.)"""
    preprocess = component.preprocess

    def let_the_callback_check(payload: Any) -> Any:
        try:
            return preprocess(payload)
        except _PREPROCESS_REFUSALS:
            return payload

    component.preprocess = let_the_callback_check  # type: ignore[method-assign]
    return component


def decode_checked(component: C) -> C:
    """``component`` (an image input Gradio decodes itself) answering a file it cannot decode
    with a clear message instead of one about Gradio's internals."""
    preprocess = component.preprocess
    label = getattr(component, "label", None) or "the image"

    def clear_decode_errors(payload: Any) -> Any:
        try:
            return preprocess(payload)
        except _DECODE_FAILURES:
            raise gr.Error(f"{label}: not a readable image (PNG, JPEG, GIF, BMP or WebP) or too "
                           "large", print_exception=False) from None

    component.preprocess = clear_decode_errors  # type: ignore[method-assign]
    return component


def range_slider(limit: limits.Range, label: str, **options: Any) -> gr.Slider:
    """A slider over one of :mod:`hw3lab.limits`' ranges (its default unless ``value`` is
    given), whose API values the callback checks."""
    options.setdefault("value", limit.default)
    return checked_by_callback(gr.Slider(limit.low, limit.high, step=limit.step, label=label,
                                         **options))


def seed_box(label: str = "Seed", value: int = 0, **options: Any) -> gr.Number:
    """A whole-number box for a seed (or an index), whose API values the callback checks."""
    return checked_by_callback(gr.Number(value=value, precision=0, label=label, **options))


def inline_png(value: np.ndarray | Image.Image | str | Path | None) -> ImageData | None:
    """An output picture inside the event's answer, as a ``data:`` URL of its PNG: Gradio
    stores a file for every output image and the browser then fetches it, which cost the
    server 7 ms more per picture than the answer itself (bench/gradio_floor.py). A path (a
    named PNG the lab wrote) keeps its file name, which the image's download button saves."""
    if value is None:
        return None
    if isinstance(value, str | Path):
        path = Path(value)
        data, name = path.read_bytes(), path.name
    else:
        data, name = png_bytes(value), "image.png"
    return ImageData(url="data:image/png;base64," + base64.b64encode(data).decode("ascii"),
                     orig_name=name, mime_type="image/png", size=len(data))


# An initial value (a first view, hw3lab.lab.first_view) at most this large goes inline in the
# page, so that the browser fetches no file for it; a larger one (a grid of 32 faces) is a
# file, fetched only when its tab is opened.
INLINE_INITIAL_BYTES = 64_000


def shown(label: str, **options: Any) -> gr.Image:
    """An output image sent inline as PNG (:func:`inline_png`), so faces and plots stay exact
    (Gradio's default is a lossy WebP)."""
    value = options.pop("value", None)
    initial = None if value is None else inline_png(value)
    inline = initial is not None and initial.size <= INLINE_INITIAL_BYTES
    image = gr.Image(label=label, interactive=False, format="png",
                     value=None if inline else value, **options)
    if inline:
        image.value = initial.model_dump()  # what the page's config shows
    image.postprocess = inline_png  # type: ignore[method-assign]
    return image


def own_model_box(ctx: LabContext, upload: Callable[..., Any], title: str, help_text: str,
                  files_label: str, key: str, inputs: tuple[gr.Component, ...] = ()
                  ) -> tuple[gr.State, Any]:
    """A closed accordion where a student uploads their own model's ``.pth`` files, read by
    ``upload(ctx, *inputs, files)``: (the session's token for the model, which no other
    session sees; the upload event, to chain what redraws with it)."""
    own = gr.State(None)
    with gr.Accordion(title, open=False):
        gr.Markdown(help_text)
        files = gr.File(label=files_label, file_count="multiple",
                        file_types=[".pth", ".pt", ".pt2"], elem_id=f"own-{key}-upload")
        status = gr.Markdown(elem_id=f"own-{key}-status")
    uploaded = files.upload(bind(upload, ctx), [*inputs, files], [own, status],
                            api_visibility="private", **INTERACTIVE)
    return own, uploaded


# The tooltips' thumbnails (28 to 32 pixels high) shown three times larger, their pixels sharp:
# in the page's head (Gradio scopes a Blocks' css to its container, and vega-tooltip puts its
# tooltip at the end of the document's body). Faces and digits (images given the class
# "pixelated") fill their box's height, upscaled without blur.
PAGE_HEAD = ("<style>#vg-tooltip-element img { height: 96px; width: auto; "
             "image-rendering: pixelated; }"
             ".pixelated img { width: 100%; height: 100%; object-fit: contain !important; "
             "image-rendering: pixelated; }</style>")


def vega_plot_data(spec: dict) -> PlotData:
    """A Vega-Lite spec as Gradio's plot takes an Altair chart: its JSON."""
    return PlotData(type="altair", plot=json.dumps(spec, separators=(",", ":")))


def interactive_plot(label: str, **options: Any) -> gr.Plot:
    """A plot showing a Vega-Lite spec (a dict, :mod:`hw3lab.lab.charts`) with the Vega that
    Gradio bundles: Gradio takes Altair charts as their JSON, and this is that JSON."""
    if isinstance(options.get("value"), dict):  # a first view, built at start-up
        options["value"] = vega_plot_data(options["value"])
    plot = gr.Plot(label=label, **options)
    postprocess = plot.postprocess

    def from_spec(value: Any) -> Any:
        return postprocess(vega_plot_data(value) if isinstance(value, dict) else value)

    plot.postprocess = from_spec  # type: ignore[method-assign]
    return plot


# Gradio's plot gives no click event for a Vega chart, but hovering a point shows Vega's
# tooltip, whose "point" row is that point's number: a click on the chart (not the end of a
# drag that pans it) while a tooltip shows sends that number.
_PICKER_JS = """
const plotId = %(plot)s, pointKey = %(key)s;
const pickers = window.hw3labPickers = window.hw3labPickers || {};
if (pickers[plotId]) { pickers[plotId].trigger = trigger; return; }
const picker = pickers[plotId] = {trigger: trigger, start: null};
document.addEventListener('pointerdown', (event) => {
  picker.start = [event.clientX, event.clientY];
}, true);
document.addEventListener('click', (event) => {
  if (!event.target.closest || !event.target.closest('#' + plotId)) return;
  const start = picker.start;
  if (start && Math.hypot(event.clientX - start[0], event.clientY - start[1]) > 4) return;
  const tooltip = document.getElementById('vg-tooltip-element');
  if (!tooltip || !tooltip.classList.contains('visible')) return;
  for (const row of tooltip.querySelectorAll('tr')) {
    const key = row.querySelector('td.key'), value = row.querySelector('td.value');
    if (key && value && key.textContent === pointKey) {
      picker.trigger('click', {point: Number(value.textContent.replace(/,/g, ''))});
      return;
    }
  }
}, true);
"""


def point_picker(plot_id: str, point_key: str) -> gr.HTML:
    """An invisible component whose ``click`` event carries the number (``event._data
    ["point"]``) of the point clicked in the chart with ``elem_id`` ``plot_id``, read from its
    tooltip's ``point_key`` row."""
    script = _PICKER_JS % {"plot": json.dumps(plot_id), "key": json.dumps(point_key)}
    return gr.HTML("", js_on_load=script, container=False, padding=False,
                   elem_id=f"{plot_id}-picker")


def picked_point(event: gr.EventData) -> Any:
    """The point number a :func:`point_picker` click sends (anything: the callback checks)."""
    data = getattr(event, "_data", None)
    return data.get("point") if isinstance(data, dict) else None
