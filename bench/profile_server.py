"""Where the served lab's CPU time goes, per request of one endpoint: cProfile of every
thread of the server, timed by each thread's own CPU clock.

Run from the repository root::

    nice -n 19 .venv/bin/python -m bench.profile_server --endpoint /digits_example [--calls 60]
        [--checkpoints DIR] [--top 30]

(``--endpoint page``: a browser opening the page, as bench/load.py's ``--burst`` does: the
page, its theme, the files its initial values name, its load events.)

builds the lab in this process and serves it on a free port of 127.0.0.1 (shipped checkpoints
unless ``--checkpoints``; no data), makes ``--calls`` requests to the endpoint from a separate
client process (a :class:`bench.light_client.LightClient`, outputs downloaded, as
bench/cpu_per_request.py does). Every thread the server starts (uvicorn's event loop, Gradio's
and anyio's workers) runs under its own ``cProfile.Profile(time.thread_time)``, cleared when
the timed calls begin. Prints the server's CPU per request (the process's CPU time, and the sum
of what the profiles measured: cProfile's own overhead makes both larger than without it), then
the functions with the most CPU per request, inclusive (the function and what it calls) and
exclusive (its own lines and the C code they call).
Wall-clock sampling (py-spy) would
mislead here: on busy cores a thread waits for a core inside whatever it was doing.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

CLIENT = """
import random, sys, time
from pathlib import Path
from bench.endpoints import BY_NAME
from bench.light_client import LightClient
files = Path({files!r})
rng = random.Random(1)
if {endpoint!r} == "page":  # a browser opening the page (bench/load.py's open_page)
    from bench.load import BrowserLikeClient, open_page
    def call():
        open_page(BrowserLikeClient({url!r}))
else:
    endpoint = BY_NAME[{endpoint!r}]
    client = LightClient({url!r})
    def call():
        client.predict(*endpoint.arguments(rng, files), api_name=endpoint.name)
for _ in range(2):
    call()
print("warm", flush=True)
sys.stdin.readline()
for _ in range({calls}):
    call()
print("done", flush=True)
"""


PROFILES: list[cProfile.Profile] = []


def profile_every_thread() -> None:
    """Run every thread started from now on under its own CPU-time cProfile. (Wrapped around
    ``Thread._bootstrap_inner``, not ``run``: anyio's worker threads, where Gradio runs the
    callbacks, override ``run``, and a wrapped ``run`` left them out of the profile.)"""
    original = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]

    def bootstrap_inner(self: threading.Thread) -> None:
        profile = cProfile.Profile(time.thread_time)
        PROFILES.append(profile)
        profile.enable()
        try:
            original(self)
        finally:
            profile.disable()

    threading.Thread._bootstrap_inner = bootstrap_inner  # type: ignore[attr-defined]


def _short(filename: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/", "lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="/digits_example")
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--checkpoints", type=Path)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()

    from bench.endpoints import cpu_seconds, input_files
    from hw3lab.devtools.running_lab import free_port
    from hw3lab.inference import DEFAULT_CHECKPOINTS
    from hw3lab.lab import LabContext
    from hw3lab.runtime import SERVING_THREADS, limit_malloc_arenas, set_cpu_threads
    from hw3lab.ui import app

    try:  # the bounded output folder (issue 12); the profile also runs on older trees
        from hw3lab.ui.gradio_cache import Janitor, serving_outputs
    except ImportError:
        Janitor = serving_outputs = None  # noqa: N806

    set_cpu_threads(SERVING_THREADS)
    limit_malloc_arenas()
    profile_every_thread()
    with tempfile.TemporaryDirectory(prefix="hw3lab-profile-") as temporary:
        work = Path(temporary)
        files = input_files(work)
        checkpoints = args.checkpoints or DEFAULT_CHECKPOINTS
        if serving_outputs is None:
            ctx = LabContext(checkpoints, work / "no-data")
            demo = app.build_lab(ctx)
        else:
            outputs = serving_outputs()
            ctx = LabContext(checkpoints, work / "no-data", None, outputs)
            demo = app.build_lab(ctx)
            Janitor(demo, outputs).start()
        port = free_port()
        # Gradio gives up on a first page slower than 3 s (cProfile on busy cores).
        if hasattr(app, "patient_localhost_check"):
            app.patient_localhost_check()
        else:
            from gradio import networking
            networking.url_ok = lambda url: True
        served = ({"app_kwargs": {"middleware": app.serving_middleware(demo)},
                   "head": app.PAGE_HEAD} if hasattr(app, "serving_middleware") else {})
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                    quiet=True, show_error=True, **served)
        client = subprocess.Popen(
            [sys.executable, "-c", CLIENT.format(endpoint=args.endpoint,
                                                 files=str(files), calls=args.calls,
                                                 url=f"http://127.0.0.1:{port}/")],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert client.stdout.readline().strip() == "warm"
        for profile in list(PROFILES):
            profile.clear()  # only the timed calls count
        start = cpu_seconds(os.getpid())
        client.stdin.write("go\n")
        client.stdin.flush()
        assert client.stdout.readline().strip() == "done"
        spent = cpu_seconds(os.getpid()) - start
        client.wait()
        stats = None
        for profile in PROFILES:
            profile.create_stats()
            if not profile.stats:  # a thread idle during the timed calls
                continue
            if stats is None:
                stats = pstats.Stats(profile)
            else:
                stats.add(profile)
        assert stats is not None, "no thread of the server ran during the timed calls"
        demo.close()
    objects = len(gc.get_objects())  # the profiles are off: create_stats disabled them
    start = time.perf_counter()
    gc.collect()  # what one full collection costs a lab that has served (app.py freezes these)
    full_gc_ms = (time.perf_counter() - start) * 1000
    per = 1000 / args.calls
    measured = sum(entry[2] for entry in stats.stats.values())  # exclusive times add up
    print(f"{args.endpoint}: server CPU {spent * per:.1f} ms per request under cProfile "
          f"({args.calls} calls), {measured * per:.1f} ms in the profiles; one full garbage "
          f"collection of the {objects:,} objects alive: {full_gc_ms:.0f} ms\n")
    rows = [(f"{name} ({_short(file)}:{line})", calls, exclusive, inclusive)
            for (file, line, name), (_, calls, exclusive, inclusive, _) in stats.stats.items()]
    for title, column in (("inclusive", 3), ("exclusive", 2)):
        print(f"| {title}: function | calls/request | ms/request |\n|---|---:|---:|")
        for row in sorted(rows, key=lambda r: -r[column])[:args.top]:
            print(f"| {row[0]} | {row[1] / args.calls:.1f} | {row[column] * per:.2f} |")
        print()


if __name__ == "__main__":
    main()
