"""GAN: a seed gives one face, attribute sliders move it along directions in the noise space,
a base seed gives a grid (the homework's 32 faces), two seeds an interpolation (a strip and an
animated GIF); the discriminator scores every image and uploads.

Seeds are shareable: the grid's seed list can be copied, and ``?seeds=1,2,3`` in the URL opens
the lab on those faces.
"""

from __future__ import annotations

import io
import random
from typing import Any

import numpy as np
from PIL import Image

from hw3lab import limits
from hw3lab.data.images import ImageInputError, fit_face
from hw3lab.data.layout import FACE_ATTRIBUTES
from hw3lab.inference import gan_noise
from hw3lab.lab.context import LabContext
from hw3lab.lab.inputs import read_image_file
from hw3lab.lab.own_models import OWN_TITLE, own_faces
from hw3lab.lab.pictures import enlarge, tile, titled_rows, with_captions

GRID_COLUMNS = 8


def _scored(ctx: LabContext, seeds: list[int], own: Any = None) -> np.ndarray:
    """Faces of ``seeds`` with 'seed s: realness' under each, as one grid image; with the
    session's own GAN (token ``own``), its faces of the same seeds (scored by its own
    discriminator) under the shipped model's."""
    ctx.require_family("gan")
    mine = own_faces(ctx, own, "gan")
    shipped = _scored_grid(ctx, seeds)
    if mine is None:
        return shipped
    return titled_rows([("shipped GAN", shipped), (OWN_TITLE, _scored_grid(ctx, seeds, mine))])


def _scored_grid(ctx: LabContext, seeds: list[int], model: Any = None) -> np.ndarray:
    """One model's faces of ``seeds``, each scored by its own discriminator."""
    faces = ctx.store.generate_faces(seeds, model)
    scores = ctx.store.realness(faces, model)
    captions = [score_caption(s, p) for s, p in zip(seeds, scores, strict=True)]
    return tile(with_captions(faces, captions), min(GRID_COLUMNS, len(seeds)))


def score_caption(seed: int, score: float) -> str:
    """'seed: realness', or the seed alone for a GAN without a discriminator (exported)."""
    return f"{seed}" if np.isnan(score) else f"{seed}: {score:.2f}"


def face(ctx: LabContext, seed: Any, own: Any = None) -> str:
    """One face for ``seed`` (with its realness under it; the session's own GAN's face of the
    same seed under it), as a PNG named after the seed, which the image's own download button
    saves."""
    seed = limits.SEED.check_int(seed, "the seed")
    return _png(ctx, _scored(ctx, [seed], own), f"gan-seed-{seed}.png")


def random_face(ctx: LabContext, own: Any = None) -> tuple[int, str]:
    """A face for a fresh random seed, and that seed (so it can be shared)."""
    seed = random.randrange(int(limits.SEED.high) + 1)
    return seed, face(ctx, seed, own)


def grid(ctx: LabContext, base_seed: Any, count: Any, own: Any = None) -> tuple[str, str]:
    """Faces for seeds base..base+count-1 with their realness (a PNG), and the copyable seed
    list."""
    base_seed = limits.SEED.check_int(base_seed, "the base seed")
    count = limits.GAN_GRID.check_int(count, "the number of faces")
    seeds = [(base_seed + i) % (int(limits.SEED.high) + 1) for i in range(count)]
    return _seed_grid(ctx, seeds, f"gan-grid-{base_seed}-{count}.png", own)


def from_seed_list(ctx: LabContext, text: Any, own: Any = None) -> tuple[str, str]:
    """The faces of a shared seed list ('1, 2, 3')."""
    return _seed_grid(ctx, limits.parse_seed_list(text), "gan-seeds.png", own)


def _seed_grid(ctx: LabContext, seeds: list[int], name: str, own: Any = None) -> tuple[str, str]:
    return _png(ctx, _scored(ctx, seeds, own), name), ", ".join(map(str, seeds))


def _png(ctx: LabContext, image: np.ndarray, name: str) -> str:
    """``image`` written once to the lab's output folder. Shown from that file, it is also the
    download: a separate download widget cost the server a second output per request (6 ms of
    its 46 for a face, bench/cpu_per_request.py)."""
    return str(ctx.outputs.write_png(image, name))


def interpolate(ctx: LabContext, seed_a: Any, seed_b: Any, frames: Any) -> tuple[np.ndarray, str]:
    """Faces along the line between two seeds' noise vectors: a strip and an animated GIF."""
    seed_a = limits.SEED.check_int(seed_a, "the first seed")
    seed_b = limits.SEED.check_int(seed_b, "the second seed")
    frames = limits.INTERPOLATION_FRAMES.check_int(frames, "the number of frames")
    ctx.require_family("gan")
    noise = gan_noise([seed_a, seed_b], ctx.store.noise_size()).numpy()
    steps = np.linspace(0.0, 1.0, frames, dtype=np.float32)[:, None]
    faces = ctx.store.generate_faces_from_noise((1 - steps) * noise[0] + steps * noise[1])
    scores = ctx.store.realness(faces)
    strip = tile(with_captions(faces, ["" if np.isnan(p) else f"{p:.2f}" for p in scores]),
                 frames)
    pictures = [Image.fromarray(enlarge(f, 4)) for f in faces]
    loop = pictures + pictures[-2:0:-1]  # there and back
    gif = io.BytesIO()
    loop[0].save(gif, format="GIF", save_all=True, append_images=loop[1:], duration=120, loop=0)
    return strip, str(ctx.outputs.write(f"gan-{seed_a}-to-{seed_b}.gif", gif.getvalue()))


def edit_face(ctx: LabContext, seed: Any, *values: Any) -> tuple[np.ndarray, dict[str, float]]:
    """The face of ``seed`` moved along each attribute direction by its slider's value (in
    standard deviations of the noise), and what the attribute classifier sees in it."""
    seed = limits.SEED.check_int(seed, "the seed")
    if len(values) != len(FACE_ATTRIBUTES):
        raise limits.LimitError(f"expected {len(FACE_ATTRIBUTES)} slider values; "
                                f"got {len(values)}")
    amounts = np.array([limits.SLIDER.check(v, "a slider") for v in values], np.float32)
    noise = gan_noise([seed]).numpy() + amounts @ ctx.gan_directions()
    image = ctx.store.generate_faces_from_noise(noise)
    probabilities = ctx.store.face_attributes(image)[0]
    return enlarge(image[0], 4), {name.replace("_", " "): float(p) for name, p
                                  in zip(FACE_ATTRIBUTES, probabilities, strict=True)}


def judge(ctx: LabContext, upload: Any, own: Any = None) -> tuple[np.ndarray, str]:
    """The discriminator's realness of an uploaded face (centre-cropped to 64x64), and the
    session's own GAN's discriminator's."""
    if upload is None:
        raise ImageInputError("no face uploaded: choose an image file first")
    ctx.require_family("gan")
    mine = own_faces(ctx, own, "gan")
    image = fit_face(read_image_file(upload))
    score = float(ctx.store.realness(image[None])[0])
    verdict = (f"The discriminator says **{score:.2f}** (1 = real, 0 = generated)."
               if not np.isnan(score) else "This GAN has no discriminator (an exported one).")
    if mine is not None:
        own_score = float(ctx.store.realness(image[None], mine)[0])
        verdict += (f" The discriminator of {OWN_TITLE} says **{own_score:.2f}**."
                    if not np.isnan(own_score) else f" {OWN_TITLE} has no discriminator.")
    return enlarge(image, 4), verdict


def shared_seeds(ctx: LabContext, query: dict[str, str]) -> tuple[str, str] | None:
    """The grid of the ``seeds`` (or ``seed``) URL parameter, or None without one."""
    text = str(query.get("seeds") or query.get("seed") or "")[:1000]
    return from_seed_list(ctx, text) if text else None
