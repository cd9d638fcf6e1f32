"""The domain adaptation tab: a drawn, uploaded or example digit through every method, the
accuracy table, t-SNE of each method's features, and batch labelling (operations:
:mod:`hw3lab.lab.digits`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from hw3lab import limits
from hw3lab.lab import TASK_NAMES, LabContext
from hw3lab.lab.digits import (
    ACCURACY_HEADERS,
    EXAMPLES,
    accuracy_table,
    batch_csv,
    data_note,
    examples,
    feature_tsne,
    prediction_headers,
    recompute_accuracy,
)
from hw3lab.lab.domain_styles import classify_styles
from hw3lab.lab.first_view import FIRST_EXAMPLE, FirstView, initial
from hw3lab.lab.own_models import upload_digits
from hw3lab.lab.shown_digit import CLASSIFIERS, INPUT_KINDS, classify_shown_again
from hw3lab.lab.tsne_spaces import FEATURE_TSNE_POINTS
from hw3lab.methods import METHODS
from hw3lab.ui.widgets import (
    HEAVY,
    INTERACTIVE,
    TSNE,
    bind,
    checked_by_callback,
    decode_checked,
    interactive_plot,
    own_model_box,
    range_slider,
    seed_box,
    shown,
    with_progress,
)

# The sketchpad opens with its brush chosen, ready to draw (Gradio's opens on no tool and
# says "select the draw tool to start"): clicked in the browser once the pad is on the page.
READY_TO_DRAW_JS = """() => {
  const observer = new MutationObserver(() => arm());
  const arm = () => {
    const brush = document.querySelector('#digit-sketch button[aria-label="Brush"]');
    if (!brush) return;
    observer.disconnect();
    brush.click();
  };
  observer.observe(document.body, {childList: true, subtree: true});
  arm();
}"""


def build(ctx: LabContext, demo: gr.Blocks, opening: FirstView | None = None) -> None:
    """The domain adaptation tab, opening on ``opening``'s example digit through every method
    and the accuracy table (computed at start-up); ``demo`` is the whole app."""
    opening = opening or FirstView()
    gr.Markdown(data_note(ctx))
    task = checked_by_callback(gr.Dropdown(list(TASK_NAMES), value=TASK_NAMES[0],
                               label="Task (source->target)"))
    own, uploaded = own_model_box(
        ctx, upload_digits,
        "Your own model: compare it with the shipped ones",
        "Your homework's `.pth` files for the chosen task, in any order: extractor "
        "and predictor state_dicts (or one dict holding both; DataParallel and "
        "ADDA layouts work). They are read without running any code, kept for "
        "this session only, and shown as *your model* beside the shipped ones. "
        "Another architecture: one `.pt2` from `python -m hw3lab.export_model` "
        "(docs/own-models.md).",
        "Your .pth files", "digits", inputs=(task,))
    panel = input_panel(ctx, opening)
    demo.load(None, None, None, js=READY_TO_DRAW_JS, api_visibility="private",
              **INTERACTIVE)  # runs in the browser only
    styles_section(ctx, panel, task, own)
    wire_classification(ctx, panel, task, own, uploaded, opening)
    task.change(bind(examples, ctx), task, panel.gallery, api_visibility="private",
                **INTERACTIVE)
    accuracy_section(ctx, task, own, opening)
    tsne_section(ctx, task, own)
    batch_section(ctx, task)


@dataclass
class InputPanel:
    """The tab's three ways in (a sketch, uploads, an example) and what it shows of the
    input classified last (the input as the models see it, the probabilities, the table)."""

    sketch: gr.Sketchpad
    draw_button: gr.Button
    styles_button: gr.Button
    uploads: gr.File
    gallery: gr.Gallery
    example_index: gr.Number
    outputs: list[gr.components.Component]


def input_panel(ctx: LabContext, opening: FirstView) -> InputPanel:
    """The inputs beside the input as the models see it, then the probabilities and table,
    all holding ``opening``'s example digit."""
    with gr.Row():
        with gr.Column():
            with gr.Tab("Draw"):
                sketch = decode_checked(gr.Sketchpad(
                    label="Draw a digit (pick the brush)", height=300, canvas_size=(280, 280),
                    layers=False, elem_id="digit-sketch"))
                with gr.Row():
                    draw_button = gr.Button("Classify the drawing", variant="primary",
                                            elem_id="classify-sketch")
                    styles_button = gr.Button("...in each domain's style",
                                              elem_id="classify-styles")
            with gr.Tab("Upload"):
                uploads = gr.File(label="Digit images", file_count="multiple",
                                  file_types=["image"], elem_id="digit-upload")
            with gr.Tab("Examples"):
                gallery = gr.Gallery(value=examples(ctx, TASK_NAMES[0]), columns=6,
                                     height=200, allow_preview=False, label="Click an example")
                example_index = seed_box("Example number", value=FIRST_EXAMPLE, minimum=0,
                                         maximum=EXAMPLES - 1,
                                         elem_id="digit-example-number")
        with gr.Column():
            seen = shown("Input | as the models see it (28x28)", height=260,
                         elem_id="digit-seen", value=initial(opening.digit, 0),
                         elem_classes=["pixelated"])
    chart = shown("Class probabilities", height=240, elem_id="digit-chart",
                  value=initial(opening.digit, 1))
    table = gr.Dataframe(initial(opening.digit, 2), headers=prediction_headers("image"),
                         label="Predictions", interactive=False, elem_id="digit-table")
    return InputPanel(sketch, draw_button, styles_button, uploads, gallery, example_index,
                      [seen, chart, table])


def wire_classification(ctx: LabContext, panel: InputPanel, task: gr.Dropdown, own: gr.State,
                        uploaded: Any, opening: FirstView) -> None:
    """Each input classified by every method when given, remembering which kind is shown
    (:mod:`hw3lab.lab.shown_digit`) so that it is classified again, with the session's own
    model, once that model arrives; the first view shows an example."""
    shown_input = gr.State("example" if opening.digit is not None else None)
    inputs = {"sketch": [task, panel.sketch, own], "upload": [task, panel.uploads, own],
              "example": [task, panel.example_index, own]}
    classifiers = {kind: bind(CLASSIFIERS[kind], ctx) for kind in INPUT_KINDS}

    def showing(kind: str) -> Callable[[], str]:
        return lambda: kind

    def pick(event: gr.SelectData) -> tuple[int, str]:
        return event.index, "example"

    starts = [(panel.draw_button.click, showing("sketch"), None, [shown_input], "sketch",
               "digits_sketch"),
              (panel.uploads.upload, showing("upload"), None, [shown_input], "upload",
               "digits_upload"),
              (panel.gallery.select, pick, None, [panel.example_index, shown_input], "example",
               "digits_example"),
              (panel.example_index.submit, showing("example"), None, [shown_input], "example",
               None)]
    for listener, remember, given, remembered, kind, api_name in starts:
        names = {"api_name": api_name} if api_name else {"api_visibility": "private"}
        listener(remember, given, remembered, api_visibility="private", **INTERACTIVE).then(
            classifiers[kind], inputs[kind], panel.outputs, **names, **INTERACTIVE)

    again = bind(classify_shown_again, ctx)

    def classify_again(kind: str | None, chosen_task: str, drawn: Any, files: Any, index: Any,
                       token: Any) -> tuple:
        """The shown input classified again; unchanged where there is nothing to show."""
        try:
            result = again(kind, chosen_task, drawn, files, index, token)
        except gr.Error:  # an unexpected failure, logged by bind: keep what is shown
            result = None
        return (gr.skip(), gr.skip(), gr.skip()) if result is None else result

    uploaded.success(
        classify_again, [shown_input, task, panel.sketch, panel.uploads, panel.example_index,
                         own], panel.outputs, api_visibility="private", **INTERACTIVE)


def styles_section(ctx: LabContext, panel: InputPanel, task: gr.Dropdown,
                   own: gr.State) -> None:
    """The drawing redrawn in each domain's style and classified in each."""
    with gr.Accordion("Your drawing in each domain's style (USPS, MNIST-M, SVHN)",
                      open=False) as styles_box:
        styles_image = shown("Plain like USPS | |texture - digit| like MNIST-M | grey with "
                             "neighbours like SVHN", height=190, elem_id="digit-styles")
        styles_table = gr.Dataframe(headers=prediction_headers("style"),
                                    label="Predictions per style", interactive=False)
    panel.styles_button.click(lambda: gr.Accordion(open=True), None, styles_box,
                              api_visibility="private", **INTERACTIVE).then(
        bind(classify_styles, ctx), [task, panel.sketch, own], [styles_image, styles_table],
        api_name="digits_styles", **INTERACTIVE)


def accuracy_section(ctx: LabContext, task: gr.Dropdown, own: gr.State,
                     opening: FirstView) -> None:
    """The accuracy table, open, read from the manifest when the lab starts."""
    read_accuracy = bind(accuracy_table, ctx)

    def accuracy_table_api() -> dict[str, Any]:
        """The accuracy table (headers and rows) read from the manifest now: the API name of
        what was the page-load event, kept for API clients."""
        return {"headers": ACCURACY_HEADERS, "data": read_accuracy()}

    with gr.Accordion("Accuracy per task and method", open=True):
        accuracy_frame = gr.Dataframe(opening.accuracy, headers=ACCURACY_HEADERS,
                                      interactive=False, elem_id="digit-accuracy")
        with gr.Row():
            gr.Button("Show (from the manifest)").click(
                read_accuracy, None, accuracy_frame, api_name="digits_accuracy",
                **INTERACTIVE)
            gr.Button("Recompute the chosen task on hw3_data").click(
                bind(recompute_accuracy, ctx), [task, own], accuracy_frame,
                api_name="digits_recompute", **HEAVY)
        gr.api(accuracy_table_api, api_name="accuracy_table", **INTERACTIVE)


def tsne_section(ctx: LabContext, task: gr.Dropdown, own: gr.State) -> None:
    """Each method's features in t-SNE, by class and by domain, drawn on request."""
    with gr.Accordion("t-SNE of each method's features", open=False):
        count = range_slider(limits.TSNE_POINTS, "Points (half source, half target)",
                             value=FEATURE_TSNE_POINTS)
        tsne_plot = interactive_plot("By class (top) and by domain (bottom): hover a point to "
                                     "see the digit; the wheel zooms, dragging pans",
                                     elem_id="digits-tsne-plot")
        gr.Button("Draw", elem_id="digits-tsne-draw").click(
            with_progress(feature_tsne, ctx), [task, count, own], tsne_plot,
            api_name="digits_tsne", **TSNE)


def batch_section(ctx: LabContext, task: gr.Dropdown) -> None:
    """A folder, a zip or many images labelled by one method into the homework's CSV."""
    with gr.Accordion("Batch: label a folder or a zip", open=False):
        method = checked_by_callback(gr.Dropdown([(m.title, m.name) for m in METHODS.values()],
                                     value="dann", label="Method"))
        batch = gr.File(label="Images or a zip of images", file_count="multiple",
                        file_types=["image", ".zip"])
        folder = gr.File(label="...or a whole folder", file_count="directory")
        csv_file = gr.File(label="image_name,label CSV", interactive=False)
        summary = gr.Markdown()
        run = bind(batch_csv, ctx)
        gr.Button("Label the batch").click(run, [task, method, batch], [csv_file, summary],
                                           api_name="digits_batch", **HEAVY)
        folder.upload(run, [task, method, folder], [csv_file, summary],
                      api_name="digits_batch_folder", **HEAVY)
