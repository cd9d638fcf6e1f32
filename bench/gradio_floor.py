"""What Gradio itself costs per request, with no lab behind it: the floor under
bench/cpu_per_request.py's numbers.

Run from the repository root::

    nice -n 19 .venv/bin/python -m bench.gradio_floor [--calls 200] [--components 238]

serves a bare Blocks app (``--components`` hidden textboxes, as many as the lab's page has,
plus the events below; its queue set as the lab's, :func:`hw3lab.ui.app.no_monitoring_summary`)
in a child process on 127.0.0.1, calls each event ``--calls`` times through
:class:`bench.light_client.LightClient` (uploads first and output files downloaded, as a
browser does) and prints the server process's CPU time per request. The events return
constants, so every millisecond is the framework's:

- a queued event (``/call``: join the queue, read its server-sent events) with a number out;
- the same with one 64x64 PNG image out (a file Gradio serves), with the image and a download
  of it (two outputs), and with the image inline (:func:`hw3lab.ui.widgets.inline_png`, as the
  lab sends its pictures);
- the same with an uploaded PNG in, and with a sketch in (its PNG uploaded), a number out;
- the number and file-image events declared ``queue=False`` (one ``POST /run``, as the
  browser sends them);
- fetching one served file (``GET /gradio_api/file=``).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from PIL import Image

from bench.endpoints import cpu_seconds
from bench.light_client import LightClient
from hw3lab.devtools.running_lab import free_port, running_server


def serve(port: int, components: int) -> None:
    """The bare app (in the child process, which :func:`running_server` starts offline and
    without analytics)."""
    import gradio as gr

    from hw3lab.ui.app import no_monitoring_summary
    from hw3lab.ui.widgets import shown

    face = np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)
    folder = tempfile.TemporaryDirectory(prefix="gradio-floor-")
    face_png = str(Path(folder.name) / "face.png")
    Image.fromarray(face).save(face_png)
    with gr.Blocks() as demo:
        number, out = gr.Number(), gr.Number()
        image, download = gr.Image(format="png"), gr.File()
        for _ in range(components):
            gr.Textbox(visible=False)
        for queued in (True, False):
            suffix = "" if queued else "_direct"
            gr.Button().click(lambda x: x, number, out, api_name="number" + suffix,
                              queue=queued)
            gr.Button().click(lambda x: face, number, image, api_name="image" + suffix,
                              queue=queued)
        gr.Button().click(lambda x: (face, face_png), number, [image, download],
                          api_name="image_and_download")
        gr.Button().click(lambda x: face, number, shown("inline"), api_name="image_inline")
        gr.Button().click(lambda files: 1, gr.File(file_count="multiple"), out,
                          api_name="file_in")
        gr.Button().click(lambda sketch: 1, gr.Sketchpad(), out, api_name="sketch_in")
    demo.queue()
    no_monitoring_summary(demo._queue)  # as the lab serves
    demo.launch(server_name="127.0.0.1", server_port=port, quiet=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--components", type=int, default=238)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.components)
        return
    port = free_port()
    with running_server([__file__, "--serve", str(port), "--components", str(args.components)],
                        port, timeout=120) as (url, _, pid):
        client = LightClient(url)
        served = urlsplit(client.predict(1, api_name="/image")[0]["url"]).path
        folder = tempfile.TemporaryDirectory(prefix="gradio-floor-client-")
        digit = Path(folder.name) / "digit.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (280, 280, 4), np.uint8)
                        ).save(digit)
        upload = {"path": str(digit), "meta": {"_type": "gradio.FileData"}}
        calls = {
            "queued event, a number out": lambda: client.predict(1, api_name="/number"),
            "queued event, one PNG out": lambda: client.predict(1, api_name="/image"),
            "queued event, the PNG and its download": lambda: client.predict(
                1, api_name="/image_and_download"),
            "queued event, one PNG inline (data: URL)": lambda: client.predict(
                1, api_name="/image_inline"),
            "queued event, one uploaded PNG in (upload + event), a number out":
                lambda: client.predict([upload], api_name="/file_in"),
            "queued event, a sketch in (its PNG uploaded), a number out":
                lambda: client.predict({"background": None, "layers": [], "composite": upload},
                                       api_name="/sketch_in"),
            "queue=False event, a number out": lambda: client.run(1, api_name="/number_direct"),
            "queue=False event, one PNG out": lambda: client.run(1, api_name="/image_direct"),
            "GET one served file": lambda: client.request("GET", served),
        }
        print(f"Gradio's own server CPU per request ({args.components} other components on "
              f"the page, {args.calls} calls each)\n")
        print("| request | server CPU ms/request |\n|---|---:|")
        for name, call in calls.items():
            for _ in range(5):
                call()
            start = cpu_seconds(pid)
            for _ in range(args.calls):
                call()
            print(f"| {name} | {(cpu_seconds(pid) - start) / args.calls * 1000:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
