"""Latency of the lab's interactive paths on this machine, against the issue's targets.

``python -m bench.latency [--calls N]`` prints a Markdown table: model time measured in-process
(p50 and p95 over many calls) for a VAE slider update at the homework's full width (through the
lab's own callback, with the straightforward decode beside it), one GAN face, a GAN attribute
slider update (the face and its 13 predicted attributes) and a 32-face grid (full width), the
four digit models on one image, t-SNE of 2,000 points from a cold cache, and ``python app.py``
serving its first page. Models are random-initialised: latency does not depend on the weights'
values. Shipped checkpoints, where present, are not touched.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from hw3lab.analysis.tsne import tsne_2d
from hw3lab.data.layout import FACE_ATTRIBUTES
from hw3lab.devtools.random_checkpoints import make_checkpoints
from hw3lab.devtools.running_lab import running_lab
from hw3lab.lab import LabContext, digits, gan, vae
from hw3lab.runtime import SERVING_THREADS, set_cpu_threads


def timings(call: Callable[[int], object], calls: int, warmup: int = 3) -> list[float]:
    """Seconds per call of ``call(i)`` over ``calls`` calls, after ``warmup`` untimed ones."""
    for i in range(warmup):
        call(i)
    seconds = []
    for i in range(calls):
        start = time.perf_counter()
        call(i)
        seconds.append(time.perf_counter() - start)
    return seconds


def row(name: str, target_ms: float | None, seconds: list[float]) -> str:
    """A table row; ``target_ms`` None marks a reference measurement with no target."""
    ms = sorted(s * 1000 for s in seconds)
    p50 = statistics.median(ms)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    if target_ms is None:
        return f"| {name} | reference | {p50:.1f} | {p95:.1f} | {len(ms)} | - |"
    verdict = "yes" if p95 < target_ms else ("p50 only" if p50 < target_ms else "no")
    return f"| {name} | < {target_ms:g} | {p50:.1f} | {p95:.1f} | {len(ms)} | {verdict} |"


def full_width_lab(directory: Path) -> LabContext:
    """A lab over full-width (width 1.0) random VAE and GAN checkpoints and usps->mnistm."""
    make_checkpoints(directory, width=1.0)
    return LabContext(directory, directory / "no-data")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100, help="timed calls per fast path")
    parser.add_argument("--slow-calls", type=int, default=20,
                        help="timed calls for the grid and the plain decode")
    parser.add_argument("--starts", type=int, default=3, help="app starts and t-SNE runs")
    args = parser.parse_args()
    threads = set_cpu_threads(SERVING_THREADS)  # as the lab serves
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        ctx = full_width_lab(Path(temporary))
        base = vae.start_latent(ctx, "random", 0, None)
        sliders = np.zeros(vae.SLIDER_COUNT)

        def slide(i: int) -> None:
            sliders[i % vae.SLIDER_COUNT] = (i % 7 - 3) / 2  # a different face every call
            vae.decode_sliders(ctx, base, *sliders)

        rows.append(row("VAE slider update (full width, lab callback)", 50,
                        timings(slide, args.calls)))
        _, decoder, _ = ctx.store.vae()
        z = torch.randn(1, 128)
        with torch.inference_mode():
            rows.append(row("VAE decode, plain model (what folding saves)", None,
                            timings(lambda i: decoder(z), args.slow_calls)))
        rows.append(row("GAN: one face (full width)", 10,
                        timings(lambda i: ctx.store.generate_faces([i]), args.calls)))
        attribute_sliders = np.zeros(len(FACE_ATTRIBUTES))

        def edit(i: int) -> None:
            attribute_sliders[i % len(attribute_sliders)] = (i % 7 - 3) / 2
            gan.edit_face(ctx, 0, *attribute_sliders)

        rows.append(row("GAN attribute slider update (face + 13 attributes, lab callback)", 50,
                        timings(edit, args.calls)))
        rows.append(row("GAN: 32-face grid (full width)", 250,
                        timings(lambda i: ctx.store.generate_faces(list(range(i, i + 32))),
                                args.slow_calls)))
        images, _ = digits.digit_samples(ctx, "mnistm", 64)
        rows.append(row("Four digit models, one image", 20, timings(
            lambda i: digits.predict_all(ctx, "usps", "mnistm", images[i % 64:i % 64 + 1]),
            args.calls)))
        rng = np.random.default_rng(0)
        rows.append(row("t-SNE, 2,000 points, cold cache", 5000, timings(
            lambda i: tsne_2d(rng.standard_normal((2000, 128)).astype(np.float32)),
            args.starts, warmup=0)))
        starts = []
        for _ in range(args.starts):
            start = time.perf_counter()
            with running_lab("--checkpoints", temporary):
                starts.append(time.perf_counter() - start)
        rows.append(row("python app.py: first page served", 10_000, starts))
    print(f"torch {torch.__version__}, {threads} intra-op thread(s) as the lab serves; "
          "times in ms\n")
    print("| path | target | p50 | p95 | calls | p95 under target |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
