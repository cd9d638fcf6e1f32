"""The domain adaptation tab: a drawn, uploaded or example digit through every method, the
accuracy table, t-SNE of each method's features, and batch labelling (operations:
:mod:`hw3lab.lab.digits`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from hw3lab import limits
from hw3lab.lab import TASK_NAMES, LabContext
from hw3lab.lab.digits import (
    ACCURACY_HEADERS,
    EXAMPLES,
    accuracy_table,
    batch_csv,
    classify_example,
    classify_sketch,
    classify_uploads,
    data_note,
    examples,
    feature_tsne,
    prediction_headers,
    recompute_accuracy,
)
from hw3lab.lab.domain_styles import classify_styles
from hw3lab.lab.own_models import upload_digits
from hw3lab.lab.tsne_cache import FEATURE_TSNE_POINTS
from hw3lab.methods import METHODS
from hw3lab.ui.widgets import (
    HEAVY,
    INTERACTIVE,
    TSNE,
    bind,
    checked,
    decode_checked,
    interactive_plot,
    own_model_box,
    range_slider,
    seed_box,
    shown,
    with_progress,
)


def build(ctx: LabContext, demo: gr.Blocks) -> None:
    """The domain adaptation tab; ``demo`` is the whole app, whose page load fills the
    accuracy table."""
    gr.Markdown(data_note(ctx))
    task = checked(gr.Dropdown(list(TASK_NAMES), value=TASK_NAMES[0],
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
                example_index = seed_box("Example number", minimum=0, maximum=EXAMPLES - 1,
                                         elem_id="digit-example-number")
        with gr.Column():
            seen = shown("Input | as the models see it (28x28)", height=170,
                         elem_id="digit-seen")
    chart = shown("Class probabilities", height=240, elem_id="digit-chart")
    table = gr.Dataframe(headers=prediction_headers("image"), label="Predictions",
                         interactive=False, elem_id="digit-table")
    outputs = [seen, chart, table]
    with gr.Accordion("Your drawing in each domain's style (USPS, MNIST-M, SVHN)",
                      open=False) as styles_box:
        styles_image = shown("Plain like USPS | |texture - digit| like MNIST-M | grey with "
                             "neighbours like SVHN", height=190, elem_id="digit-styles")
        styles_table = gr.Dataframe(headers=prediction_headers("style"),
                                    label="Predictions per style", interactive=False)
    styles_button.click(lambda: gr.Accordion(open=True), None, styles_box,
                        api_visibility="private", **INTERACTIVE).then(
        bind(classify_styles, ctx), [task, sketch, own], [styles_image, styles_table],
        api_name="digits_styles", **INTERACTIVE)
    # Which input the predictions show, so that they are made again, with the session's own
    # model, once it arrives: an event reads a gr.State when it starts, so a digit classified
    # while the model was still loading, or before its upload, showed '-' in its column.
    shown_input = gr.State(None)
    inputs = {"sketch": [task, sketch, own], "upload": [task, uploads, own],
              "example": [task, example_index, own]}
    classifiers = {"sketch": bind(classify_sketch, ctx), "upload": bind(classify_uploads, ctx),
                   "example": bind(classify_example, ctx)}

    def showing(kind: str) -> Callable[[], str]:
        return lambda: kind

    draw_button.click(showing("sketch"), None, shown_input, api_visibility="private",
                      **INTERACTIVE).then(
        classifiers["sketch"], inputs["sketch"], outputs, api_name="digits_sketch",
        **INTERACTIVE)
    uploads.upload(showing("upload"), None, shown_input, api_visibility="private",
                   **INTERACTIVE).then(
        classifiers["upload"], inputs["upload"], outputs, api_name="digits_upload",
        **INTERACTIVE)

    def pick(event: gr.SelectData) -> tuple[int, str]:
        return event.index, "example"

    gallery.select(pick, None, [example_index, shown_input], api_visibility="private",
                   **INTERACTIVE).then(
        classifiers["example"], inputs["example"], outputs, api_name="digits_example",
        **INTERACTIVE)
    example_index.submit(showing("example"), None, shown_input,
                         api_visibility="private", **INTERACTIVE).then(
        classifiers["example"], inputs["example"], outputs, api_visibility="private",
        **INTERACTIVE)

    def classify_again(kind: str | None, chosen_task: str, drawn: Any, files: Any, index: Any,
                       token: Any) -> tuple:
        """The shown input classified again with the session's new model; unchanged if
        nothing is shown, or if it cannot be classified (its message was shown already)."""
        if kind not in classifiers:
            return gr.skip(), gr.skip(), gr.skip()
        given = {"sketch": drawn, "upload": files, "example": index}[kind]
        try:
            return classifiers[kind](chosen_task, given, token)
        except gr.Error:
            return gr.skip(), gr.skip(), gr.skip()

    uploaded.success(
        classify_again, [shown_input, task, sketch, uploads, example_index, own], outputs,
        api_visibility="private", **INTERACTIVE)
    task.change(bind(examples, ctx), task, gallery, api_visibility="private", **INTERACTIVE)

    with gr.Accordion("Accuracy per task and method", open=False):
        accuracy_frame = gr.Dataframe(headers=ACCURACY_HEADERS, interactive=False)
        # Filled from the manifest on every page load.
        demo.load(bind(accuracy_table, ctx), None, accuracy_frame, api_name="accuracy_table",
                  **INTERACTIVE)
        with gr.Row():
            gr.Button("Show (from the manifest)").click(
                bind(accuracy_table, ctx), None, accuracy_frame, api_name="digits_accuracy",
                **INTERACTIVE)
            gr.Button("Recompute the chosen task on hw3_data").click(
                bind(recompute_accuracy, ctx), [task, own], accuracy_frame,
                api_name="digits_recompute", **HEAVY)
    with gr.Accordion("t-SNE of each method's features", open=False):
        count = range_slider(limits.TSNE_POINTS, "Points (half source, half target)",
                             value=FEATURE_TSNE_POINTS)
        tsne_plot = interactive_plot("By class (top) and by domain (bottom): hover a point to "
                                     "see the digit; the wheel zooms, dragging pans",
                                     elem_id="digits-tsne-plot")
        gr.Button("Draw", elem_id="digits-tsne-draw").click(
            with_progress(feature_tsne, ctx), [task, count, own], tsne_plot,
            api_name="digits_tsne", **TSNE)
    with gr.Accordion("Batch: label a folder or a zip", open=False):
        method = checked(gr.Dropdown([(m.title, m.name) for m in METHODS.values()],
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
