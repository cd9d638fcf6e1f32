"""The VAE tab: latent sliders, reconstruction, random faces, interpolation and t-SNE of the
latent means (operations: :mod:`hw3lab.lab.vae`)."""

from __future__ import annotations

import gradio as gr

from hw3lab import limits
from hw3lab.lab import LabContext
from hw3lab.lab.first_view import FirstView
from hw3lab.lab.own_models import upload_vae
from hw3lab.lab.tsne import VAE_SPACE
from hw3lab.lab.vae import (
    RECONSTRUCTION_HEADERS,
    RECONSTRUCTION_ROW,
    SLIDER_COUNT,
    STARTS,
    decode_sliders,
    interpolate,
    random_faces,
    reconstruct,
    slider_labels,
    start_face,
)
from hw3lab.ui.tsne_panel import build_panel
from hw3lab.ui.widgets import (
    INTERACTIVE,
    bind,
    checked_by_callback,
    decode_checked,
    own_model_box,
    range_slider,
    seed_box,
    shown,
)


def _start_inputs(label: str) -> tuple[gr.Radio, gr.Number, gr.File]:
    with gr.Group():
        kind = checked_by_callback(gr.Radio(list(STARTS), value="random", label=label))
        number = seed_box("Seed (random) or test face number")
        upload = gr.File(label="Face image (upload)", file_types=["image"])
    return kind, number, upload


def build(ctx: LabContext, opening: FirstView | None = None) -> None:
    """The VAE tab, opening on ``opening``'s face and random faces (computed at start-up)."""
    opening = opening or FirstView()
    if not ctx.has_family("vae"):
        gr.Markdown(f"**{ctx.missing_family('vae')}**")
    own, _ = own_model_box(
        ctx, upload_vae,
        "Your own VAE: compare it with the shipped one",
        "Your homework's VAE `.pth` files (encoder and decoder state_dicts, or one "
        "dict holding both; at most 4 files of 16 MB, so a narrow VAE: the "
        "full-width one is for `python -m hw3lab.import_pth`). They are read "
        "without running any code and kept for this session only; *Random faces* "
        "then decodes the same latents with both models, *Reconstruction* the "
        "same faces. Another architecture: one `.pt2` from "
        "`python -m hw3lab.export_model --family vae`.",
        "Your VAE .pth files", "vae")
    with gr.Tab("Latent sliders"):
        base = gr.State(None)
        labels = slider_labels()
        sliders = []
        with gr.Row():
            with gr.Column(scale=1):
                face = shown("Face", height=300, elem_id="vae-face", value=opening.vae_face,
                             elem_classes=["pixelated"])
                start = _start_inputs("Start from")
                start_button = gr.Button("Start", variant="primary")
            for first, last in ((0, limits.PRINCIPAL_DIRECTIONS),
                                (limits.PRINCIPAL_DIRECTIONS, SLIDER_COUNT)):
                with gr.Column(scale=1, min_width=220):
                    sliders += [range_slider(limits.SLIDER, labels[i],
                                             elem_id=f"vae-slider-{i}")
                                for i in range(first, last)]
        decode = bind(decode_sliders, ctx)
        gr.on([s.input for s in sliders], decode, [base, *sliders], face,
              trigger_mode="always_last", show_progress="hidden", api_visibility="private",
              **INTERACTIVE)
        decode_api = gr.Button("Decode", size="sm")
        decode_api.click(decode, [base, *sliders], face, api_name="vae_decode", **INTERACTIVE)
        start_button.click(bind(start_face, ctx), list(start),
                           [base, face], api_name="vae_start", **INTERACTIVE).then(
            lambda: [0] * SLIDER_COUNT, None, sliders, api_visibility="private", **INTERACTIVE)
    with gr.Tab("Reconstruction"):
        with gr.Row():
            files = gr.File(label="Faces (any photos)", file_count="multiple",
                            file_types=["image"])
            webcam = decode_checked(gr.Image(label="Webcam", sources=["webcam"], type="numpy"))
            test_count = checked_by_callback(gr.Slider(0, limits.MAX_UPLOAD_FILES, step=1,
                                           value=0 if ctx.real_images("face") is None
                                           else RECONSTRUCTION_ROW, label="Test faces"))
        button = gr.Button("Reconstruct", variant="primary")
        panel = shown("Inputs (top) and reconstructions (bottom)")
        mse = gr.Dataframe(headers=RECONSTRUCTION_HEADERS, label="Per-image MSE",
                           interactive=False)
        button.click(bind(reconstruct, ctx), [files, webcam, test_count, own],
                     [panel, mse], api_name="vae_reconstruct", **INTERACTIVE)
    with gr.Tab("Random faces"):
        with gr.Row():
            seed = seed_box()
            count = range_slider(limits.VAE_GRID, "Faces")
        grid = shown("Decoded from N(0, I)", elem_id="vae-random-grid",
                     value=opening.vae_random, elem_classes=["pixelated"])
        gr.Button("Generate", variant="primary").click(
            bind(random_faces, ctx), [seed, count, own], grid, api_name="vae_random",
            **INTERACTIVE)
    with gr.Tab("Interpolation"):
        with gr.Row():
            first, second = _start_inputs("From"), _start_inputs("To")
        frames = range_slider(limits.INTERPOLATION_FRAMES, "Frames")
        strip = shown("Interpolation in latent space")
        gr.Button("Interpolate", variant="primary").click(
            bind(interpolate, ctx), [*first, *second, frames], strip,
            api_name="vae_interpolate", **INTERACTIVE)
    with gr.Tab("t-SNE of latent means"):
        # Opens empty: the t-SNE tab shows this default view (600 kB of thumbnails in every
        # page's config, sent once), and its Draw button answers from the same shipped points.
        build_panel(ctx, (VAE_SPACE,), prefix="vae_tsne")
