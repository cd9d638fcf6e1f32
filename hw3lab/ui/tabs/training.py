"""The Training tab: how each shipped model learned, stage by stage, from the timeline its run
recorded (operations: :mod:`hw3lab.lab.timelines`). A model trained before timelines were kept
says how to retrain it instead."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from hw3lab.data.layout import FACE_ATTRIBUTES
from hw3lab.errors import UserInputError
from hw3lab.lab import LabContext
from hw3lab.lab.context import TASK_NAMES
from hw3lab.lab.timelines import (
    TIMELINE_METHODS,
    Timelines,
    digits_timeline,
    gan_animation,
    gan_timeline,
    vae_timeline,
)
from hw3lab.ui.widgets import INTERACTIVE, checked_by_callback, interactive_plot, shown, user_errors


@dataclass
class TimelineTab:
    """What every sub-tab needs: this lab's :class:`Timelines`, each run's stage count, and
    the helpers that turn a timeline operation into a callback or a first view."""

    ctx: LabContext
    timelines: Timelines
    counts: dict[str, int]

    def bound(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function`` of this lab's timelines as a callback (user errors shown as such)."""
        callback = user_errors(functools.partial(function, self.timelines), self.ctx.redact)
        callback.__name__ = function.__name__
        return callback

    def first_view(self, function: Callable[..., Any], *args: Any) -> tuple:
        """The view a sub-tab opens on, built at start-up (none where there is no timeline:
        the note says why)."""
        try:
            return function(self.timelines, *args)
        except UserInputError:
            return ()

    def note(self, run: str, caption: str) -> str:
        return caption or f"*{self.ctx.redact(self.timelines.missing(run))}*"


FIRST_DIGITS_RUN = f"{TASK_NAMES[0]} dann"
# each sub-tab's id, by the run its first view shows, in the order of the tabs
SUB_TABS = {"vae": "training-vae", "gan": "training-gan", FIRST_DIGITS_RUN: "training-digits"}


def build(ctx: LabContext) -> None:
    """The Training tab, its views held by one :class:`Timelines` for this lab; it opens on
    the first sub-tab whose run recorded a timeline."""
    timelines = Timelines(ctx)
    tab = TimelineTab(ctx, timelines, timelines.stage_counts())
    gr.Markdown("Each shipped run recorded what its model made of a fixed set of test inputs "
                "as it trained. Move a stage slider to see the model at that epoch.")
    opening = next((id_ for run, id_ in SUB_TABS.items() if tab.counts.get(run)),
                   SUB_TABS["vae"])
    with gr.Tabs(selected=opening):
        with gr.Tab("VAE", id=SUB_TABS["vae"]):
            vae_stages(tab)
        with gr.Tab("GAN", id=SUB_TABS["gan"]):
            gan_stages(tab)
        with gr.Tab("Domain adaptation", id=SUB_TABS[FIRST_DIGITS_RUN]):
            digits_stages(tab)


def vae_stages(tab: TimelineTab) -> None:
    """A stage slider over the VAE's latent t-SNE, coloured by an attribute, and its decoded
    fixed latents."""
    stage = stage_slider(tab.counts.get("vae", 0), "vae-timeline-stage")
    attribute = checked_by_callback(gr.Dropdown(
        list(FACE_ATTRIBUTES), value=FACE_ATTRIBUTES[0], label="Colour by"))
    chart, decoded, caption = tab.first_view(vae_timeline, 0) or (None, None, "")
    note = gr.Markdown(tab.note("vae", caption))
    with gr.Row():
        latent_plot = interactive_plot("Latent means of the fixed test faces (hover: the face)",
                                       value=chart, elem_id="vae-timeline-plot")
    faces = shown("Fixed latents decoded at this stage", value=decoded,
                  elem_id="vae-timeline-faces")
    stage.change(tab.bound(vae_timeline), [stage, attribute], [latent_plot, faces, note],
                 api_name="vae_timeline", **INTERACTIVE)
    attribute.change(tab.bound(vae_timeline), [stage, attribute], [latent_plot, faces, note],
                     api_visibility="private", **INTERACTIVE)


def gan_stages(tab: TimelineTab) -> None:
    """A stage slider over the GAN's faces of fixed noise, beside the realness curves, and
    the whole run as a GIF."""
    stage = stage_slider(tab.counts.get("gan", 0), "gan-timeline-stage")
    picture, curves, caption = tab.first_view(gan_timeline, 0) or (None, None, "")
    note = gr.Markdown(tab.note("gan", caption))
    with gr.Row():
        faces = shown("The same noise at this stage", value=picture, elem_id="gan-timeline-faces")
        realness = interactive_plot("Realness while training", value=curves,
                                    elem_id="gan-timeline-curves")
    stage.change(tab.bound(gan_timeline), stage, [faces, realness, note],
                 api_name="gan_timeline", **INTERACTIVE)
    animate = gr.Button("Play the whole run")
    animation = gr.Image(label="The whole run (GIF)", interactive=False,
                         elem_id="gan-timeline-animation")
    animate.click(tab.bound(gan_animation), None, animation, api_name="gan_timeline_animation",
                  **INTERACTIVE)


def digits_stages(tab: TimelineTab) -> None:
    """A task and method, and a stage slider over the features of fixed test digits (t-SNE by
    class and by domain), beside the accuracy curves."""
    with gr.Row():
        task = checked_by_callback(gr.Dropdown(list(TASK_NAMES), value=TASK_NAMES[0],
                                               label="Task"))
        method = checked_by_callback(gr.Dropdown(list(TIMELINE_METHODS), value="dann",
                                                 label="Method"))
    stage = stage_slider(tab.counts.get(FIRST_DIGITS_RUN, 0), "digits-timeline-stage")
    chart, curves, caption = tab.first_view(digits_timeline, TASK_NAMES[0], "dann", 0) or (
        None, None, "")
    note = gr.Markdown(tab.note(FIRST_DIGITS_RUN, caption))
    with gr.Row():
        features = interactive_plot("Features of the fixed test digits", value=chart,
                                    elem_id="digits-timeline-plot")
        accuracy = interactive_plot("Accuracy while training", value=curves,
                                    elem_id="digits-timeline-curves")
    stage.change(tab.bound(digits_timeline), [task, method, stage], [features, accuracy, note],
                 api_name="digits_timeline", **INTERACTIVE)

    def chosen(task: Any, method: Any) -> tuple:
        """Another run: its first stage, and its stage slider over its own stages."""
        run = f"{task} {method}"
        count = tab.counts.get(run, 0)
        slider = gr.Slider(maximum=max(count - 1, 1), value=0, interactive=count > 1)
        if not count:
            return slider, None, None, tab.note(run, "")
        return slider, *digits_timeline(tab.timelines, task, method, 0)

    for control in (task, method):
        control.change(user_errors(chosen, tab.ctx.redact), [task, method],
                       [stage, features, accuracy, note], api_visibility="private",
                       **INTERACTIVE)


def stage_slider(count: int, elem_id: str) -> gr.Slider:
    """A slider over a timeline's stages (0 is the first recorded one)."""
    return checked_by_callback(gr.Slider(0, max(count - 1, 1), value=0, step=1, label="Stage",
                             interactive=count > 1, elem_id=elem_id))

