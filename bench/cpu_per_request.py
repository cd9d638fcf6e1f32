"""The server's own CPU time per request, for every API endpoint of the lab (and the page).

Run from the repository root (``nice`` keeps it off the trainings' cores)::

    nice -n 19 .venv/bin/python -m bench.cpu_per_request [--calls 60] [--heavy-calls 4]
        [--checkpoints DIR] [--data DIR] [--only /gan_face,/digits_example]

starts ``app.py`` on a free port of 127.0.0.1 (the shipped checkpoints unless ``--checkpoints``
is given; no data unless ``--data``), calls every endpoint twice to load its models, then calls
each one ``--calls`` times in a row (``--heavy-calls`` for t-SNE and batch labelling) with new
seeds and settings, through :class:`bench.light_client.LightClient` as a browser would: uploads
first, the event through the queue, every output file downloaded (one keep-alive connection;
with ``gradio_client`` the server answered 27 HTTP requests per call (bench/profile_server.py),
and its CPU time counted them). For each endpoint it prints the server process's CPU time (user
+ system, all threads, from /proc/PID/stat) per request, the client's own CPU time per request,
and the median wall time. CPU time, unlike wall time, hardly depends on what else runs on the
machine. Interactive endpoints' target (issue 12): at most 30 ms of server CPU each. It also
prints what the lab costs with no request at all (CPU ms per second over 10 idle seconds).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from bench.endpoints import (
    ENDPOINTS,
    cpu_seconds,
    input_files,
    rss_mb,
)
from bench.light_client import LightClient
from hw3lab.devtools.running_lab import running_lab
from hw3lab.inference import DEFAULT_CHECKPOINTS

TARGET_MS = 30.0
IDLE_S = 10.0  # seconds without a request, to measure what the idle lab costs
PAGE = ("GET / + /config", "page")


def measure(pid: int, calls: int, call) -> tuple[float, float, float]:  # noqa: ANN001
    """Server CPU ms, client CPU ms per call and the median wall ms of ``calls`` calls."""
    walls = []
    server, client = cpu_seconds(pid), time.process_time()
    for i in range(calls):
        start = time.perf_counter()
        call(i)
        walls.append(time.perf_counter() - start)
    server, client = cpu_seconds(pid) - server, time.process_time() - client
    return server / calls * 1000, client / calls * 1000, statistics.median(walls) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60, help="calls per interactive endpoint")
    parser.add_argument("--heavy-calls", type=int, default=4,
                        help="calls per t-SNE or batch endpoint (new settings each)")
    parser.add_argument("--checkpoints", type=Path, default=DEFAULT_CHECKPOINTS)
    parser.add_argument("--data", type=Path, help="hw3_data folder (default: none)")
    parser.add_argument("--only", help="comma-separated endpoints, e.g. /gan_face,/vae_decode")
    args = parser.parse_args()
    chosen = set(args.only.split(",")) if args.only else None
    with tempfile.TemporaryDirectory(prefix="hw3lab-cpu-") as temporary:
        work = Path(temporary)
        files = input_files(work)
        data = args.data or work / "no-data"
        with running_lab("--checkpoints", str(args.checkpoints), "--data", str(data),
                         timeout=900) \
                as (url, _, pid):
            client = LightClient(url)
            endpoints = [e for e in ENDPOINTS if (chosen is None or e.name in chosen)
                         and (args.data is not None or not e.needs_data)]
            rng = random.Random(0)
            for endpoint in endpoints:  # loads every model, fills caches of fixed things
                for _ in range(2):
                    client.predict(*endpoint.arguments(rng, files), api_name=endpoint.name)
            idle = cpu_seconds(pid)
            time.sleep(IDLE_S)  # what the lab costs with no request at all
            idle = (cpu_seconds(pid) - idle) / IDLE_S * 1000
            rows = []
            if chosen is None or PAGE[0] in chosen:
                def page(_: int) -> None:
                    for path in ("/", "/config"):
                        client.request("GET", path)
                rows.append((*PAGE, *measure(pid, args.calls, page)))
            for endpoint in endpoints:
                calls = args.calls if endpoint.kind == "interactive" else args.heavy_calls
                rows.append((endpoint.name, endpoint.kind, *measure(
                    pid, calls, lambda _, e=endpoint: client.predict(
                        *e.arguments(rng, files), api_name=e.name))))
            memory = rss_mb(pid)
    print(f"server CPU per request (user + system, all threads), {args.calls} calls per "
          f"interactive endpoint, {args.heavy_calls} per heavy one; checkpoints "
          f"{args.checkpoints.name}/; server resident memory at the end {memory:.0f} MB; "
          f"idle, the server uses {idle:.0f} ms of CPU a second\n")
    print("| endpoint | kind | server CPU ms/request | client CPU ms/request | wall p50 ms |"
          " within 30 ms |")
    print("|---|---|---:|---:|---:|---|")
    for name, kind, server, client_ms, wall in rows:
        within = "" if kind == "heavy" else ("yes" if server <= TARGET_MS else "NO")
        print(f"| {name} | {kind} | {server:.1f} | {client_ms:.1f} | {wall:.0f} | {within} |")


if __name__ == "__main__":
    main()
