"""The GAN tab: seed explorer, attribute sliders, grid, interpolation and the discriminator's
verdict on an upload; ``?seeds=1,2,3`` in the URL opens the grid on those seeds (operations:
:mod:`hw3lab.lab.gan`)."""

from __future__ import annotations

import gradio as gr

from hw3lab import limits
from hw3lab.data.layout import FACE_ATTRIBUTES
from hw3lab.lab import LabContext
from hw3lab.lab.first_view import FirstView, initial
from hw3lab.lab.gan import (
    edit_face,
    face,
    from_seed_list,
    grid,
    interpolate,
    judge,
    random_face,
    shared_seeds,
)
from hw3lab.lab.own_models import upload_gan
from hw3lab.ui.widgets import (
    INTERACTIVE,
    bind,
    own_model_box,
    range_slider,
    seed_box,
    shown,
    user_errors,
)

# The ``seeds`` (or ``seed``) parameter of the page's URL, as hw3lab.lab.gan.shared_seeds reads it.
SHARED_SEEDS_JS = ("() => { const query = new URLSearchParams(window.location.search); "
                   "return query.get('seeds') || query.get('seed') || ''; }")


def build(ctx: LabContext, demo: gr.Blocks, opening: FirstView | None = None) -> None:
    """The GAN tab, opening on ``opening``'s faces of seed 0 (computed at start-up); ``demo``
    is the whole app, whose page load reads shared seeds from the URL, in the browser."""
    opening = opening or FirstView()
    if not ctx.has_family("gan"):
        gr.Markdown(f"**{ctx.missing_family('gan')}**")
    gr.Markdown("Each image shows its seed and the discriminator's realness (0-1). "
                "Share seeds by copying the list, or add `?seeds=1,2,3` to the lab's URL.")
    own, _ = own_model_box(
        ctx, upload_gan,
        "Your own GAN: compare it with the shipped one",
        "Your homework's GAN `.pth` files (generator and discriminator "
        "state_dicts, in any order, or one dict holding both; at most 4 files of "
        "16 MB). They are read without running any code and kept for this session "
        "only; the seed explorer and the grid then show the same seeds' faces by "
        "both models (each scored by its own discriminator), and *Judge a face* "
        "both verdicts. Another architecture: one `.pt2` from "
        "`python -m hw3lab.export_model --family gan` (no discriminator, no score).",
        "Your GAN .pth files", "gan")
    with gr.Tab("Seed explorer"):
        with gr.Row():
            seed = seed_box(elem_id="gan-seed")
            show = gr.Button("Show", variant="primary")
            lucky = gr.Button("Random seed")
        single = shown("Face", height=320, elem_id="gan-face", value=opening.gan_face,
                       elem_classes=["pixelated"])
        show.click(bind(face, ctx), [seed, own], single, api_name="gan_face", **INTERACTIVE)
        lucky.click(bind(random_face, ctx), own, [seed, single], api_name="gan_random",
                    **INTERACTIVE)
    with gr.Tab("Attribute sliders"):
        gr.Markdown("Move a seed's face along attribute directions found in the noise space "
                    "(InterFaceGAN). The bars are what the lab's attribute classifier sees in "
                    "the face: check whether a slider changes what it claims to.")
        with gr.Row():
            with gr.Column(scale=1):
                edit_seed = seed_box(elem_id="gan-edit-seed")
                edited = shown("Face", height=300, elem_id="gan-edited",
                               value=initial(opening.gan_edited, 0), elem_classes=["pixelated"])
                seen_attributes = gr.Label(initial(opening.gan_edited, 1),
                                           num_top_classes=len(FACE_ATTRIBUTES),
                                           label="Predicted attributes")
            with gr.Column(scale=1, min_width=220):
                attribute_sliders = [range_slider(limits.SLIDER, name.replace("_", " "),
                                                  elem_id=f"gan-slider-{i}")
                                     for i, name in enumerate(FACE_ATTRIBUTES)]
                reset = gr.Button("Reset sliders", size="sm")
        edit = bind(edit_face, ctx)
        gr.on([s.input for s in attribute_sliders] + [edit_seed.submit], edit,
              [edit_seed, *attribute_sliders], [edited, seen_attributes],
              trigger_mode="always_last", show_progress="hidden", api_visibility="private",
              **INTERACTIVE)
        gr.Button("Show", variant="primary").click(
            edit, [edit_seed, *attribute_sliders], [edited, seen_attributes],
            api_name="gan_edit", **INTERACTIVE)
        reset.click(lambda: [0] * len(FACE_ATTRIBUTES), None, attribute_sliders,
                    api_visibility="private", **INTERACTIVE).then(
            edit, [edit_seed, *attribute_sliders], [edited, seen_attributes],
            api_visibility="private", **INTERACTIVE)
    with gr.Tab("Grid"):
        with gr.Row():
            base = seed_box("Base seed")
            count = range_slider(limits.GAN_GRID, "Faces")
            make = gr.Button("Generate grid", variant="primary")
        seed_list = gr.Textbox(initial(opening.gan_grid, 1),
                               label="Seeds (copy to share, or edit and press Enter)",
                               buttons=["copy"], elem_id="gan-seed-list")
        picture = shown("Faces with realness", value=initial(opening.gan_grid, 0),
                        elem_id="gan-grid", elem_classes=["pixelated"])
        make.click(bind(grid, ctx), [base, count, own], [picture, seed_list],
                   api_name="gan_grid", **INTERACTIVE)
        seed_list.submit(bind(from_seed_list, ctx), [seed_list, own], [picture, seed_list],
                         api_name="gan_seeds", **INTERACTIVE)
    with gr.Tab("Interpolation"):
        with gr.Row():
            seed_a = seed_box("From seed")
            seed_b = seed_box("To seed", value=1)
            frames = range_slider(limits.INTERPOLATION_FRAMES, "Frames")
        strip = shown("Frames with realness")
        gif = gr.Image(label="Animated GIF", type="filepath", interactive=False)
        gr.Button("Interpolate", variant="primary").click(
            bind(interpolate, ctx), [seed_a, seed_b, frames], [strip, gif],
            api_name="gan_interpolate", **INTERACTIVE)
    with gr.Tab("Judge a face"):
        upload = gr.File(label="A face image", file_types=["image"])
        seen = shown("As the discriminator sees it (64x64)")
        verdict = gr.Markdown()
        upload.upload(bind(judge, ctx), [upload, own], [seen, verdict], api_name="gan_judge",
                      **INTERACTIVE)

    # ?seeds=1,2,3 is read by the browser: a page without it runs no event at all (a class
    # opening the link at once queued one per student). With it, the hidden box changes and
    # the grid is drawn for those seeds.
    shared = gr.Textbox("", visible=False, elem_id="gan-shared-seeds")
    demo.load(None, None, shared, js=SHARED_SEEDS_JS, api_visibility="private",
              **INTERACTIVE)  # runs in the browser only

    def open_shared(text: str) -> tuple:
        opened = shared_seeds(ctx, {"seeds": text}) if text else None
        return opened if opened is not None else (gr.skip(), gr.skip())

    shared.change(user_errors(open_shared, ctx.redact), shared, [picture, seed_list],
                  api_visibility="private", **INTERACTIVE)
