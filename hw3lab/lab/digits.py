"""Domain adaptation: one digit through every registered method (:mod:`hw3lab.methods`) side
by side, the accuracy table, t-SNE of each method's features, and batch labelling to a CSV.

Digits come from a sketch, uploads or examples: real test images, from ``hw3_data`` when it is
present, else from the sample shipped with the lab.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from hw3lab import limits
from hw3lab.checkpoints import CheckpointError
from hw3lab.data.images import ImageInputError, fit_digit, open_image
from hw3lab.data.transforms import LUMA_WEIGHTS
from hw3lab.inference import DigitModel, test_accuracies
from hw3lab.lab.charts import DIGIT_THUMBNAIL, scatter_grid, thumbnail_uris
from hw3lab.lab.context import TASK_NAMES, LabContext, UnavailableError, parse_task
from hw3lab.lab.inputs import batch_files, read_image_file, sketch_digit, upload_paths
from hw3lab.lab.own_models import OWN_TITLE, own_digits
from hw3lab.lab.pictures import enlarge, probability_chart
from hw3lab.lab.tsne_spaces import digit_space
from hw3lab.lab.tsne_views import embed
from hw3lab.methods import METHODS, digit_key, task_name, title
from hw3lab.metrics import accuracy

DIGIT_COLOURINGS = ("class", "domain")
EXAMPLES = 12
NO_CHECKPOINT = "no checkpoint"
DAMAGED = "damaged checkpoint"
ACCURACY_HEADERS = ["task", "method", "target test accuracy", "source test accuracy", "from"]


# -- where digits come from -----------------------------------------------------------------

def digit_samples(ctx: LabContext, domain: str, count: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``count`` real test digits of ``domain`` (all of the shipped sample's 100
    without hw3_data) as (N, 28, 28, 3) uint8 with their labels."""
    split = ctx.real_images(domain)
    if split is None:
        raise UnavailableError(f"no {domain} test images: start the lab with --data hw3_data")
    images = split.images[:count]
    return (np.repeat(images, 3, axis=3) if images.shape[3] == 1 else images,
            split.targets[:count])


def examples(ctx: LabContext, task: Any) -> list[tuple[np.ndarray, str]]:
    """Target-domain examples of ``task`` for the gallery: (enlarged image, caption)."""
    _, target = parse_task(task)
    images, labels = digit_samples(ctx, target, EXAMPLES)
    return [(enlarge(image, 4), f"{target} test image, label {label}")
            for image, label in zip(images, labels, strict=True)]


def data_note(ctx: LabContext) -> str:
    """Where the examples come from, and which digit checkpoints are missing (Markdown)."""
    missing = ctx.missing_digit_tasks()
    data = ("real test images from hw3_data" if ctx.data_root is not None
            else "real test images from the lab's shipped sample (no hw3_data: 100 a domain, "
            "so a t-SNE has at most 200 points)")
    note = (f"\n\n**No checkpoint in {ctx.public_path(ctx.checkpoints / 'digits')} for:** "
            f"{', '.join(missing)} "
            "(train with python -m train.METHOD --source S --target T)" if missing else "")
    return f"Examples are {data}.{note}"


# -- classification -------------------------------------------------------------------------

def predict_all(ctx: LabContext, source: str, target: str, images: np.ndarray,
                own: Any = None) -> dict[str, np.ndarray | str]:
    """Class probabilities of each method (and of the session's own model, under
    :data:`OWN_TITLE`, if it uploaded one), or why a method has none (no checkpoint, or a
    damaged one: the other methods still answer)."""
    results: dict[str, np.ndarray | str] = {}
    for method in METHODS:
        try:
            results[method] = (ctx.store.classify_digits(images, source, target, method)
                               if ctx.has_digits(source, target, method) else NO_CHECKPOINT)
        except CheckpointError as error:
            results[method] = f"{DAMAGED}: {ctx.redact(str(error))}"
    reasons = [r for r in results.values() if isinstance(r, str)]
    if len(reasons) == len(results):
        if set(reasons) == {NO_CHECKPOINT}:
            raise UnavailableError(
                f"No digit checkpoints for {task_name(source, target)} in "
                f"{ctx.checkpoints / 'digits'}: train them with "
                f"{', '.join(m.trains for m in METHODS.values())}, each with --source "
                f"{source} --target {target} --out {ctx.checkpoints}")
        raise UnavailableError("; ".join(r for r in reasons if r != NO_CHECKPOINT))
    mine = own_digits(ctx, own, source, target)
    if mine is not None:
        results[OWN_TITLE] = (mine if isinstance(mine, str)
                              else ctx.store.model_probabilities(mine, images))
    return results


def classify(ctx: LabContext, task: Any, images: np.ndarray, names: list[str],
             own: Any = None) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """Classify (N, 28, 28, 3) digits with every method and the session's own model: the
    first digit as the models see it, bar charts of its class probabilities (prediction
    highlighted), and a table of every digit's prediction per method (columns:
    :func:`prediction_headers`)."""
    source, target = parse_task(task)
    results = predict_all(ctx, source, target, images, own)
    grey = any(ctx.store.digits(source, target, m).grey for m, r in results.items()
               if m in METHODS and not isinstance(r, str))
    seen = images[0].astype(np.float32) @ np.asarray(LUMA_WEIGHTS, np.float32) if grey \
        else images[0]
    view = np.repeat(seen[:, :, None], 3, axis=2) if grey else seen
    pair = np.concatenate([images[0], np.full((28, 2, 3), 255, np.uint8),
                           np.clip(view, 0, 255).astype(np.uint8)], axis=1)
    table = [[name] + [_prediction(results.get(m, "-"), i) for m in (*METHODS, OWN_TITLE)]
             for i, name in enumerate(names)]
    chart = probability_chart({title(m): r for m, r in results.items()},
                              task_name(source, target))
    return enlarge(pair, 6), chart, table


def prediction_headers(first: str) -> list[str]:
    """The prediction tables' columns: ``first`` (what a row is), each method, your model."""
    return [first, *(title(m) for m in METHODS), OWN_TITLE]


def _prediction(probabilities: np.ndarray | str, index: int) -> str:
    if isinstance(probabilities, str):
        return probabilities
    label = int(probabilities[index].argmax())
    return f"{label} ({probabilities[index, label]:.0%})"


def classify_sketch(ctx: LabContext, task: Any, sketch: Any, own: Any = None) -> tuple:
    """Classify a drawn digit."""
    return classify(ctx, task, sketch_digit(sketch)[None], ["sketch"], own)


def classify_uploads(ctx: LabContext, task: Any, files: Any, own: Any = None) -> tuple:
    """Classify one or many uploaded digit images."""
    paths = upload_paths(files, limits.MAX_UPLOAD_FILES)
    images = np.stack([fit_digit(read_image_file(path)) for path in paths])
    return classify(ctx, task, images, [Path(path).name for path in paths], own)


def classify_example(ctx: LabContext, task: Any, index: Any, own: Any = None) -> tuple:
    """Classify example ``index`` of the task's target domain."""
    _, target = parse_task(task)
    index = limits.Range(0, EXAMPLES - 1, 0).check_int(index, "the example")

    def compute() -> tuple:
        images, labels = digit_samples(ctx, target, EXAMPLES)
        return classify(ctx, task, images[index:index + 1],
                        [f"{target} test image {index}, label {labels[index]}"], own)
    if own:  # the session's own model: its answer is the session's alone
        return compute()
    # The same twelve examples for every student: classified once per task and example.
    return ctx.remembered(("example", task, index), compute)


# -- accuracy, features ---------------------------------------------------------------------

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
            metrics = checkpoints.get(digit_key(source, target, method), {})
            metrics = metrics.get("metrics", {})
            where = "manifest"
            if not ctx.has_digits(source, target, method):
                where = "manifest, but the checkpoint file is missing"
            elif task == recompute_task:
                metrics = measure(ctx, source, target, method)
                where = "recomputed now"
            rows.append([task, title(method),
                         _percent(metrics.get("target_test_accuracy")),
                         _percent(metrics.get("source_test_accuracy")),
                         where if metrics else "not trained"])
    return rows


def recompute_accuracy(ctx: LabContext, task: Any, own: Any = None) -> list[list[str]]:
    """The accuracy table with ``task`` (required: the API may send None) measured again, and
    the session's own model for that task measured too."""
    source, target = parse_task(task)
    rows = accuracy_table(ctx, task)
    mine = own_digits(ctx, own, source, target)
    if mine is not None and not isinstance(mine, str):
        scores = {}
        for role, domain in (("target", target), ("source", source)):
            images, labels = _real_test_split(ctx, domain)
            scores[role] = accuracy(ctx.store.model_probabilities(mine, images).argmax(1),
                                    labels)
        rows.append([task, OWN_TITLE, _percent(scores["target"]), _percent(scores["source"]),
                     "recomputed now"])
    return rows


def _real_test_split(ctx: LabContext, domain: str) -> tuple[np.ndarray, np.ndarray]:
    split = ctx.test_split(domain)
    if split is None:
        raise UnavailableError("recomputing accuracy needs hw3_data: start the lab with --data")
    return split.images, split.targets


def measure(ctx: LabContext, source: str, target: str, method: str) -> dict[str, float]:
    """Test accuracies on the real test splits (needs ``hw3_data``)."""
    return test_accuracies(ctx.store, source, target, method,
                           lambda domain: _real_test_split(ctx, domain))


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def digit_features(ctx: LabContext, source: str, target: str, method: str, count: int,
                   model: DigitModel | None = None
                   ) -> tuple[np.ndarray, np.ndarray, dict[str, tuple[np.ndarray, list[str]]],
                              tuple[str, ...]]:
    """Features of ``count`` digits, half source and half target test images, by ``method``'s
    extractor (or ``model``'s, a session's own), with their images, the labels of each
    colouring and a caption per point."""
    if model is None and not ctx.has_digits(source, target, method):
        raise UnavailableError(ctx.missing_digits(source, target, method))
    half = count // 2
    source_images, source_labels = digit_samples(ctx, source, half)
    target_images, target_labels = digit_samples(ctx, target, count - half)
    images = np.concatenate([source_images, target_images])
    labels = np.concatenate([source_labels, target_labels])
    domains = np.repeat([0, 1], [len(source_images), len(target_images)])
    if model is not None:
        features = ctx.store.model_features(model, images)
    elif count in digit_space(source, target, method).default_counts():
        # A shipped model's features of the default views' digits: the same for every student
        # (75 ms a method each time on one core); other counts are computed as asked.
        features = ctx.remembered(("digit features", source, target, method, count),
                                  lambda: ctx.store.digit_features(images, source, target,
                                                                   method))
    else:
        features = ctx.store.digit_features(images, source, target, method)
    colourings = {"class": (labels, [str(d) for d in range(10)]),
                  "domain": (domains, [f"source {source}", f"target {target}"])}
    captions = tuple(f"{(source, target)[d]} test digit, label {label}"
                     for d, label in zip(domains, labels, strict=True))
    return features, images, colourings, captions


def digit_thumbnails(ctx: LabContext, source: str, target: str, count: int,
                     images: np.ndarray) -> list[str]:
    """The tooltips' thumbnails of :func:`digit_features`'s ``images`` (which depend on the
    task and the count only), encoded once."""
    return ctx.remembered(("digit thumbnails", source, target, count),
                          lambda: thumbnail_uris(images, DIGIT_THUMBNAIL))


def feature_tsne(ctx: LabContext, task: Any, count: Any, own: Any = None) -> dict:
    """t-SNE of each method's features (and the session's own model's), one column each,
    coloured by class (top row) and domain (bottom row): an interactive chart (a Vega-Lite
    spec, :mod:`hw3lab.lab.charts`) whose tooltips show each digit and its labels."""
    source, target = parse_task(task)
    count = limits.TSNE_POINTS.check_int(count, "the number of points")
    mine = own_digits(ctx, own, source, target)
    models: dict[str, DigitModel | None] = dict.fromkeys(METHODS)
    if isinstance(mine, DigitModel):
        models[OWN_TITLE] = mine
    panels: dict[str, np.ndarray | str] = {}
    drawn = None  # the digits (the same for every method) and their colourings and captions
    for method, model in models.items():
        name = title(method)
        if model is None and not ctx.has_digits(source, target, method):
            panels[name] = NO_CHECKPOINT
            continue
        try:
            features, images, colourings, captions = digit_features(ctx, source, target,
                                                                    method, count, model)
        except CheckpointError:
            panels[name] = DAMAGED
            continue
        # The shipped methods' views may be precomputed; a session's own model's never is.
        panels[name] = embed(ctx, digit_space(source, target, method), count,
                             limits.TSNE_PERPLEXITY.default, features,
                             images if model is None else None)
        drawn = images, colourings, captions
    if drawn is None:
        raise UnavailableError(f"no usable digit checkpoint for {task_name(source, target)}: "
                               + "; ".join(f"{t}: {p}" for t, p in panels.items()))
    images, colourings, captions = drawn
    return scatter_grid(panels, {c: colourings[c] for c in DIGIT_COLOURINGS},
                        digit_thumbnails(ctx, source, target, count, images), captions)


# -- batch ----------------------------------------------------------------------------------

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
    path = ctx.outputs.write(f"{task_name(source, target)}-{method}.csv",
                             text.getvalue().encode())
    summary = f"Labelled {len(names)} image(s) with {title(method)}."
    if skipped:
        summary += f" Skipped {len(skipped)}: " + "; ".join(skipped[:5])
    return str(path), summary
