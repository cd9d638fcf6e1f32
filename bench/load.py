"""The lab under a class's load: many API clients at once, mixing every tab's main endpoints.

Two modes, both on ``app.py`` started on a free port of 127.0.0.1 (on random small checkpoints
made in a temporary folder, plus the shipped digit checkpoints under ``checkpoints/digits``
where present, unless ``--checkpoints`` is given), after every endpoint is called once:

- back to back (issue 6): ``--clients N`` users each send their next request as soon as the
  last one is answered, for ``--seconds``. Targets: zero errors, p95 under 2 s for interactive
  endpoints, memory growth under 10% between the first and the last window.
- a class (issue 12): ``--students N`` users who act like people: each opens the page, then
  does one thing every 2-5 s (uniformly random): mostly slider moves, examples and seeds, now
  and then an upload, rarely a t-SNE (usually the default view, sometimes a new setting).
  Targets: interactive p95 under 1 s, zero errors.

- a room arriving at once (issue 25): ``--burst N --within T`` students open the page at
  uniformly random moments within T seconds, as a class does when the link goes up on the
  screen, then do ``--actions`` things (default 3) every ``--think`` seconds (default 1-3 s).
  A page load is what a browser asks the lab for: ``GET /`` (a 503 there is the lab's "busy,
  retry in N s" page: counted as a refused page load), the theme, every file the page's initial
  values name, and every load event the page declares that runs on the server. Targets: no
  error, page p95 under 2 s, interactive p95 under 1 s. ``--url`` targets a lab (or a
  balancer, :mod:`hw3lab.serve`) already running instead of starting one; the client keeps
  the balancer's cookie, as a browser does, so a student stays on one replica.

Every simulated user is a :class:`bench.light_client.LightClient` (Gradio's HTTP API, uploads
first, every output file downloaded; a few ms of CPU per request, where ``gradio_client`` took
about 230 ms and left the lab waiting for its own clients). Both print a Markdown table per
endpoint (requests served, errors, p50/p95/max latency), the app's resident memory, the
server's CPU time (process CPU time from /proc, per request and as a share of one core) and the
clients' own (this process: all the simulated users share it).
Exact commands (run from the repository root; ``nice`` keeps the trainings first)::

    nice -n 19 .venv/bin/python -m bench.load --students 50 --seconds 120 --checkpoints checkpoints
    nice -n 19 .venv/bin/python -m bench.load --clients 48 --seconds 45
    nice -n 19 .venv/bin/python -m bench.load --burst 300 --within 10 --checkpoints checkpoints
    nice -n 19 .venv/bin/python -m bench.load --burst 300 --within 10 --url http://127.0.0.1:8000/

Why not Locust: its users are gevent greenlets in one process, as these threads are, but it
knows nothing of Gradio's two-step event protocol (queue, then read the event stream), which
is most of what a student does here; the light client already speaks it, and a burst of 300
fits one process on this machine. Locust is worth it for more load than one client machine
makes (its distributed workers), not for this.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.endpoints import (
    BY_NAME,
    TASK,
    cpu_seconds,
    input_files,
    lab_checkpoints,
    rss_mb,
)
from bench.light_client import LabError, LightClient
from hw3lab import limits
from hw3lab.devtools.running_lab import running_lab

INTERACTIVE_P95_S = {"clients": 2.0, "students": 1.0}
MEMORY_GROWTH = 0.10


@dataclass(frozen=True)
class Call:
    """One endpoint, how often a user picks it, whether a user waits on it (interactive) and
    its arguments for a random draw; ``label`` tells apart two uses of one endpoint."""

    endpoint: str
    weight: float
    interactive: bool
    arguments: Callable[[random.Random, Path], tuple]
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or self.endpoint


def _uses(endpoint: str, weight: float, interactive: bool = True, label: str = "",
          arguments: Callable[[random.Random, Path], tuple] | None = None) -> Call:
    return Call(endpoint, weight, interactive, arguments or BY_NAME[endpoint].arguments, label)


def _default_view(space: str, colouring: str) -> Callable[[random.Random, Path], tuple]:
    return lambda r, f: (space, limits.TSNE_POINTS.default, limits.TSNE_PERPLEXITY.default,
                         colouring)


CALLS = [  # back to back: mostly sliders and seeds, now and then a t-SNE (issue 6)
    _uses("/vae_decode", 6), _uses("/vae_start", 1), _uses("/vae_random", 2),
    _uses("/vae_reconstruct", 1), _uses("/vae_interpolate", 1), _uses("/gan_face", 4),
    _uses("/gan_grid", 2), _uses("/gan_interpolate", 1), _uses("/gan_judge", 1),
    _uses("/digits_example", 3), _uses("/digits_upload", 2), _uses("/digits_sketch", 1),
    _uses("/digits_accuracy", 1),
    # t-SNE: a few settings, so the cache serves repeats as it would a class
    _uses("/tsne_run", 1, False, arguments=lambda r, f: (
        f"{TASK} {r.choice(['dann', 'source_only'])}", r.choice([200, 400]), 30, "class")),
    _uses("/vae_tsne_run", 1, False, arguments=lambda r, f: (
        "VAE latents", 200, r.choice([20, 30]), "Smiling")),
    _uses("/digits_tsne", 1, False, arguments=lambda r, f: (TASK, 200)),
]

STUDENT = [  # a person's actions, one every 2-5 s (issue 12)
    _uses("/vae_decode", 8, label="/vae_decode (slider)"),
    _uses("/gan_edit", 6, label="/gan_edit (slider)"),
    _uses("/digits_example", 5),
    _uses("/gan_face", 3), _uses("/gan_random", 1), _uses("/vae_start", 2),
    _uses("/vae_random", 1), _uses("/gan_grid", 1), _uses("/gan_seeds", 0.5),
    _uses("/vae_interpolate", 0.5), _uses("/gan_interpolate", 0.5),
    _uses("/digits_upload", 2), _uses("/digits_sketch", 1), _uses("/digits_styles", 0.5),
    _uses("/gan_judge", 1), _uses("/vae_reconstruct", 1),
    _uses("/digits_accuracy", 0.5), _uses("/model_card", 0.5), _uses("/model_curves", 0.5),
    _uses("/tsne_run", 0.6, False, "/tsne_run (default view)", _default_view(
        f"{TASK} dann", "class")),
    _uses("/vae_tsne_run", 0.3, False, "/vae_tsne_run (default view)", _default_view(
        "VAE latents", "Smiling")),
    _uses("/digits_tsne", 0.2, False, "/digits_tsne (default view)",
          lambda r, f: (TASK, 400)),
    _uses("/tsne_run", 0.1, False, "/tsne_run (new setting)"),
]


PAGE_LOAD_NAME = "page load (GET /, theme, load events)"
FILE_URL = re.compile(r'"url":\s*"(?:[^"]*?)(/gradio_api/file=[^"]+)"')
CONFIG_START = "gradio_config = "


class BusyPageError(LabError):
    """The lab answered the page with its busy page (HTTP 503)."""


class BrowserLikeClient(LightClient):
    """A :class:`LightClient` that keeps the cookies a server sets (a balancer's stickiness
    cookie), as a browser does, and tells a busy page apart."""

    def __init__(self, url: str, timeout: float = 600.0) -> None:
        self.cookies: dict[str, str] = {}
        super().__init__(url, timeout)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> bytes:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (0, 1):
            try:
                self.connection.request(method, path, body, headers)
                response = self.connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                self.connection = self._connect()
                if attempt:
                    raise
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        if response.status == 503 and path in ("/", ""):
            raise BusyPageError(f"busy page, retry after {response.getheader('Retry-After')} s")
        if response.status != 200:
            raise LabError(f"{method} {path}: HTTP {response.status}: {data[:200]!r}")
        return data



def recorded_page_load(recorder: Recorder, start: float, error: str | None) -> bool:
    """Count a page load that began at ``start``: its time, or its ``error``; whether the
    student goes on to act."""
    with recorder.lock:
        if error is None:
            recorder.seconds[PAGE_LOAD_NAME].append(time.perf_counter() - start)
        else:
            recorder.errors[PAGE_LOAD_NAME].append(error)
    return error is None

def page_config(html: str) -> dict:
    """The config Gradio embeds in its page."""
    start = html.index(CONFIG_START) + len(CONFIG_START)
    return json.JSONDecoder().raw_decode(html, start)[0]


def open_page(client: BrowserLikeClient, files: bool = False) -> None:
    """What a browser asks the lab for when a student opens the link (besides the static
    assets): the page, its theme and every load event the page declares that runs on the
    server (those with an API name: a private one cannot be called by name). The first tab's
    pictures come inside the page; with ``files``, also every file the page names, as if the
    student opened every tab at once (the grids, the example gallery)."""
    html = client.request("GET", "/").decode()
    config = page_config(html)
    client.request("GET", "/theme.css")
    for path in dict.fromkeys(FILE_URL.findall(html)) if files else ():
        client.request("GET", path)
    for dependency in config.get("dependencies", []):
        if (dependency.get("backend_fn") and dependency.get("api_name")
                and any(target[1] == "load" for target in dependency.get("targets", []))):
            client.predict(api_name=dependency["api_name"])


def burst_student(url: str, files: Path, seed: int, within: float, actions: int,
                  think: tuple[float, float], recorder: Recorder, refused: list[str],
                  page_files: bool = False) -> None:
    """One student of a room: arrives within ``within`` s, opens the page, does ``actions``
    things ``think`` seconds apart."""
    rng = random.Random(seed)
    time.sleep(rng.uniform(0, within))
    client = BrowserLikeClient(url)
    start = time.perf_counter()
    try:
        open_page(client, page_files)
        error = None
    except BusyPageError as busy:
        with recorder.lock:
            refused.append(str(busy))
        return
    except Exception as failure:  # noqa: BLE001 - counted and shown
        error = f"{type(failure).__name__}: {str(failure)[:200]}"
    if not recorded_page_load(recorder, start, error):
        return
    weights = [call.weight for call in STUDENT]
    for _ in range(actions):
        time.sleep(rng.uniform(*think))
        call = rng.choices(STUDENT, weights)[0]
        recorder.call(client, call, call.arguments(rng, files))
    client.close()


class Recorder:
    """Latencies and errors per call, from many client threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)

    def call(self, client: LightClient, call: Call, arguments: tuple) -> None:
        start = time.perf_counter()
        try:
            client.predict(*arguments, api_name=call.endpoint)
            error = None
        except Exception as failure:  # noqa: BLE001 - every failure is counted and shown
            error = f"{type(failure).__name__}: {str(failure)[:200]}"
        elapsed = time.perf_counter() - start
        with self.lock:
            if error is None:
                self.seconds[call.name].append(elapsed)
            else:
                self.errors[call.name].append(error)

    def served(self) -> int:
        return sum(len(s) for s in self.seconds.values())


def client_loop(url: str, files: Path, seed: int, deadline: float, recorder: Recorder) -> None:
    """One user: weighted random calls, back to back, until ``deadline``."""
    rng = random.Random(seed)
    client = LightClient(url)
    weights = [call.weight for call in CALLS]
    while time.monotonic() < deadline:
        call = rng.choices(CALLS, weights)[0]
        recorder.call(client, call, call.arguments(rng, files))


def student_loop(url: str, files: Path, seed: int, deadline: float, recorder: Recorder,
                 think: tuple[float, float]) -> None:
    """One student: opens the page, then one action every ``think`` seconds (uniform)."""
    rng = random.Random(seed)
    time.sleep(rng.uniform(0, think[1]))  # a class does not arrive in one instant
    start = time.perf_counter()
    try:
        client = BrowserLikeClient(url)
        open_page(client)  # the page and the load events it declares (none since issue 25)
        error = None
    except Exception as failure:  # noqa: BLE001 - counted and shown
        error = f"{type(failure).__name__}: {str(failure)[:200]}"
    if not recorded_page_load(recorder, start, error):
        return
    weights = [call.weight for call in STUDENT]
    while True:
        time.sleep(rng.uniform(*think))
        if time.monotonic() >= deadline:
            return
        call = rng.choices(STUDENT, weights)[0]
        recorder.call(client, call, call.arguments(rng, files))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def table(recorder: Recorder, calls: list[Call]) -> list[str]:
    rows = ["| endpoint | kind | served | errors | p50 (ms) | p95 (ms) | max (ms) |",
            "|---|---|---:|---:|---:|---:|---:|"]
    names = list(dict.fromkeys([*recorder.seconds, *recorder.errors]))
    kinds = {call.name: "interactive" if call.interactive else "t-SNE" for call in calls}
    for name in sorted(names, key=lambda n: (kinds.get(n, ""), n)):
        seconds = [s * 1000 for s in recorder.seconds.get(name, [])]
        errors = len(recorder.errors.get(name, []))
        numbers = (f"{statistics.median(seconds):.0f} | {percentile(seconds, 0.95):.0f} | "
                   f"{max(seconds):.0f}") if seconds else "- | - | -"
        rows.append(f"| {name} | {kinds.get(name, 'page')} | {len(seconds)} | {errors} | "
                    f"{numbers} |")
    interactive = [s * 1000 for call in calls if call.interactive
                   for s in recorder.seconds.get(call.name, [])]
    if interactive:
        rows.append(f"| **every interactive request** | interactive | {len(interactive)} | "
                    f"{sum(len(recorder.errors.get(c.name, [])) for c in calls if c.interactive)}"
                    f" | {statistics.median(interactive):.0f} | "
                    f"{percentile(interactive, 0.95):.0f} | {max(interactive):.0f} |")
    return rows


def verdict(recorder: Recorder, calls: list[Call], p95_s: float, first_mb: float,
            last_mb: float) -> list[str]:
    errors = sum(len(e) for e in recorder.errors.values())
    interactive = [s for call in calls if call.interactive
                   for s in recorder.seconds.get(call.name, [])]
    slow = sorted({c.name for c in calls if c.interactive and recorder.seconds.get(c.name)
                   and percentile(recorder.seconds[c.name], 0.95) >= p95_s})
    growth = last_mb / first_mb - 1
    overall = f"{percentile(interactive, 0.95):.2f} s" if interactive else "-"
    return [f"- errors: {errors} (target 0)",
            f"- interactive p95 over every interactive request: {overall} "
            f"(target < {p95_s:g} s); endpoints with p95 >= {p95_s:g} s: "
            f"{', '.join(slow) or 'none'}",
            f"- memory growth, peak of the last vs the first window: {growth:+.1%} "
            f"(target < {MEMORY_GROWTH:.0%})"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--clients", type=int, help="users calling back to back (default 16)")
    mode.add_argument("--students", type=int, help="users acting like people (one action "
                      "every --think seconds)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--think", type=float, nargs=2, default=(2.0, 5.0),
                        metavar=("LOW", "HIGH"), help="a student's pause between actions")
    parser.add_argument("--window", type=float, default=20.0,
                        help="seconds at the start and the end compared for memory growth")
    parser.add_argument("--checkpoints", type=Path,
                        help="serve these checkpoints instead of random + shipped digit ones")
    mode.add_argument("--burst", type=int, metavar="N",
                      help="a room: N students arriving within --within seconds")
    parser.add_argument("--within", type=float, default=10.0, metavar="T")
    parser.add_argument("--actions", type=int, default=3,
                        help="what each student of a burst does after the page (default 3)")
    parser.add_argument("--url", help="a running lab or balancer to load instead of starting "
                        "a lab (--burst only)")
    parser.add_argument("--page-files", choices=("first-tab", "all"), default="first-tab",
                        help="files a page load fetches: the first tab's (none: its pictures "
                        "are inside the page) or every file the page names")
    parser.add_argument("--pids", type=int, nargs="*", default=[],
                        help="with --url: the servers' process ids, for their CPU and memory")
    args = parser.parse_args()
    if args.burst is not None:
        if args.think == (2.0, 5.0):
            args.think = (1.0, 3.0)
        run_burst(args)
        return
    students = args.students is not None
    users = args.students if students else (args.clients or 16)
    calls = STUDENT if students else CALLS
    with tempfile.TemporaryDirectory(prefix="hw3lab-load-") as temporary:
        work = Path(temporary)
        checkpoints = args.checkpoints or lab_checkpoints(work / "checkpoints")
        files = input_files(work)
        with running_lab("--checkpoints", str(checkpoints), "--data", str(work / "no-data"),
                         timeout=900) as (url, log, pid):
            started_mb = rss_mb(pid)
            warm = Recorder()
            warm_client = LightClient(url)
            for call in calls:  # loads every model once, outside the timed run
                warm.call(warm_client, call, call.arguments(random.Random(0), files))
            warm_mb = rss_mb(pid)
            load_before = os.getloadavg()[0]
            recorder = Recorder()
            server_cpu, client_cpu = cpu_seconds(pid), time.process_time()
            begin = time.monotonic()
            deadline = begin + args.seconds
            if students:
                threads = [threading.Thread(target=student_loop, daemon=True, args=(
                    url, files, seed, deadline, recorder, args.think))
                    for seed in range(users)]
            else:
                threads = [threading.Thread(target=client_loop, daemon=True, args=(
                    url, files, seed, deadline, recorder))
                    for seed in range(users)]
            for thread in threads:
                thread.start()
            samples: list[tuple[float, float]] = []
            while any(thread.is_alive() for thread in threads):
                samples.append((time.monotonic() - begin, rss_mb(pid)))
                time.sleep(0.5)
            elapsed = time.monotonic() - begin
            server_cpu = cpu_seconds(pid) - server_cpu
            client_cpu = time.process_time() - client_cpu
            end_mb = rss_mb(pid)
            load_after = os.getloadavg()[0]
    window = min(args.window, args.seconds / 2)
    first = max(mb for t, mb in samples if t <= window)
    last = max(mb for t, mb in samples if t >= min(args.seconds, elapsed) - window)
    served = recorder.served()
    who = (f"{users} students (one action every {args.think[0]:g}-{args.think[1]:g} s)"
           if students else f"{users} clients back to back")
    print(f"{who} for {args.seconds:g} s (ran {elapsed:.0f} s): {served} requests served "
          f"({served / elapsed:.1f}/s); load average {load_before:.1f} before, "
          f"{load_after:.1f} after; {os.cpu_count()} CPUs\n")
    print("\n".join(table(recorder, calls)))
    print(f"\nCPU time: server {server_cpu:.1f} s ({server_cpu / elapsed:.0%} of one core, "
          f"{server_cpu / max(served, 1) * 1000:.0f} ms per request); clients (this process, "
          f"all {users} users) {client_cpu:.1f} s ({client_cpu / elapsed:.0%} of one core, "
          f"{client_cpu / max(served, 1) * 1000:.0f} ms per request)")
    print(f"resident memory (MB): {started_mb:.0f} at start, {warm_mb:.0f} after warm-up, "
          f"peak {first:.0f} in the first {window:g} s, peak {last:.0f} in the last {window:g} s,"
          f" {end_mb:.0f} at the end")
    p95_s = INTERACTIVE_P95_S["students" if students else "clients"]
    print("\n".join(verdict(recorder, calls, p95_s, first, last)))
    failures = [f"{endpoint}: {errors[0]}" for endpoint, errors in
                {**warm.errors, **recorder.errors}.items()]
    if failures:
        print("\nfirst error per endpoint:\n" + "\n".join(failures))


def run_burst(args: argparse.Namespace) -> None:
    """``--burst``: on ``--url``, or on a lab started here; prints one table and a verdict."""
    with tempfile.TemporaryDirectory(prefix="hw3lab-load-") as temporary:
        work = Path(temporary)
        files = input_files(work)
        if args.url:
            burst(args, args.url.rstrip("/") + "/", files, args.pids)
            return
        checkpoints = args.checkpoints or lab_checkpoints(work / "checkpoints")
        with running_lab("--checkpoints", str(checkpoints), "--data", str(work / "no-data"),
                         timeout=900) as (url, log, pid):
            burst(args, url, files, [pid])


def burst(args: argparse.Namespace, url: str, files: Path, pids: list[int]) -> None:
    warm = Recorder()
    warm_client = BrowserLikeClient(url)
    open_page(warm_client)
    for call in STUDENT:  # loads every model once, outside the timed run
        warm.call(warm_client, call, call.arguments(random.Random(0), files))
    recorder, refused = Recorder(), []
    load_before = os.getloadavg()[0]
    server_cpu = sum(cpu_seconds(pid) for pid in pids)
    client_cpu = time.process_time()
    begin = time.monotonic()
    threads = [threading.Thread(target=burst_student, daemon=True, args=(
        url, files, seed, args.within, args.actions, tuple(args.think), recorder, refused,
        args.page_files == "all"))
        for seed in range(args.burst)]
    for thread in threads:
        thread.start()
    peak_mb: dict[int, float] = dict.fromkeys(pids, 0.0)
    while any(thread.is_alive() for thread in threads):
        for pid in pids:
            try:
                peak_mb[pid] = max(peak_mb[pid], rss_mb(pid))
            except OSError:  # a replica killed during the run
                pass
        time.sleep(0.5)
    elapsed = time.monotonic() - begin
    alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    server_cpu = sum(cpu_seconds(pid) for pid in alive) - server_cpu if alive == pids else None
    client_cpu = time.process_time() - client_cpu
    pages = recorder.seconds.get(PAGE_LOAD_NAME, [])
    page_errors = recorder.errors.get(PAGE_LOAD_NAME, [])
    errors = sum(len(e) for e in recorder.errors.values())
    interactive = [s for call in STUDENT if call.interactive
                   for s in recorder.seconds.get(call.name, [])]
    print(f"{args.burst} students arriving within {args.within:g} s, then {args.actions} "
          f"actions each {args.think[0]:g}-{args.think[1]:g} s apart (page files: "
          f"{args.page_files}), on {url} (ran "
          f"{elapsed:.0f} s); load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} "
          f"after; {os.cpu_count()} CPUs\n")
    print("| students within | refused pages | errors | page p50 / p95 (s) | "
          "interactive p50 / p95 (s) |\n|---|---:|---:|---:|---:|")
    page = (f"{statistics.median(pages):.2f} / {percentile(pages, 0.95):.2f}" if pages
            else "- / -")
    acts = (f"{statistics.median(interactive):.2f} / {percentile(interactive, 0.95):.2f}"
            if interactive else "- / -")
    print(f"| {args.burst} in {args.within:g} s | {len(refused)} | {errors} | {page} | "
          f"{acts} |\n")
    print("\n".join(table(recorder, STUDENT)))
    if server_cpu is not None:
        print(f"\nserver CPU {server_cpu:.1f} s ({server_cpu / elapsed:.0%} of one core); "
              f"clients {client_cpu:.1f} s ({client_cpu / elapsed:.0%} of one core)")
    print("peak resident memory per server (MB): "
          + (", ".join(f"{pid}: {mb:.0f}" for pid, mb in peak_mb.items()) or "not measured"))
    print(f"- page loads: {len(pages)} served, {len(refused)} refused (busy page), "
          f"{len(page_errors)} failed (target: none refused or failed, p95 < 2 s)")
    print(f"- errors: {errors} (target 0); interactive p95: "
          f"{percentile(interactive, 0.95) if interactive else float('nan'):.2f} s "
          f"(target < 1 s)")
    failures = [f"{endpoint}: {errors[0]}" for endpoint, errors in
                {**warm.errors, **recorder.errors}.items()]
    if refused:
        failures.append(f"refused: {refused[0]}")
    if failures:
        print("\nfirst error per endpoint:\n" + "\n".join(failures))


if __name__ == "__main__":
    main()
