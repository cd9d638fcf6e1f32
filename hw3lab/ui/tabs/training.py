"""The Training tab: how each shipped model learned, stage by stage, from the timeline its run
recorded (operations: :mod:`hw3lab.lab.timelines`). A model trained before timelines were kept
says how to retrain it instead."""

from __future__ import annotations

import functools
from collections.abc import Callable
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


def build(ctx: LabContext) -> None:
    """The Training tab, its views held by one :class:`Timelines` for this lab."""
    timelines = Timelines(ctx)
    counts = timelines.stage_counts()

    def bound(function: Callable[..., Any]) -> Callable[..., Any]:
        callback = user_errors(functools.partial(function, timelines), ctx.redact)
        callback.__name__ = function.__name__
        return callback

    def first_view(function: Callable[..., Any], *args: Any) -> tuple:
        """The view the tab opens on, built at start-up (none where there is no timeline:
        the note says why)."""
        try:
            return function(timelines, *args)
        except UserInputError:
            return ()

    def note(run: str, caption: str) -> str:
        return caption or f"*{ctx.redact(timelines.missing(run))}*"

    gr.Markdown("Each shipped run recorded what its model made of a fixed set of test inputs "
                "as it trained. Move a stage slider to see the model at that epoch.")
    first = f"{TASK_NAMES[0]} dann"
    # the Training tab opens on the first model whose run recorded a timeline
    opening = next((tab for run, tab in (("vae", "training-vae"), ("gan", "training-gan"),
                                          (first, "training-digits")) if counts.get(run)),
                   "training-vae")
    with gr.Tabs(selected=opening):
        with gr.Tab("VAE", id="training-vae"):
            stage_vae = stage_slider(counts.get("vae", 0), "vae-timeline-stage")
            attribute = checked_by_callback(gr.Dropdown(
                list(FACE_ATTRIBUTES), value=FACE_ATTRIBUTES[0], label="Colour by"))
            chart, decoded, caption = first_view(vae_timeline, 0) or (None, None, "")
            note_vae = gr.Markdown(note("vae", caption))
            with gr.Row():
                latent_plot = interactive_plot("Latent means of the fixed test faces (hover: the "
                                               "face)", value=chart, elem_id="vae-timeline-plot")
            faces = shown("Fixed latents decoded at this stage", value=decoded,
                          elem_id="vae-timeline-faces")
            stage_vae.change(bound(vae_timeline), [stage_vae, attribute],
                             [latent_plot, faces, note_vae], api_name="vae_timeline", **INTERACTIVE)
            attribute.change(bound(vae_timeline), [stage_vae, attribute],
                             [latent_plot, faces, note_vae], api_visibility="private",
                             **INTERACTIVE)
        with gr.Tab("GAN", id="training-gan"):
            stage_gan = stage_slider(counts.get("gan", 0), "gan-timeline-stage")
            picture, curves, caption = first_view(gan_timeline, 0) or (None, None, "")
            note_gan = gr.Markdown(note("gan", caption))
            with gr.Row():
                faces_gan = shown("The same noise at this stage", value=picture,
                                  elem_id="gan-timeline-faces")
                realness = interactive_plot("Realness while training", value=curves,
                                            elem_id="gan-timeline-curves")
            stage_gan.change(bound(gan_timeline), stage_gan, [faces_gan, realness, note_gan],
                             api_name="gan_timeline", **INTERACTIVE)
            animate = gr.Button("Play the whole run")
            animation = gr.Image(label="The whole run (GIF)", interactive=False,
                                 elem_id="gan-timeline-animation")
            animate.click(bound(gan_animation), None, animation, api_name="gan_timeline_animation",
                          **INTERACTIVE)
        with gr.Tab("Domain adaptation", id="training-digits"):
            with gr.Row():
                task = checked_by_callback(gr.Dropdown(list(TASK_NAMES), value=TASK_NAMES[0],
                                                       label="Task"))
                method = checked_by_callback(gr.Dropdown(list(TIMELINE_METHODS), value="dann",
                                             label="Method"))
            stage_digits = stage_slider(counts.get(first, 0), "digits-timeline-stage")
            chart, curves, caption = first_view(digits_timeline, TASK_NAMES[0], "dann", 0) or (
                None, None, "")
            note_digits = gr.Markdown(note(first, caption))
            with gr.Row():
                features = interactive_plot("Features of the fixed test digits", value=chart,
                                            elem_id="digits-timeline-plot")
                accuracy = interactive_plot("Accuracy while training", value=curves,
                                            elem_id="digits-timeline-curves")
            stage_digits.change(bound(digits_timeline), [task, method, stage_digits],
                                [features, accuracy, note_digits], api_name="digits_timeline",
                                **INTERACTIVE)

            def chosen(task: Any, method: Any) -> tuple:
                """Another run: its first stage, and its stage slider over its own stages."""
                run = f"{task} {method}"
                count = counts.get(run, 0)
                slider = gr.Slider(maximum=max(count - 1, 1), value=0, interactive=count > 1)
                if not count:
                    return slider, None, None, note(run, "")
                return slider, *digits_timeline(timelines, task, method, 0)

            for control in (task, method):
                control.change(user_errors(chosen, ctx.redact), [task, method],
                               [stage_digits, features, accuracy, note_digits],
                               api_visibility="private", **INTERACTIVE)


def stage_slider(count: int, elem_id: str) -> gr.Slider:
    """A slider over a timeline's stages (0 is the first recorded one)."""
    return checked_by_callback(gr.Slider(0, max(count - 1, 1), value=0, step=1, label="Stage",
                             interactive=count > 1, elem_id=elem_id))

