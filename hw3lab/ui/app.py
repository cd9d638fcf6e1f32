"""Build the lab's tabs into one Gradio app and launch it; ``app.py`` calls :func:`main`."""

from __future__ import annotations

import argparse
import gc
import sys
import time
from typing import Any

import gradio as gr
from PIL import Image
from starlette.middleware import Middleware

from hw3lab import cli, limits
from hw3lab.inference import DEFAULT_CHECKPOINTS
from hw3lab.lab import LabContext
from hw3lab.lab.first_view import FirstView, compute_first_view
from hw3lab.runtime import SERVING_THREADS, limit_malloc_arenas, set_cpu_threads
from hw3lab.ui.busy import BUSY_FRACTION, BusyGate, clear_queue_full_message
from hw3lab.ui.gradio_cache import Janitor, atomic_gradio_image_cache, serving_outputs
from hw3lab.ui.page_cache import PageCache
from hw3lab.ui.tabs import digits, gan, models, training, tsne, vae
from hw3lab.ui.widgets import PAGE_HEAD

TITLE = "hw3lab: VAE, DCGAN and domain adaptation"
# Requests waiting beyond those running (each event's pool: hw3lab.ui.widgets.POOLS).
QUEUE_SIZE = 64
QUEUE_POLL_S = 0.01  # how often the queue looks for new events (Gradio: 0.001)
QUEUE_RECORDS = 128  # event records the queue keeps, more than can be in flight (Gradio: 10,000)
# Sessions whose gr.State values are kept (the least recently used go first): a class is 50
# students, each page load a session; Gradio's default of 10,000 let days of page loads pile up.
SESSIONS = 1000
SHARE_CHECK_SECONDS = 5.0
LOCAL_CHECK_SECONDS = 120.0


def build_lab(ctx: LabContext, opening: FirstView | None = None) -> gr.Blocks:
    """The lab: one tab per part of the homework, callbacks bound to ``ctx``, served through
    the atomic image cache (:mod:`hw3lab.ui.gradio_cache`), every tab opening on its result in
    ``opening`` (computed here if not given: :mod:`hw3lab.lab.first_view`)."""
    atomic_gradio_image_cache()
    if opening is None:
        opening = compute_first_view(ctx)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        # Folders by their public names only: a shared link shows this header to anyone.
        where = (f"data: `{ctx.public_path(ctx.data_root)}`" if ctx.data_root is not None
                 else "no hw3_data (examples: the shipped sample of real test images; "
                 "latents: the checkpoints)")
        gr.Markdown(f"## {TITLE}\ncheckpoints: `{ctx.public_path(ctx.checkpoints)}` · {where}")
        with gr.Tab("VAE", id="vae"):
            vae.build(ctx, opening)
        with gr.Tab("GAN", id="gan"):
            gan.build(ctx, demo, opening)
        with gr.Tab("Domain adaptation", id="digits"):
            digits.build(ctx, demo, opening)
        with gr.Tab("Interactive t-SNE", id="tsne"):
            tsne.build(ctx, opening)
        with gr.Tab("Training", id="training"):
            training.build(ctx)
        with gr.Tab("Models", id="models"):
            models.build(ctx, demo, opening)
    demo.queue(max_size=QUEUE_SIZE)
    # Gradio's queue looks for new events every millisecond, even with no visitor: an idle lab
    # used 66-80 ms of CPU a second, 20-22 at 10 ms (bench/cpu_per_request.py prints it). Every
    # 10 ms costs an event at most 10 ms of waiting. (A private attribute: left alone where it
    # is absent; tests/test_serving.py fails then.)
    if hasattr(demo._queue, "sleep_when_free"):
        demo._queue.sleep_when_free = QUEUE_POLL_S
    no_monitoring_summary(demo._queue)
    clear_queue_full_message(demo)
    return demo


def no_monitoring_summary(queue: Any) -> None:
    """Stop Gradio's queue from summarising its last 10,000 events after every event. It
    builds a pandas table of them all for its monitoring page, which the lab does not enable:
    6 ms of server CPU per event once a hundred events were served, 25 ms once 10,000 were (an
    afternoon of a class), found with bench/profile_server.py. The queue keeps the records of
    the events in flight (at most ``QUEUE_RECORDS``) and never computes the summary. (Private
    attributes: tests/test_serving.py fails if Gradio renames them.)"""
    if hasattr(queue, "ANAYLTICS_CACHE_FREQUENCY") and hasattr(queue, "ANALYTICS_MAX_EVENTS"):
        queue.ANAYLTICS_CACHE_FREQUENCY = sys.maxsize
        queue.ANALYTICS_MAX_EVENTS = QUEUE_RECORDS


def serving_middleware(demo: gr.Blocks, login: bool = False) -> list[Middleware]:
    """What the served lab puts in front of Gradio: new visitors turned away with a "busy,
    retry in N s" page once the queue is ``BUSY_FRACTION`` full, so that those already in are
    served (:mod:`hw3lab.ui.busy`), and the page built once per address, not per visitor,
    unless a ``login`` makes it per user (:mod:`hw3lab.ui.page_cache`)."""
    return [Middleware(BusyGate, demo=demo, busy_at=int(QUEUE_SIZE * BUSY_FRACTION)),
            Middleware(PageCache, enabled=not login)]


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
    parser.add_argument("--share-server", metavar="HOST:PORT",
                        help="make the public link through this share server (your own FRP "
                        "server: Gradio's share_server_address) instead of Gradio's; implies "
                        "--share (docs/serving.md)")
    parser.add_argument("--auth", metavar="USER:PASS", help="require this login")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: auto)")
    parser.add_argument("--root-path", default=None, metavar="PREFIX",
                        help="the path the lab is served under behind a proxy, e.g. /hw3lab "
                        "(default: $GRADIO_ROOT_PATH, else none)")
    args = parser.parse_args(argv)
    if args.auth is not None and (":" not in args.auth or args.auth.startswith(":")):
        parser.error("--auth must look like USER:PASS")
    return args


def patient_localhost_check(seconds: float = LOCAL_CHECK_SECONDS) -> None:
    """Make Gradio's launch wait up to ``seconds`` for the lab's first page. Gradio asks its
    own server for it with a 3 s timeout and, without an answer, refuses to start unless
    --share is given; on two cores busy with trainings the first page took longer and the
    lab did not start (bench/cpu_per_request.py, bench/profile_server.py)."""
    import httpx
    from gradio import networking

    if getattr(networking.url_ok, "patient", False):
        return

    def url_ok(url: str) -> bool:
        deadline = time.monotonic() + seconds
        while True:
            try:
                answer = httpx.head(url, timeout=seconds, verify=False)
                if answer.status_code in (200, 401, 301, 302, 303, 307, 308):
                    return True
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)

    url_ok.patient = True  # type: ignore[attr-defined]
    networking.url_ok = url_ok


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
    outputs = serving_outputs()  # before the app is built: Gradio's cache is this folder
    ctx = LabContext(args.checkpoints, args.data, args.device, outputs)
    demo = build_lab(ctx)
    Janitor(demo, outputs).start()
    # Gradio, torch and the built page are about 440,000 objects that live as long as the lab,
    # and a full garbage collection walked them all (286 ms, bench/profile_server.py) whenever
    # Python ran one. Frozen, collections walk only what the requests create.
    gc.collect()
    gc.freeze()
    share = args.share or args.share_server is not None
    if share and args.share_server is None and not share_possible():
        print("No public link: Gradio's share server cannot be reached (no internet?); "
              f"serving locally only at http://{args.host}:{args.port}", file=sys.stderr)
        share = False
    auth = tuple(args.auth.split(":", 1)) if args.auth else None
    patient_localhost_check()
    demo.launch(server_name=args.host, server_port=args.port, share=share, auth=auth,
                max_file_size=limits.MAX_MODEL_UPLOAD_BYTES, show_error=True, quiet=False,
                footer_links=["api"], state_session_capacity=SESSIONS, head=PAGE_HEAD,
                root_path=args.root_path, share_server_address=args.share_server,
                app_kwargs={"middleware": serving_middleware(demo, auth is not None)})
