"""How the shipped models learned: stage views of their training timelines
(:mod:`hw3lab.training.timeline`).

A checkpoint's JSON names its timeline file (``timeline``). Its stage views (a t-SNE chart of the
fixed test items, the pictures, the curves) are built from that file once, the first time any
visitor asks for the timeline, and kept by the lab: moving a stage slider then only picks a
prepared view. Nothing here trains or embeds anything per visitor: the t-SNE maps of every stage
were made when the run shipped.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from safetensors import SafetensorError, safe_open
from safetensors.numpy import load_file

from hw3lab import limits
from hw3lab.checkpoints import read_metadata
from hw3lab.data.layout import FACE_ATTRIBUTES
from hw3lab.lab.charts import (
    DIGIT_THUMBNAIL,
    EMBED_OPTIONS,
    FACE_THUMBNAIL,
    PADDING,
    SCHEMA,
    scatter_chart,
    scatter_grid,
    thumbnail_uris,
)
from hw3lab.lab.context import LabContext, UnavailableError, parse_task
from hw3lab.lab.pictures import tile, titled_rows
from hw3lab.methods import METHODS, TASKS, digit_checkpoint

TIMELINE_METHODS = tuple(METHODS)
GIF_FRAME_MS = 600
FACE_SCALE = 3  # 64-pixel faces shown 192 pixels wide


@dataclass(frozen=True)
class Stage:
    """One stage's view: its caption, and whichever of a chart (a Vega-Lite spec), a picture
    and a curve chart the timeline has."""

    caption: str
    chart: dict | None = None
    picture: np.ndarray | None = None
    curves: dict | None = None


class Timelines:
    """The stage views of every timeline the lab's checkpoints name, built once each."""

    def __init__(self, ctx: LabContext) -> None:
        self.ctx = ctx
        self._views: dict[tuple, list[Stage]] = {}
        self._animations: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def file(self, checkpoint: Path, command: str) -> Path:
        """The timeline file a checkpoint names; a message naming ``command`` if it has none."""
        shown = self.ctx.public_path(checkpoint)
        if not checkpoint.is_file():
            raise UnavailableError(f"no checkpoint {shown}: train one with {command}")
        relative = read_metadata(checkpoint).get("timeline")
        if not relative:
            raise UnavailableError(f"{shown} keeps no training timeline (it was trained before "
                                   f"timelines were recorded): retrain it with {command} to "
                                   "record one")
        path = self.ctx.checkpoints / relative
        if not path.is_file():
            raise UnavailableError(f"{shown} names its timeline {relative}, which is missing")
        return path

    def runs(self) -> dict[str, tuple[Path, str]]:
        """Every run a timeline can belong to, by 'vae', 'gan' or 'TASK METHOD': its
        checkpoint and the command that trains it."""
        runs = {"vae": (self.ctx.checkpoints / "vae.safetensors", "python -m train.vae"),
                "gan": (self.ctx.checkpoints / "gan.safetensors", "python -m train.gan")}
        for source, target in TASKS:
            for method in TIMELINE_METHODS:
                runs[f"{source}->{target} {method}"] = (
                    digit_checkpoint(self.ctx.checkpoints, source, target, method),
                    f"python -m train.{method} --source {source} --target {target}")
        return runs

    def missing(self, run: str) -> str:
        """Why ``run`` (a key of :meth:`runs`) has no timeline to show; empty if it has one."""
        try:
            self.file(*self.runs()[run])
        except UnavailableError as error:
            return str(error)
        return ""

    def stage_counts(self) -> dict[str, int]:
        """How many stages each timeline the lab has holds, by the keys of :meth:`runs` (read
        from the files' ``epochs`` only)."""
        counts = {}
        for run, (checkpoint, command) in self.runs().items():
            try:
                with safe_open(str(self.file(checkpoint, command)), "np") as handle:
                    counts[run] = len(handle.get_tensor("epochs"))
            except (UnavailableError, OSError, SafetensorError):
                continue
        return counts

    def views(self, key: tuple, path: Path, build: Any) -> list[Stage]:
        with self._lock:
            if key not in self._views:
                self._views[key] = build(read_timeline(path))
            return self._views[key]

    def animation(self, key: str, frames: list[np.ndarray]) -> Path:
        """The frames as one looping GIF (encoded once), served from the lab's output
        folder."""
        with self._lock:
            if key not in self._animations:
                pictures = [Image.fromarray(frame) for frame in frames]
                encoded = io.BytesIO()
                pictures[0].save(encoded, format="GIF", save_all=True,
                                 append_images=pictures[1:], duration=GIF_FRAME_MS, loop=0)
                self._animations[key] = encoded.getvalue()
            data = self._animations[key]
        return self.ctx.outputs.write(f"{key}-timeline.gif", data)


def read_timeline(path: Path) -> dict[str, np.ndarray]:
    try:
        return load_file(str(path))
    except Exception as error:  # noqa: BLE001 - safetensors raises several kinds
        raise UnavailableError(f"the timeline {path.name} cannot be read ({error})") from None


def stage_of(stages: list[Stage], stage: Any) -> Stage:
    """The view of ``stage`` (0 for the first recorded one), checked."""
    index = limits.Range(0, len(stages) - 1, 0).check_int(stage, "the stage")
    return stages[index]


def caption(epochs: np.ndarray, index: int, what: str) -> str:
    return (f"**{what}** after epoch {int(epochs[index])}: stage {index + 1} of {len(epochs)} "
            f"(recorded after epochs {', '.join(str(int(e)) for e in epochs)})")


def curve_chart(epochs: np.ndarray, series: dict[str, np.ndarray], at_epoch: int, title: str,
                y_title: str) -> dict:
    """Lines of ``series`` over ``epochs`` with a rule at ``at_epoch``: a Vega-Lite spec."""
    rows = [{"epoch": int(e), "value": round(float(v), 4), "series": name}
            for name, values in series.items() for e, v in zip(epochs, values, strict=True)]
    return {"$schema": SCHEMA, "title": title, "width": 300, "height": 220,
            "usermeta": {"embedOptions": EMBED_OPTIONS}, "padding": PADDING,
            "config": {"legend": {"orient": "bottom", "labelLimit": 0}},
            "layer": [
                {"data": {"values": rows}, "mark": {"type": "line", "point": True},
                 "encoding": {"x": {"field": "epoch", "type": "quantitative"},
                              "y": {"field": "value", "type": "quantitative",
                                    "title": y_title, "scale": {"domain": [0, 1]}},
                              "color": {"field": "series", "type": "nominal", "title": None},
                              "tooltip": [{"field": "series"}, {"field": "epoch"},
                                          {"field": "value"}]}},
                {"data": {"values": [{"epoch": at_epoch}]}, "mark": {"type": "rule"},
                 "encoding": {"x": {"field": "epoch", "type": "quantitative"}}}]}


# -- domain adaptation --------------------------------------------------------------------


def digits_timeline(timelines: Timelines, task: Any, method: Any,
                    stage: Any) -> tuple[dict, dict, str]:
    """``method``'s run on ``task`` at ``stage``: t-SNE of the fixed test digits by class and
    by domain, the accuracy curves (and DANN's domain accuracy) with the stage marked, and a
    caption."""
    source, target = parse_task(task)
    method = limits.check_choice(method, TIMELINE_METHODS, "the method")
    path = timelines.file(digit_checkpoint(timelines.ctx.checkpoints, source, target, method),
                          f"python -m train.{method} --source {source} --target {target}")
    views = timelines.views(("digits", source, target, method), path,
                            lambda data: digit_views(data, source, target, method))
    view = stage_of(views, stage)
    return view.chart, view.curves, view.caption


def digit_views(data: dict[str, np.ndarray], source: str, target: str,
                method: str) -> list[Stage]:
    images = [rgb(data["source_images"]), rgb(data["target_images"])]
    labels = np.concatenate([data["source_labels"], data["target_labels"]]).astype(int)
    domains = np.repeat([0, 1], [len(images[0]), len(images[1])])
    thumbnails = thumbnail_uris(np.concatenate(images), DIGIT_THUMBNAIL)
    captions = [f"{(source, target)[d]} test digit, label {y}" for d, y in
                zip(domains, labels, strict=True)]
    colourings = {"class": (labels, [str(k) for k in range(10)]),
                  "domain": (domains, [source, target])}
    epochs = data["epochs"]
    series = {f"{source} (source) test": data["source_accuracy"],
              f"{target} (target) test": data["target_accuracy"]}
    if "domain_accuracy" in data:
        series["domain classifier (fixed digits)"] = data["domain_accuracy"]
    views = []
    for index, epoch in enumerate(epochs):
        title = f"{method} on {source}->{target}, epoch {int(epoch)}"
        views.append(Stage(
            caption=caption(epochs, index, f"{method} on {source}->{target}"),
            chart=scatter_grid({title: data["tsne"][index]}, colourings, thumbnails, captions,
                               size=300),
            curves=curve_chart(epochs, series, int(epoch), "Accuracy while training",
                               "accuracy")))
    return views


def rgb(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 1 or 3) uint8 -> (N, H, W, 3)."""
    return images.repeat(3, axis=3) if images.shape[-1] == 1 else images


# -- VAE ----------------------------------------------------------------------------------


def vae_timeline(timelines: Timelines, stage: Any,
                 attribute: Any = FACE_ATTRIBUTES[0]) -> tuple[dict, np.ndarray, str]:
    """The VAE at ``stage``: t-SNE of the fixed test faces' latent means coloured by
    ``attribute`` (hover shows the face), the fixed latents decoded, and a caption."""
    attribute = limits.check_choice(attribute, FACE_ATTRIBUTES, "the attribute")
    path = timelines.file(timelines.ctx.checkpoints / "vae.safetensors", "python -m train.vae")
    views = timelines.views(("vae", attribute), path,
                            lambda data: vae_views(data, attribute))
    view = stage_of(views, stage)
    return view.chart, view.picture, view.caption


def vae_views(data: dict[str, np.ndarray], attribute: str) -> list[Stage]:
    present = (data["face_attributes"][:, FACE_ATTRIBUTES.index(attribute)] > 0.5).astype(int)
    thumbnails = thumbnail_uris(data["face_thumbnails"], FACE_THUMBNAIL)
    captions = [f"test face, {attribute if p else 'not ' + attribute}" for p in present]
    epochs = data["epochs"]
    views = []
    for index, epoch in enumerate(epochs):
        title = f"VAE latent means by {attribute}, epoch {int(epoch)}"
        views.append(Stage(
            caption=caption(epochs, index, "VAE"),
            chart=scatter_chart(data["tsne"][index], present, [f"not {attribute}", attribute],
                                title, thumbnails, captions, attribute),
            picture=tile(data["decoded"][index], columns=len(data["decoded"][index]),
                         scale=FACE_SCALE)))
    return views


# -- GAN ----------------------------------------------------------------------------------


def gan_timeline(timelines: Timelines, stage: Any) -> tuple[np.ndarray, dict, str]:
    """The GAN at ``stage``: the fixed noise's faces by the averaged and the live generator,
    the discriminator's realness curves with the stage marked, and a caption."""
    view = stage_of(gan_views(timelines), stage)
    return view.picture, view.curves, view.caption


def gan_animation(timelines: Timelines) -> Path:
    """The averaged generator's fixed faces over the whole run, as a looping GIF."""
    views = gan_views(timelines)
    return timelines.animation("gan", [labelled(view.picture, view.caption.split(" (")[0])
                                       for view in views])


def gan_views(timelines: Timelines) -> list[Stage]:
    path = timelines.file(timelines.ctx.checkpoints / "gan.safetensors", "python -m train.gan")
    return timelines.views(("gan",), path, gan_stage_views)


def gan_stage_views(data: dict[str, np.ndarray]) -> list[Stage]:
    epochs = data["epochs"]
    series = {"real faces": data["realness_real"], "generated faces": data["realness_fake"]}
    columns = max(1, len(data["faces"][0]) // 2)
    views = []
    for index, epoch in enumerate(epochs):
        views.append(Stage(
            caption=caption(epochs, index, "GAN"),
            picture=titled_rows([
                ("averaged generator (what the lab samples)",
                 tile(data["faces"][index], columns, scale=FACE_SCALE)),
                ("live generator (what the discriminator trains against)",
                 tile(data["live_faces"][index], columns, scale=FACE_SCALE))]),
            curves=curve_chart(epochs, series, int(epoch), "Discriminator's mean realness",
                               "realness (sigmoid)")))
    return views


def labelled(picture: np.ndarray, text: str) -> np.ndarray:
    """``picture`` with ``text`` in a strip above it (an animation frame)."""
    strip = Image.new("RGB", (picture.shape[1], 18), "white")
    ImageDraw.Draw(strip).text((4, 3), text, fill="black")
    return np.concatenate([np.asarray(strip), picture])

