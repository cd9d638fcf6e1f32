"""A soak: thousands of requests with new seeds and new files, showing that the lab's disk and
memory level off (issue 12: a shared link serves a class for days).

Run from the repository root::

    nice -n 19 .venv/bin/python -m bench.soak [--requests 3000] [--seconds 1200] [--clients 4]
        [--output-mb 20] [--output-age 120] [--checkpoints DIR]

starts ``app.py`` on a free port of 127.0.0.1 (random small faces and the shipped digit
models, as bench/load.py; or ``--checkpoints``) with its output folder (Gradio's cache: every
picture, download and upload) in a folder of this bench, capped at ``--output-mb`` MB and
``--output-age`` seconds (small caps, so that a run of minutes reaches them; the lab's
defaults are in hw3lab/lab/served_files.py), pruned every 5 s. ``--clients`` users then call
endpoints that write files (GAN faces and grids with their PNG downloads, GIFs, batch CSVs,
VAE grids, reconstructions and verdicts of uploads, digit uploads), back to back, every
request with a new seed and every upload a new file, until ``--requests`` requests or
``--seconds`` seconds (each a :class:`bench.light_client.LightClient`, which downloads every
output file as a browser does). Every few seconds it records the output folder's files and size, the
number of entries in the server's system temporary folder (``TMPDIR``, a folder of this bench
that only the server uses, so others' files do not count) and the server's resident memory,
and prints them over time, then the totals at the start and the end.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.endpoints import (
    BY_NAME,
    cpu_seconds,
    lab_checkpoints,
    rss_mb,
)
from bench.light_client import LightClient
from hw3lab.data.examples import render_digits
from hw3lab.devtools.running_lab import running_lab

WRITERS = {  # endpoint: weight; each writes at least one file or takes an upload
    "/gan_face": 4, "/gan_grid": 2, "/gan_seeds": 1, "/gan_interpolate": 2, "/gan_judge": 2,
    "/vae_random": 2, "/vae_reconstruct": 2, "/vae_interpolate": 1, "/vae_decode": 2,
    "/digits_upload": 3, "/digits_sketch": 1, "/digits_batch": 1, "/gan_edit": 2,
}


def new_files(rng: random.Random, directory: Path) -> Path:
    """A face photo, a digit and a zip of digits no request has sent before."""
    directory.mkdir(parents=True)
    pixels = np.random.default_rng(rng.randrange(2**32))
    Image.fromarray(pixels.integers(0, 256, (rng.randrange(64, 160), rng.randrange(64, 160),
                                            3), np.uint8)).save(directory / "face.jpg")
    digits, _ = render_digits("usps", 3, seed=rng.randrange(2**31))
    noisy = np.clip(digits.astype(int) + pixels.integers(-20, 20, digits.shape), 0, 255)
    for i, digit in enumerate(noisy.astype(np.uint8)):
        Image.fromarray(digit).save(directory / f"{i}.png")
    (directory / "0.png").rename(directory / "digit.png")
    with zipfile.ZipFile(directory / "batch.zip", "w") as archive:
        for name in ("digit.png", "1.png", "2.png"):
            archive.write(directory / name, name)
    return directory


def folder_usage(folder: Path) -> tuple[int, int, int]:
    """(files, bytes, folders) under ``folder``."""
    files = size = folders = 0
    for directory, subdirectories, names in os.walk(folder):
        folders += len(subdirectories)
        for name in names:
            try:
                size += os.lstat(os.path.join(directory, name)).st_size
                files += 1
            except FileNotFoundError:
                pass
    return files, size, folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=1200.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--output-mb", type=float, default=20.0)
    parser.add_argument("--output-age", type=float, default=120.0)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--checkpoints", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hw3lab-soak-") as temporary:
        work = Path(temporary)
        system_temp = work / "tmp"  # the server's TMPDIR: tempfile.gettempdir() there
        system_temp.mkdir()
        checkpoints = args.checkpoints or lab_checkpoints(work / "checkpoints")
        outputs = work / "outputs"
        env = {"GRADIO_TEMP_DIR": str(outputs), "HW3LAB_OUTPUT_MB": str(args.output_mb),
               "HW3LAB_OUTPUT_AGE_S": str(args.output_age), "HW3LAB_OUTPUT_PRUNE_S": "5",
               "TMPDIR": str(system_temp)}
        with running_lab("--checkpoints", str(checkpoints), "--data", str(work / "no-data"),
                         timeout=900, env=env) as (url, log, pid):
            rng = random.Random(0)
            warm = LightClient(url)
            for endpoint in WRITERS:
                files = new_files(rng, work / "warm" / endpoint.strip("/"))
                warm.predict(*BY_NAME[endpoint].arguments(rng, files), api_name=endpoint)
            temp_before = set(os.listdir(system_temp))
            served, errors, lock = [0], [], threading.Lock()
            deadline = time.monotonic() + args.seconds

            def user(seed: int) -> None:
                mine = random.Random(seed)
                client = LightClient(url)
                names, weights = list(WRITERS), list(WRITERS.values())
                while time.monotonic() < deadline:
                    with lock:
                        if served[0] + len(errors) >= args.requests:
                            return
                        number = served[0] + len(errors)
                    endpoint = mine.choices(names, weights)[0]
                    files = new_files(mine, work / "sent" / f"{seed}-{number}")
                    try:
                        client.predict(*BY_NAME[endpoint].arguments(mine, files),
                                       api_name=endpoint)
                        with lock:
                            served[0] += 1
                    except Exception as failure:  # noqa: BLE001 - counted and shown
                        with lock:
                            errors.append(f"{endpoint}: {type(failure).__name__}: {failure}")
                    shutil.rmtree(files, ignore_errors=True)

            begin = time.monotonic()
            samples = [(0.0, 0, *folder_usage(outputs), len(os.listdir(system_temp)),
                        rss_mb(pid), cpu_seconds(pid))]
            threads = [threading.Thread(target=user, args=(seed,), daemon=True)
                       for seed in range(args.clients)]
            for thread in threads:
                thread.start()
            while any(thread.is_alive() for thread in threads):
                time.sleep(args.every)
                samples.append((time.monotonic() - begin, served[0], *folder_usage(outputs),
                                len(os.listdir(system_temp)), rss_mb(pid), cpu_seconds(pid)))
            time.sleep(8)  # one more pruning round after the last request
            samples.append((time.monotonic() - begin, served[0], *folder_usage(outputs),
                            len(os.listdir(system_temp)), rss_mb(pid), cpu_seconds(pid)))
            temp_after = set(os.listdir(system_temp))
            new_in_temp = sorted(temp_after - temp_before)
    print(f"soak: {served[0]} requests served, {len(errors)} errors, {args.clients} clients, "
          f"{samples[-1][0]:.0f} s; output folder capped at {args.output_mb:g} MB and "
          f"{args.output_age:g} s (files never deleted younger than 60 s)\n")
    print("| time (s) | requests | output files | output MB | output folders | entries in "
          "system temp | server RSS (MB) | server CPU (s) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    step = max(1, len(samples) // 15)
    for row in [*samples[:-1:step], samples[-1]]:
        t, n, files, size, folders, temp, rss, cpu = row
        print(f"| {t:.0f} | {n} | {files} | {size / 2**20:.1f} | {folders} | {temp} | "
              f"{rss:.0f} | {cpu:.0f} |")
    start, end = samples[0], samples[-1]
    half = [s for s in samples if s[1] >= served[0] / 2]
    print(f"\n- output folder: {start[2]} files / {start[3] / 2**20:.1f} MB after warm-up, "
          f"peak {max(s[3] for s in samples) / 2**20:.1f} MB, {end[2]} files / "
          f"{end[3] / 2**20:.1f} MB at the end")
    print(f"- server resident memory: {start[6]:.0f} MB after warm-up, "
          f"{half[0][6] if half else end[6]:.0f} MB half-way, {end[6]:.0f} MB at the end, "
          f"peak {max(s[6] for s in samples):.0f} MB")
    print(f"- entries in the system temp folder: {start[5]} at the start, {end[5]} at the end; "
          f"new since the start: {', '.join(new_in_temp) or 'none'}")
    if errors:
        print("\nfirst errors:\n" + "\n".join(errors[:5]))


if __name__ == "__main__":
    main()
