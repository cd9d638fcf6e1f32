"""The lab under a class's load: many API clients at once, mixing every tab's main endpoints.

``python bench/load.py [--clients 16] [--seconds 60] [--checkpoints DIR]`` starts ``app.py`` on
a free port of 127.0.0.1 (on random small checkpoints made in a temporary folder, plus the
shipped digit checkpoints under ``checkpoints/digits`` where present, unless ``--checkpoints``
is given), warms every endpoint once, then runs the clients for the given time and prints a
Markdown table: requests served, errors and p50/p95/max latency per endpoint, and the app's
resident memory at start, after warm-up, and at its peak in the first and the last 20 s.
Targets (issue 6): zero errors, p95 under 2 s for interactive endpoints, memory growth under
10% between the first and the last 20 s.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from gradio_client import Client, handle_file  # noqa: E402

from hw3lab.checkpoints import record_in_manifest  # noqa: E402
from hw3lab.data.examples import render_digits  # noqa: E402
from hw3lab.inference import DEFAULT_CHECKPOINTS  # noqa: E402
from hw3lab.lab.vae import SLIDER_COUNT  # noqa: E402
from tests.random_checkpoints import make_checkpoints  # noqa: E402
from tests.running_lab import running_lab  # noqa: E402

TASK = "usps->mnistm"
INTERACTIVE_P95_S = 2.0
MEMORY_GROWTH = 0.10


@dataclass(frozen=True)
class Call:
    """One endpoint, how often a client picks it, and its arguments for a random draw."""

    endpoint: str
    weight: int
    interactive: bool
    arguments: Callable[[random.Random, Path], tuple]


def _slider(rng: random.Random, _: Path) -> tuple:
    return tuple(round(rng.uniform(-3, 3), 2) for _ in range(SLIDER_COUNT))


CALLS = [  # a class exploring the lab: mostly sliders and seeds, now and then a t-SNE
    Call("/vae_decode", 6, True, _slider),
    Call("/vae_start", 1, True, lambda r, f: ("random", r.randrange(1000), None)),
    Call("/vae_random", 2, True, lambda r, f: (r.randrange(1000), 32)),
    Call("/vae_reconstruct", 1, True, lambda r, f: ([handle_file(f / "face.jpg")], None, 0)),
    Call("/vae_interpolate", 1, True, lambda r, f: ("random", r.randrange(99), None, "random",
                                                    r.randrange(99), None, 8)),
    Call("/gan_face", 4, True, lambda r, f: (r.randrange(10**6),)),
    Call("/gan_grid", 2, True, lambda r, f: (r.randrange(10**6), 32)),
    Call("/gan_interpolate", 1, True, lambda r, f: (r.randrange(99), r.randrange(99), 8)),
    Call("/gan_judge", 1, True, lambda r, f: (handle_file(f / "face.jpg"),)),
    Call("/digits_example", 3, True, lambda r, f: (TASK, r.randrange(12))),
    Call("/digits_upload", 2, True, lambda r, f: (TASK, [handle_file(f / "digit.png")])),
    Call("/digits_sketch", 1, True, lambda r, f: (TASK, {
        "background": None, "layers": [], "composite": handle_file(f / "digit.png")})),
    Call("/digits_accuracy", 1, True, lambda r, f: ()),
    # t-SNE: a few settings, so the cache serves repeats as it would a class
    Call("/tsne_run", 1, False, lambda r, f: (f"{TASK} {r.choice(['dann', 'source_only'])}",
                                              r.choice([200, 400]), 30, "class")),
    Call("/vae_tsne_run", 1, False, lambda r, f: ("VAE latents", 200, r.choice([20, 30]),
                                                  "Smiling")),
    Call("/digits_tsne", 1, False, lambda r, f: (TASK, 200)),
]


def lab_checkpoints(directory: Path) -> Path:
    """Random small checkpoints in ``directory``, with the shipped digit checkpoints copied over
    them where present (so the digit models run at their real size and weights)."""
    make_checkpoints(directory)
    shipped = DEFAULT_CHECKPOINTS / "digits"
    for weights in sorted(shipped.glob("*.safetensors")) if shipped.is_dir() else []:
        if weights.with_suffix(".json").is_file():
            for source in (weights, weights.with_suffix(".json")):
                shutil.copy(source, directory / "digits" / source.name)
            record_in_manifest(directory, f"digits/{weights.stem}", directory / "digits" /
                               weights.name)
    return directory


def input_files(directory: Path) -> Path:
    digit, _ = render_digits("usps", 1)
    Image.fromarray(digit[0]).save(directory / "digit.png")
    Image.new("RGB", (120, 150), (190, 140, 110)).save(directory / "face.jpg")
    return directory


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class Recorder:
    """Latencies and errors per endpoint, from many client threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)

    def call(self, client: Client, call: Call, arguments: tuple) -> None:
        start = time.perf_counter()
        try:
            client.predict(*arguments, api_name=call.endpoint)
            error = None
        except Exception as failure:  # noqa: BLE001 - every failure is counted and shown
            error = f"{type(failure).__name__}: {str(failure)[:200]}"
        elapsed = time.perf_counter() - start
        with self.lock:
            if error is None:
                self.seconds[call.endpoint].append(elapsed)
            else:
                self.errors[call.endpoint].append(error)


def client_loop(url: str, files: Path, downloads: Path, seed: int, deadline: float,
                recorder: Recorder) -> None:
    """One user: weighted random calls, back to back, until ``deadline``."""
    rng = random.Random(seed)
    client = Client(url, verbose=False, download_files=str(downloads))
    weights = [call.weight for call in CALLS]
    while time.monotonic() < deadline:
        call = rng.choices(CALLS, weights)[0]
        recorder.call(client, call, call.arguments(rng, files))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def table(recorder: Recorder) -> list[str]:
    rows = ["| endpoint | kind | served | errors | p50 (ms) | p95 (ms) | max (ms) |",
            "|---|---|---|---|---|---|---|"]
    for call in CALLS:
        seconds = [s * 1000 for s in recorder.seconds.get(call.endpoint, [])]
        errors = len(recorder.errors.get(call.endpoint, []))
        numbers = (f"{statistics.median(seconds):.0f} | {percentile(seconds, 0.95):.0f} | "
                   f"{max(seconds):.0f}") if seconds else "- | - | -"
        kind = "interactive" if call.interactive else "t-SNE"
        rows.append(f"| {call.endpoint} | {kind} | {len(seconds)} | {errors} | {numbers} |")
    return rows


def verdict(recorder: Recorder, first_mb: float, last_mb: float) -> list[str]:
    errors = sum(len(e) for e in recorder.errors.values())
    slow = [c.endpoint for c in CALLS if c.interactive and recorder.seconds.get(c.endpoint)
            and percentile(recorder.seconds[c.endpoint], 0.95) >= INTERACTIVE_P95_S]
    growth = last_mb / first_mb - 1
    return [f"- errors: {errors} (target 0)",
            f"- interactive endpoints with p95 >= {INTERACTIVE_P95_S:g} s: "
            f"{', '.join(slow) or 'none'}",
            f"- memory growth, peak of the last vs the first window: {growth:+.1%} "
            f"(target < {MEMORY_GROWTH:.0%})"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--window", type=float, default=20.0,
                        help="seconds at the start and the end compared for memory growth")
    parser.add_argument("--checkpoints", type=Path,
                        help="serve these checkpoints instead of random + shipped digit ones")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hw3lab-load-") as temporary:
        work = Path(temporary)
        checkpoints = args.checkpoints or lab_checkpoints(work / "checkpoints")
        files = input_files(work)
        (work / "downloads").mkdir()
        with running_lab("--checkpoints", str(checkpoints), "--data", str(work / "no-data")) \
                as (url, log, pid):
            started_mb = rss_mb(pid)
            warm = Recorder()
            warm_client = Client(url, verbose=False, download_files=str(work / "downloads"))
            for call in CALLS:  # loads every model once, outside the timed run
                warm.call(warm_client, call, call.arguments(random.Random(0), files))
            warm_mb = rss_mb(pid)
            load_before = os.getloadavg()[0]
            recorder = Recorder()
            begin = time.monotonic()
            deadline = begin + args.seconds
            threads = [threading.Thread(target=client_loop, daemon=True, args=(
                url, files, work / "downloads", seed, deadline, recorder))
                for seed in range(args.clients)]
            for thread in threads:
                thread.start()
            samples: list[tuple[float, float]] = []
            while any(thread.is_alive() for thread in threads):
                samples.append((time.monotonic() - begin, rss_mb(pid)))
                time.sleep(0.5)
            elapsed = time.monotonic() - begin
            end_mb = rss_mb(pid)
            load_after = os.getloadavg()[0]
    window = min(args.window, args.seconds / 2)
    first = max(mb for t, mb in samples if t <= window)
    last = max(mb for t, mb in samples if t >= args.seconds - window)
    served = sum(len(s) for s in recorder.seconds.values())
    print(f"{args.clients} clients for {args.seconds:g} s (ran {elapsed:.0f} s): {served} "
          f"requests served ({served / elapsed:.1f}/s); load average {load_before:.1f} before, "
          f"{load_after:.1f} after; {os.cpu_count()} CPUs\n")
    print("\n".join(table(recorder)))
    print(f"\nresident memory (MB): {started_mb:.0f} at start, {warm_mb:.0f} after warm-up, "
          f"peak {first:.0f} in the first {window:g} s, peak {last:.0f} in the last {window:g} s,"
          f" {end_mb:.0f} at the end")
    print("\n".join(verdict(recorder, first, last)))
    failures = [f"{endpoint}: {errors[0]}" for endpoint, errors in
                {**warm.errors, **recorder.errors}.items()]
    if failures:
        print("\nfirst error per endpoint:\n" + "\n".join(failures))


if __name__ == "__main__":
    main()
