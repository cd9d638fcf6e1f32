"""Build the lab's tabs into one Gradio app and launch it; ``app.py`` calls :func:`main`."""

from __future__ import annotations

import argparse
import sys

import gradio as gr
from PIL import Image

from hw3lab import cli, limits
from hw3lab.inference import DEFAULT_CHECKPOINTS
from hw3lab.lab import LabContext
from hw3lab.runtime import SERVING_THREADS, limit_malloc_arenas, set_cpu_threads
from hw3lab.ui.gradio_cache import atomic_gradio_image_cache
from hw3lab.ui.tabs import digits, gan, models, tsne, vae
from hw3lab.ui.widgets import PAGE_HEAD

TITLE = "hw3lab: VAE, DCGAN and domain adaptation"
# How many requests run at once, measured with bench/load.py on 2 cores. Every callback runs
# torch with one intra-op thread (runtime.SERVING_THREADS), so two interactive requests fill
# the two cores; more would only share them (Gradio's default, a limit per endpoint, let 13
# endpoints x 2 run at once and a popular endpoint queue behind itself). All interactive
# events share one pool of 2, served in arrival order; t-SNE and batch labelling (seconds of
# CPU each) share a pool of 1, so they never hold both cores while sliders wait. The rest wait
# in Gradio's queue (at most QUEUE_SIZE), which shows each user their position.
INTERACTIVE_CONCURRENCY = 2
HEAVY_CONCURRENCY = 1
HEAVY_ENDPOINTS = frozenset({"vae_tsne_run", "tsne_run", "digits_tsne", "digits_batch",
                             "digits_recompute"})
QUEUE_SIZE = 64
SHARE_CHECK_SECONDS = 5.0


def build_lab(ctx: LabContext) -> gr.Blocks:
    """The lab: one tab per part of the homework, callbacks bound to ``ctx``, served through
    the atomic image cache (:mod:`hw3lab.ui.gradio_cache`)."""
    atomic_gradio_image_cache()
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        where = (f"data: `{ctx.data_root}`" if ctx.data_root is not None
                 else "no hw3_data (examples: the shipped sample of real test images; "
                 "latents: the checkpoints)")
        gr.Markdown(f"## {TITLE}\ncheckpoints: `{ctx.checkpoints}` · {where}")
        with gr.Tab("VAE", id="vae"):
            vae.build(ctx)
        with gr.Tab("GAN", id="gan"):
            gan.build(ctx, demo)
        with gr.Tab("Domain adaptation", id="digits"):
            digits.build(ctx)
        with gr.Tab("Interactive t-SNE", id="tsne"):
            tsne.build(ctx)
        with gr.Tab("Models", id="models"):
            models.build(ctx)
    demo.queue(max_size=QUEUE_SIZE)
    share_concurrency(demo)
    return demo


def share_concurrency(demo: gr.Blocks) -> None:
    """Put every event in the interactive or the heavy pool (see INTERACTIVE_CONCURRENCY)."""
    for fn in demo.fns.values():
        heavy = fn.api_name in HEAVY_ENDPOINTS
        fn.concurrency_id = "heavy" if heavy else "interactive"
        fn.concurrency_limit = HEAVY_CONCURRENCY if heavy else INTERACTIVE_CONCURRENCY


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.ArgumentParser(description="Start the hw3lab.")
    parser.add_argument("--data", help="hw3_data folder (default: $HW3_DATA, else ./hw3_data; "
                        "the lab runs without it)")
    parser.add_argument("--checkpoints", default=str(DEFAULT_CHECKPOINTS),
                        help="checkpoint folder (default: %(default)s)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (0.0.0.0 for every interface)")
    parser.add_argument("--share", action="store_true", help="ask Gradio for a public link")
    parser.add_argument("--auth", metavar="USER:PASS", help="require this login")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: auto)")
    args = parser.parse_args(argv)
    if args.auth is not None and (":" not in args.auth or args.auth.startswith(":")):
        parser.error("--auth must look like USER:PASS")
    return args


def share_possible() -> bool:
    """Whether Gradio's share server answers; without internet the lab serves locally only."""
    import httpx
    from gradio.networking import GRADIO_API_SERVER

    try:
        httpx.get(GRADIO_API_SERVER, timeout=SHARE_CHECK_SECONDS).raise_for_status()
    except httpx.HTTPError:
        return False
    return True


@cli.command
def main(argv: list[str] | None = None) -> None:
    """Start the lab; a user's mistake (a bad argument, an unavailable device) is one line."""
    args = parse_args(argv)
    set_cpu_threads(SERVING_THREADS)
    limit_malloc_arenas()
    # Gradio decodes sketches and webcam pictures with PIL before the lab's size checks: make
    # PIL refuse (above twice this) images the lab would refuse anyway, instead of decoding them.
    Image.MAX_IMAGE_PIXELS = limits.MAX_IMAGE_PIXELS
    ctx = LabContext(args.checkpoints, args.data, args.device)
    demo = build_lab(ctx)
    share = args.share
    if share and not share_possible():
        print("No public link: Gradio's share server cannot be reached (no internet?); "
              f"serving locally only at http://{args.host}:{args.port}", file=sys.stderr)
        share = False
    auth = tuple(args.auth.split(":", 1)) if args.auth else None
    demo.launch(server_name=args.host, server_port=args.port, share=share, auth=auth,
                max_file_size=limits.MAX_MODEL_UPLOAD_BYTES, show_error=True, quiet=False,
                footer_links=["api"], head=PAGE_HEAD)
