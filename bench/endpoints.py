"""Every API endpoint of the lab with arguments for a random draw, shared by the benches that
drive a running lab (bench/load.py, bench/cpu_per_request.py, bench/soak.py).

An endpoint's ``arguments(rng, files)`` draws new seeds and settings each call, the way a
student moves a slider or picks a seed; ``files`` is the folder :func:`input_files` wrote.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gradio_client import handle_file
from PIL import Image

from hw3lab.checkpoints import record_in_manifest
from hw3lab.data.examples import render_digits
from hw3lab.data.layout import FACE_ATTRIBUTES
from hw3lab.devtools.random_checkpoints import make_checkpoints
from hw3lab.inference import DEFAULT_CHECKPOINTS
from hw3lab.lab.vae import SLIDER_COUNT

TASK = "usps->mnistm"
# gradio_client's own timeouts (20 s for the page's config) fail a client of a server whose
# cores are busy with trainings: the benches wait, and count only the lab's own errors.
SLOW_SERVER = {"timeout": 600}
Arguments = Callable[[random.Random, Path], tuple]
# What a browser sends for a drawing: the composite is the picture the models see.


def _sketch(files: Path) -> dict:
    return {"background": None, "layers": [], "composite": handle_file(files / "digit.png")}


def _sliders(rng: random.Random, count: int) -> tuple:
    return tuple(round(rng.uniform(-3, 3), 2) for _ in range(count))


@dataclass(frozen=True)
class Endpoint:
    """One named API endpoint: ``kind`` is 'interactive' (a student waits for it, target
    under a second) or 'heavy' (t-SNE, batch labelling: seconds of CPU, its own pool)."""

    name: str
    kind: str
    arguments: Arguments
    needs_data: bool = False


ENDPOINTS = [
    Endpoint("/vae_decode", "interactive", lambda r, f: _sliders(r, SLIDER_COUNT)),
    Endpoint("/vae_start", "interactive", lambda r, f: ("random", r.randrange(10**6), None)),
    Endpoint("/vae_reconstruct", "interactive",
             lambda r, f: ([handle_file(f / "face.jpg")], None, 0)),
    Endpoint("/vae_random", "interactive", lambda r, f: (r.randrange(10**6), 32)),
    Endpoint("/vae_interpolate", "interactive",
             lambda r, f: ("random", r.randrange(10**6), None, "random", r.randrange(10**6),
                           None, 8)),
    Endpoint("/gan_face", "interactive", lambda r, f: (r.randrange(10**6),)),
    Endpoint("/gan_random", "interactive", lambda r, f: ()),
    Endpoint("/gan_edit", "interactive",
             lambda r, f: (r.randrange(10**6), *_sliders(r, len(FACE_ATTRIBUTES)))),
    Endpoint("/gan_grid", "interactive", lambda r, f: (r.randrange(10**6), 32)),
    Endpoint("/gan_seeds", "interactive",
             lambda r, f: (", ".join(str(r.randrange(10**6)) for _ in range(8)),)),
    Endpoint("/gan_interpolate", "interactive",
             lambda r, f: (r.randrange(10**6), r.randrange(10**6), 8)),
    Endpoint("/gan_judge", "interactive", lambda r, f: (handle_file(f / "face.jpg"),)),
    Endpoint("/digits_example", "interactive", lambda r, f: (TASK, r.randrange(12))),
    Endpoint("/digits_upload", "interactive", lambda r, f: (TASK, [handle_file(f / "digit.png")])),
    Endpoint("/digits_sketch", "interactive", lambda r, f: (TASK, _sketch(f))),
    Endpoint("/digits_styles", "interactive", lambda r, f: (TASK, _sketch(f))),
    Endpoint("/digits_accuracy", "interactive", lambda r, f: ()),
    Endpoint("/accuracy_table", "interactive", lambda r, f: ()),
    Endpoint("/model_cards", "interactive", lambda r, f: ()),
    Endpoint("/model_card", "interactive", lambda r, f: ("digits/usps-mnistm-dann",)),
    Endpoint("/model_curves", "interactive", lambda r, f: ("gan",)),
    # t-SNE at the default setting (the view every student opens first) and at new settings
    Endpoint("/tsne_run", "heavy",
             lambda r, f: (f"{TASK} {r.choice(['dann', 'source_only', 'adda'])}",
                           r.randrange(100, 200), r.choice([20, 30]), "class")),
    Endpoint("/vae_tsne_run", "heavy",
             lambda r, f: ("VAE latents", r.randrange(100, 200), r.choice([20, 30]), "Smiling")),
    Endpoint("/digits_tsne", "heavy", lambda r, f: (TASK, r.randrange(60, 200))),
    Endpoint("/digits_batch", "heavy",
             lambda r, f: (TASK, r.choice(["dann", "adda"]), [handle_file(f / "batch.zip")])),
    Endpoint("/digits_recompute", "heavy", lambda r, f: (TASK,), needs_data=True),
]
BY_NAME = {endpoint.name: endpoint for endpoint in ENDPOINTS}


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
    """What the simulated students upload: a digit, a face photo and a zip of 20 digits."""
    import zipfile

    digits, _ = render_digits("usps", 20)
    Image.fromarray(digits[0]).save(directory / "digit.png")
    Image.new("RGB", (120, 150), (190, 140, 110)).save(directory / "face.jpg")
    with zipfile.ZipFile(directory / "batch.zip", "w") as archive:
        for i, digit in enumerate(digits):
            Image.fromarray(digit).save(directory / f"batch{i}.png")
            archive.write(directory / f"batch{i}.png", f"digits/{i}.png")
    return directory


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (all its threads), from /proc."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")
