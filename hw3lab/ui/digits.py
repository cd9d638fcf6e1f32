"""Domain adaptation tab: one digit through source-only, DANN, ADDA and target-only side by side,
the accuracy table, t-SNE of each method's features, and batch labelling to a CSV.

Digits come from a sketch, uploads or examples: real test images when ``hw3_data`` is present,
else digits rendered by :mod:`hw3lab.data.examples`.
"""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from hw3lab import limits
from hw3lab.analysis.tsne import tsne_2d
from hw3lab.checkpoints import CheckpointError
from hw3lab.data.examples import render_digits
from hw3lab.data.images import ImageInputError, fit_digit, open_image
from hw3lab.data.transforms import LUMA_WEIGHTS
from hw3lab.inference import METHODS, task_name, test_accuracies
from hw3lab.ui.common import (
    TASK_NAMES,
    LabContext,
    UnavailableError,
    bind,
    checked,
    decode_checked,
    enlarge,
    image_from_array,
    parse_task,
    range_slider,
    read_image_file,
    scatter,
    shown,
    upload_paths,
)

DIGIT_COLOURINGS = ("class", "domain")
EXAMPLES = 12
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")
NO_CHECKPOINT = "no checkpoint"
DAMAGED = "damaged checkpoint"
METHOD_TITLES = {"source_only": "source only", "dann": "DANN", "adda": "ADDA",
                 "target_only": "target only"}


# -- where digits come from -----------------------------------------------------------------

def digit_samples(ctx: LabContext, domain: str, count: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """The first ``count`` test digits of ``domain`` as (N, 28, 28, 3) uint8 with labels, and
    whether they are real (else rendered by the app)."""
    split = ctx.test_split(domain)
    if split is None:
        images, labels = render_digits(domain, count)
        return images, labels, False
    images = split.images[:count]
    return (np.repeat(images, 3, axis=3) if images.shape[3] == 1 else images,
            split.targets[:count], True)


def examples(ctx: LabContext, task: Any) -> list[tuple[np.ndarray, str]]:
    """Target-domain examples of ``task`` for the gallery: (enlarged image, caption)."""
    _, target = parse_task(task)
    images, labels, real = digit_samples(ctx, target, EXAMPLES)
    kind = "test image" if real else "rendered"
    return [(enlarge(image, 4), f"{target} {kind}, label {label}")
            for image, label in zip(images, labels, strict=True)]


def sketch_digit(sketch: Any) -> np.ndarray:
    """A sketchpad drawing (dark strokes on light, or light on dark) -> a 28x28 digit, white on
    black, centred in a 20x20 box like MNIST."""
    if isinstance(sketch, dict):
        sketch = sketch.get("composite")
    if sketch is None:
        raise ImageInputError("the sketch is blank: draw a digit first")
    array = np.asarray(image_from_array(np.asarray(sketch), "the sketch"), dtype=np.float32)
    grey = array @ np.asarray(LUMA_WEIGHTS, dtype=np.float32)
    if np.median(grey) > 127:  # light background: make the strokes the bright part
        grey = 255 - grey
    ink = grey > 40
    if ink.sum() < 3 or grey.max() - grey.min() < 40:
        raise ImageInputError("the sketch is blank: draw a digit first")
    rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = grey[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1]
    side = max(crop.shape)
    square = np.zeros((side, side), np.float32)
    top, left = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    square[top:top + crop.shape[0], left:left + crop.shape[1]] = crop
    box = Image.fromarray(square.astype(np.uint8)).resize((20, 20), Image.Resampling.LANCZOS)
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 4:24] = np.asarray(box)
    return np.repeat(digit[:, :, None], 3, axis=2)


# -- classification -------------------------------------------------------------------------

def predict_all(ctx: LabContext, source: str, target: str,
                images: np.ndarray) -> dict[str, np.ndarray | str]:
    """Class probabilities of each method, or why a method has none (no checkpoint, or a
    damaged one: the other methods still answer)."""
    results: dict[str, np.ndarray | str] = {}
    for method in METHODS:
        available = ctx.has_digits(source, target, method) and (
            method != "adda" or ctx.has_digits(source, target, "source_only"))
        try:
            results[method] = (ctx.store.classify_digits(images, source, target, method)
                               if available else NO_CHECKPOINT)
        except CheckpointError as error:
            results[method] = f"{DAMAGED}: {error}"
    reasons = [r for r in results.values() if isinstance(r, str)]
    if len(reasons) == len(results):
        if set(reasons) == {NO_CHECKPOINT}:
            raise UnavailableError(ctx.missing_digits(source, target, "source_only").replace(
                "No source_only checkpoint", "No digit checkpoints"))
        raise UnavailableError("; ".join(r for r in reasons if r != NO_CHECKPOINT))
    return results


def classify(ctx: LabContext, task: Any, images: np.ndarray,
             names: list[str]) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """Classify (N, 28, 28, 3) digits with the four methods: the first digit as the models see
    it, bar charts of its class probabilities (prediction highlighted), and a table of every
    digit's prediction per method."""
    source, target = parse_task(task)
    results = predict_all(ctx, source, target, images)
    grey = any(ctx.store.digits(source, target, m).grey for m, r in results.items()
               if not isinstance(r, str))
    seen = images[0].astype(np.float32) @ np.asarray(LUMA_WEIGHTS, np.float32) if grey \
        else images[0]
    view = np.repeat(seen[:, :, None], 3, axis=2) if grey else seen
    pair = np.concatenate([images[0], np.full((28, 2, 3), 255, np.uint8),
                           np.clip(view, 0, 255).astype(np.uint8)], axis=1)
    table = [[name] + [_prediction(results[m], i) for m in METHODS]
             for i, name in enumerate(names)]
    return enlarge(pair, 6), probability_chart(results, task_name(source, target)), table


def _prediction(probabilities: np.ndarray | str, index: int) -> str:
    if isinstance(probabilities, str):
        return probabilities
    label = int(probabilities[index].argmax())
    return f"{label} ({probabilities[index, label]:.0%})"


CHART_PANEL = (220, 200)  # width, height of one method's bar chart, in pixels
CHART_BARS = (20, 30, 200, 150)  # left, top, right, bottom of the bars inside a panel


def probability_chart(results: dict[str, np.ndarray | str], title: str) -> np.ndarray:
    """One bar chart per method of the first digit's class probabilities, side by side, the
    prediction highlighted. Drawn with PIL: matplotlib took 200 ms a chart, most of a digit
    request's time under load; this takes about 1 ms."""
    from PIL import ImageDraw

    width, height = CHART_PANEL
    left, top, right, bottom = CHART_BARS
    canvas = Image.new("RGB", (width * len(results), height + 16), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 2), title, fill="black")
    step = (right - left) / 10
    for i, (method, probabilities) in enumerate(results.items()):
        x0, y0 = i * width, 16
        draw.text((x0 + left, y0), METHOD_TITLES[method], fill="black")
        draw.rectangle((x0 + left, y0 + top, x0 + right, y0 + bottom), outline="#888888")
        for digit in range(10):
            draw.text((x0 + left + step * digit + step / 2 - 3, y0 + bottom + 2), str(digit),
                      fill="black")
        if isinstance(probabilities, str):  # the table has the whole reason
            draw.text((x0 + left + 40, y0 + (top + bottom) // 2), probabilities.split(":")[0],
                      fill="black")
            continue
        first = probabilities[0]
        predicted = int(first.argmax())
        for digit, value in enumerate(first):
            bar_top = y0 + bottom - float(value) * (bottom - top)
            draw.rectangle((x0 + left + step * digit + 2, bar_top,
                            x0 + left + step * (digit + 1) - 2, y0 + bottom),
                           fill="#e4572e" if digit == predicted else "#cccccc")
        draw.text((x0 + left + 50, y0 + bottom + 16), f"predicts {predicted}", fill="black")
    return np.asarray(canvas)


def classify_sketch(ctx: LabContext, task: Any, sketch: Any) -> tuple:
    """Classify a drawn digit."""
    return classify(ctx, task, sketch_digit(sketch)[None], ["sketch"])


def classify_uploads(ctx: LabContext, task: Any, files: Any) -> tuple:
    """Classify one or many uploaded digit images."""
    paths = upload_paths(files, limits.MAX_UPLOAD_FILES)
    images = np.stack([fit_digit(read_image_file(path)) for path in paths])
    return classify(ctx, task, images, [Path(path).name for path in paths])


def classify_example(ctx: LabContext, task: Any, index: Any) -> tuple:
    """Classify example ``index`` of the task's target domain."""
    _, target = parse_task(task)
    index = limits.Range(0, EXAMPLES - 1, 0).check_int(index, "the example")
    images, labels, real = digit_samples(ctx, target, EXAMPLES)
    kind = "test image" if real else "rendered example"
    return classify(ctx, task, images[index:index + 1],
                    [f"{target} {kind} {index}, label {labels[index]}"])


# -- accuracy, features ---------------------------------------------------------------------

ACCURACY_HEADERS = ["task", "method", "target test accuracy", "source test accuracy", "from"]


def accuracy_table(ctx: LabContext, recompute_task: Any = None) -> list[list[str]]:
    """Accuracy per task and method from the manifest; ``recompute_task`` (a task name) is
    measured again on the real test splits."""
    checkpoints = ctx.store.manifest()["checkpoints"]
    if recompute_task is not None:
        parse_task(recompute_task)
    rows = []
    for task in TASK_NAMES:
        source, target = parse_task(task)
        for method in METHODS:
            metrics = checkpoints.get(f"digits/{task_name(source, target)}-{method}", {})
            metrics = metrics.get("metrics", {})
            where = "manifest"
            if not ctx.has_digits(source, target, method):
                where = "manifest, but the checkpoint file is missing"
            elif task == recompute_task:
                metrics = measure(ctx, source, target, method)
                where = "recomputed now"
            rows.append([task, METHOD_TITLES[method],
                         _percent(metrics.get("target_test_accuracy")),
                         _percent(metrics.get("source_test_accuracy")),
                         where if metrics else "not trained"])
    return rows


def recompute_accuracy(ctx: LabContext, task: Any) -> list[list[str]]:
    """The accuracy table with ``task`` (required: the API may send None) measured again."""
    parse_task(task)
    return accuracy_table(ctx, task)


def measure(ctx: LabContext, source: str, target: str, method: str) -> dict[str, float]:
    """Test accuracies on the real test splits (needs ``hw3_data``)."""
    def test_split(domain: str) -> tuple[np.ndarray, np.ndarray]:
        split = ctx.test_split(domain)
        if split is None:
            raise UnavailableError("recomputing accuracy needs hw3_data: start the lab with --data")
        return split.images, split.targets

    return test_accuracies(ctx.store, source, target, method, test_split)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def digit_features(ctx: LabContext, source: str, target: str, method: str, count: int
                   ) -> tuple[np.ndarray, np.ndarray, dict[str, tuple[np.ndarray, list[str]]],
                              tuple[str, ...]]:
    """Features of ``count`` digits, half source and half target test images, with their
    images, the labels of each colouring and a caption per point."""
    if not ctx.has_digits(source, target, method):
        raise UnavailableError(ctx.missing_digits(source, target, method))
    half = count // 2
    source_images, source_labels, _ = digit_samples(ctx, source, half)
    target_images, target_labels, _ = digit_samples(ctx, target, count - half)
    images = np.concatenate([source_images, target_images])
    labels = np.concatenate([source_labels, target_labels])
    domains = np.repeat([0, 1], [len(source_images), len(target_images)])
    features = ctx.store.digit_features(images, source, target, method)
    colourings = {"class": (labels, [str(d) for d in range(10)]),
                  "domain": (domains, [f"source {source}", f"target {target}"])}
    captions = tuple(f"{(source, target)[d]} test digit, label {label}"
                     for d, label in zip(domains, labels, strict=True))
    return features, images, colourings, captions


def feature_tsne(ctx: LabContext, task: Any, count: Any) -> np.ndarray:
    """t-SNE of each method's features, coloured by class (top row) and domain (bottom row)."""
    source, target = parse_task(task)
    count = limits.TSNE_POINTS.check_int(count, "the number of points")
    columns = []
    for method in METHODS:
        blank = np.full((600, 300, 3), 255, np.uint8)
        if not ctx.has_digits(source, target, method):
            columns.append(_write(blank, f"{METHOD_TITLES[method]}: {NO_CHECKPOINT}"))
            continue
        try:
            features, _, colourings, _ = digit_features(ctx, source, target, method, count)
        except CheckpointError:
            columns.append(_write(blank, f"{METHOD_TITLES[method]}: {DAMAGED}"))
            continue
        points = tsne_2d(features)
        panels = [scatter(points, *colourings[c], f"{METHOD_TITLES[method]} by {c}",
                          size=(3.0, 3.0))[0] for c in DIGIT_COLOURINGS]
        columns.append(np.concatenate(panels, axis=0))
    return np.concatenate(columns, axis=1)


def _write(image: np.ndarray, text: str) -> np.ndarray:
    from PIL import ImageDraw

    canvas = Image.fromarray(image)
    ImageDraw.Draw(canvas).text((10, image.shape[0] // 2), text, fill="black")
    return np.asarray(canvas)


# -- batch ----------------------------------------------------------------------------------

def batch_files(files: Any) -> list[tuple[str, bytes]]:
    """(name, bytes) of every image in uploaded files and zips, within the batch limits; only
    base names are kept and nothing is extracted to disk."""
    entries: list[tuple[str, bytes]] = []
    for path in upload_paths(files, limits.MAX_BATCH_FILES):
        if path.lower().endswith(".zip"):
            entries.extend(_zip_members(Path(path)))
        else:
            entries.append((Path(path).name, Path(path).read_bytes()))
        if len(entries) > limits.MAX_BATCH_FILES:
            raise limits.LimitError(f"at most {limits.MAX_BATCH_FILES} images in a batch")
    if not entries:
        raise ImageInputError("no images found in the upload")
    return entries


def _zip_members(path: Path) -> list[tuple[str, bytes]]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()
                       and m.filename.lower().endswith(IMAGE_SUFFIXES)]
            if len(members) > limits.MAX_BATCH_FILES:
                raise limits.LimitError(f"{path.name} holds {len(members)} images; at most "
                                        f"{limits.MAX_BATCH_FILES} in a batch")
            if sum(m.file_size for m in members) > limits.MAX_ZIP_BYTES:
                raise limits.LimitError(f"{path.name} unpacks to more than "
                                        f"{limits.MAX_ZIP_BYTES // 2**20} MB")
            return [(Path(m.filename).name, archive.read(m)) for m in members]
    except (zipfile.BadZipFile, OSError, RuntimeError) as error:
        raise ImageInputError(f"{path.name}: not a readable zip ({error})") from None


def batch_csv(ctx: LabContext, task: Any, method: Any, files: Any) -> tuple[str, str]:
    """Label every image of a batch with one method: the ``image_name,label`` CSV's path and
    a summary naming any files that could not be read."""
    source, target = parse_task(task)
    method = limits.check_choice(method, METHODS, "the method")
    if not ctx.has_digits(source, target, method):
        raise UnavailableError(ctx.missing_digits(source, target, method))
    names, images, skipped = [], [], []
    for name, data in batch_files(files):
        try:
            images.append(fit_digit(open_image(data, name)))
            names.append(name)
        except ImageInputError as error:
            skipped.append(str(error))
    if not images:
        raise ImageInputError("none of the files is a readable image: " + "; ".join(skipped[:3]))
    labels = ctx.store.classify_digits(np.stack(images), source, target, method).argmax(1)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["image_name", "label"])
    writer.writerows(zip(names, labels.tolist(), strict=True))
    path = Path(tempfile.mkdtemp(prefix="hw3lab-")) / f"{task_name(source, target)}-{method}.csv"
    path.write_text(text.getvalue())
    summary = f"Labelled {len(names)} image(s) with {METHOD_TITLES[method]}."
    if skipped:
        summary += f" Skipped {len(skipped)}: " + "; ".join(skipped[:5])
    return str(path), summary


# -- the tab --------------------------------------------------------------------------------

def build(ctx: LabContext) -> None:
    """The domain adaptation tab."""
    missing = [f"{t} {m}" for t in TASK_NAMES for m in METHODS
               if not ctx.has_digits(*parse_task(t), m)]
    data = ("real test images from hw3_data" if ctx.data_root is not None
            else "digits the app renders itself (no hw3_data)")
    note = (f"\n\n**No checkpoint in {ctx.checkpoints / 'digits'} for:** {', '.join(missing)} "
            "(train with python -m train.METHOD --source S --target T)" if missing else "")
    gr.Markdown(f"Examples are {data}.{note}")
    task = checked(gr.Dropdown(list(TASK_NAMES), value=TASK_NAMES[0],
                               label="Task (source->target)"))
    with gr.Row():
        with gr.Column():
            with gr.Tab("Draw"):
                sketch = decode_checked(gr.Sketchpad(
                    label="Draw a digit (pick the brush)", height=300, canvas_size=(280, 280),
                    layers=False, elem_id="digit-sketch"))
                draw_button = gr.Button("Classify the drawing", variant="primary",
                                        elem_id="classify-sketch")
            with gr.Tab("Upload"):
                uploads = gr.File(label="Digit images", file_count="multiple",
                                  file_types=["image"], elem_id="digit-upload")
            with gr.Tab("Examples"):
                gallery = gr.Gallery(value=examples(ctx, TASK_NAMES[0]), columns=6,
                                     height=200, allow_preview=False, label="Click an example")
                example_index = checked(gr.Number(value=0, precision=0, label="Example number",
                                                  minimum=0, maximum=EXAMPLES - 1))
        with gr.Column():
            seen = shown("Input | as the models see it (28x28)", height=170,
                         elem_id="digit-seen")
    chart = shown("Class probabilities", height=240, elem_id="digit-chart")
    table = gr.Dataframe(headers=["image", *(METHOD_TITLES[m] for m in METHODS)],
                         label="Predictions", interactive=False)
    outputs = [seen, chart, table]
    draw_button.click(bind(classify_sketch, ctx), [task, sketch],
                      outputs, api_name="digits_sketch")
    uploads.upload(bind(classify_uploads, ctx), [task, uploads],
                   outputs, api_name="digits_upload")

    def pick(event: gr.SelectData) -> int:
        return event.index

    show_example = bind(classify_example, ctx)
    gallery.select(pick, None, example_index, api_visibility="private").then(
        show_example, [task, example_index], outputs, api_name="digits_example")
    example_index.submit(show_example, [task, example_index], outputs,
                         api_visibility="private")
    task.change(bind(examples, ctx), task, gallery, api_visibility="private")

    with gr.Accordion("Accuracy per task and method", open=False):
        accuracy_frame = gr.Dataframe(headers=ACCURACY_HEADERS, interactive=False)
        with gr.Row():
            gr.Button("Show (from the manifest)").click(
                bind(accuracy_table, ctx), None, accuracy_frame,
                api_name="digits_accuracy")
            gr.Button("Recompute the chosen task on hw3_data").click(
                bind(recompute_accuracy, ctx), task, accuracy_frame,
                api_name="digits_recompute")
    with gr.Accordion("t-SNE of each method's features", open=False):
        count = range_slider(limits.TSNE_POINTS, "Points (half source, half target)", value=400)
        tsne_image = shown("By class (top) and by domain (bottom)")
        gr.Button("Draw").click(bind(feature_tsne, ctx),
                                [task, count], tsne_image, api_name="digits_tsne")
    with gr.Accordion("Batch: label a folder or a zip", open=False):
        method = checked(gr.Dropdown(list(METHODS), value="dann", label="Method"))
        batch = gr.File(label="Images or a zip of images", file_count="multiple",
                        file_types=["image", ".zip"])
        folder = gr.File(label="...or a whole folder", file_count="directory")
        csv_file = gr.File(label="image_name,label CSV", interactive=False)
        summary = gr.Markdown()
        run = bind(batch_csv, ctx)
        gr.Button("Label the batch").click(run, [task, method, batch], [csv_file, summary],
                                           api_name="digits_batch")
        folder.upload(run, [task, method, folder], [csv_file, summary], api_visibility="private")
