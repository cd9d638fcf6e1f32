"""VAE: latent sliders, reconstruction, random generation and interpolation.

Sliders move a starting latent along the principal directions of the test faces' latent means
(in standard deviations) and along each attribute's direction (1 = the full difference between
faces with and without it). Both come from :mod:`hw3lab.analysis.latents`, so they work from
the derived file without any face images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hw3lab import limits
from hw3lab.data.images import ImageInputError, fit_face
from hw3lab.data.layout import FACE_ATTRIBUTES
from hw3lab.lab.context import LabContext
from hw3lab.lab.inputs import image_from_array, read_image_file, upload_paths
from hw3lab.lab.own_models import OWN_TITLE, own_faces
from hw3lab.lab.pictures import enlarge, pad_width, tile, titled_rows
from hw3lab.metrics import per_image_mse
from hw3lab.models.vae import LATENT_DIM

STARTS = ("random", "test face", "upload")
SLIDER_COUNT = limits.PRINCIPAL_DIRECTIONS + len(FACE_ATTRIBUTES)
RECONSTRUCTION_ROW = 10  # the homework's panel: 10 inputs over their 10 reconstructions


def start_latent(ctx: LabContext, kind: Any, number: Any, upload: Any) -> np.ndarray:
    """A starting latent (128,): a seeded random one, a test face's mean (encoded from the
    real image, hw3_data's or the shipped sample's; else the latents file's), or an upload's."""
    kind = limits.check_choice(kind, STARTS, "the starting face")
    ctx.require_family("vae")
    if kind == "random":
        seed = limits.SEED.check_int(number, "the seed")
        return np.random.default_rng(seed).standard_normal(LATENT_DIM).astype(np.float32)
    if kind == "test face":
        faces = ctx.real_images("face")
        count = len(faces) if faces is not None else len(ctx.latents().mean)
        index = limits.Range(0, count - 1, 0).check_int(number, "the test face number")
        if faces is None:
            return ctx.latents().mean[index]
        return ctx.store.encode_faces(faces.images[index:index + 1])[0][0]
    if upload is None:
        raise ImageInputError("no face uploaded: choose an image file first")
    face = fit_face(read_image_file(upload))
    return ctx.store.encode_faces(face[None])[0][0]


def slid_latent(ctx: LabContext, base: Any, values: tuple[Any, ...]) -> np.ndarray:
    """``base`` (or the mean test latent if None) moved by every slider's value."""
    if len(values) != SLIDER_COUNT:
        raise limits.LimitError(f"expected {SLIDER_COUNT} slider values; got {len(values)}")
    numbers = np.array([limits.SLIDER.check(v, "a slider") for v in values], np.float32)
    latents = ctx.latents()
    z = latents.mean.mean(axis=0) if base is None else np.asarray(base, np.float32)
    if z.shape != (LATENT_DIM,) or not np.isfinite(z).all():
        raise limits.LimitError(f"the starting latent must be {LATENT_DIM} finite numbers")
    principal = numbers[:limits.PRINCIPAL_DIRECTIONS]
    attribute = numbers[limits.PRINCIPAL_DIRECTIONS:]
    count = len(latents.principal)
    z = z + (principal[:count] * latents.principal_std) @ latents.principal
    return z + attribute @ latents.attribute


def decode_sliders(ctx: LabContext, base: Any, *values: Any) -> np.ndarray:
    """The face of the slid latent, enlarged for display: the slider callback."""
    ctx.require_family("vae")
    return enlarge(ctx.store.decode_latents(slid_latent(ctx, base, values)[None])[0], 4)


def start_face(ctx: LabContext, kind: Any, number: Any,
               upload: Any) -> tuple[list[float], np.ndarray]:
    """A new starting latent (kept in the session) and its face, sliders back at zero."""
    z = start_latent(ctx, kind, number, upload)
    return z.tolist(), enlarge(ctx.store.decode_latents(z[None])[0], 4)


def reconstruct(ctx: LabContext, files: Any, webcam: Any, test_count: Any,
                own: Any = None) -> tuple[np.ndarray, list[list[Any]]]:
    """Inputs over reconstructions (rows of 10, like the homework's panel) and each image's MSE;
    with the session's own VAE (token ``own``), its reconstructions of the same faces in a
    third row and its MSE in a third column ('-' without one).

    Faces come from uploads (any photo, centre-cropped to 64x64), a webcam frame and the first
    ``test_count`` test faces."""
    ctx.require_family("vae")
    mine = own_faces(ctx, own, "vae")
    test_count = limits.Range(0, limits.MAX_UPLOAD_FILES, 0).check_int(test_count,
                                                                       "the test face count")
    faces, names = [], []
    if files:
        for path in upload_paths(files, limits.MAX_UPLOAD_FILES):
            faces.append(fit_face(read_image_file(path)))
            names.append(Path(path).name)
    if webcam is not None:
        faces.append(fit_face(image_from_array(webcam, "the webcam picture")))
        names.append("webcam")
    if test_count:
        split = ctx.real_images("face")
        if split is None:
            raise ImageInputError("test faces need hw3_data (start the lab with --data); "
                                  "upload faces instead")
        faces.extend(split.images[:test_count])
        names.extend(split.names[:test_count])
    if not faces:
        raise ImageInputError("no faces: upload some, take a webcam picture or pick test faces")
    if len(faces) > limits.MAX_UPLOAD_FILES:
        raise limits.LimitError(f"at most {limits.MAX_UPLOAD_FILES} faces at once")
    images = np.stack(faces)
    rebuilt = [_reconstructed(ctx, images)]
    if mine is not None:
        rebuilt.append(_reconstructed(ctx, images, mine))
    errors = [per_image_mse(images, r) for r in rebuilt]
    rows = []
    for start in range(0, len(images), RECONSTRUCTION_ROW):
        chunk = slice(start, start + RECONSTRUCTION_ROW)
        rows.append(tile(np.concatenate([images[chunk], *(r[chunk] for r in rebuilt)]),
                         len(images[chunk])))
    panel = np.concatenate([pad_width(r, max(r.shape[1] for r in rows)) for r in rows])
    mine_errors = errors[1] if mine is not None else [None] * len(images)
    table = [[name, f"{error:.5f}", _mse(own_error)]
             for name, error, own_error in zip(names, errors[0], mine_errors, strict=True)]
    table.append(["mean", f"{errors[0].mean():.5f}",
                  _mse(errors[1].mean() if mine is not None else None)])
    return enlarge(panel, 2), table


RECONSTRUCTION_HEADERS = ["image", "MSE", f"{OWN_TITLE} MSE"]


def _reconstructed(ctx: LabContext, images: np.ndarray, vae: Any = None) -> np.ndarray:
    means, _ = ctx.store.encode_faces(images, vae)
    return ctx.store.decode_latents(means, vae)


def _mse(error: float | None) -> str:
    return "-" if error is None else f"{error:.5f}"


def random_faces(ctx: LabContext, seed: Any, count: Any, own: Any = None) -> np.ndarray:
    """``count`` faces decoded from standard normal latents drawn with ``seed``: the same seed
    gives the same grid (the homework's figure is 32 faces); with the session's own VAE, its
    faces of the same latents under the shipped model's."""
    seed = limits.SEED.check_int(seed, "the seed")
    count = limits.VAE_GRID.check_int(count, "the number of faces")
    ctx.require_family("vae")
    mine = own_faces(ctx, own, "vae")
    z = np.random.default_rng(seed).standard_normal((count, LATENT_DIM)).astype(np.float32)
    shipped = tile(ctx.store.decode_latents(z), 8, scale=2)
    if mine is None:
        return shipped
    # an exported VAE may have another latent size: its own draw of the same seed then
    size = getattr(mine.second, "latent_dim", LATENT_DIM)
    own_z = z if size == LATENT_DIM else \
        np.random.default_rng(seed).standard_normal((count, size)).astype(np.float32)
    return titled_rows([("shipped VAE", shipped),
                        (OWN_TITLE, tile(ctx.store.decode_latents(own_z, mine), 8, scale=2))])


def interpolate(ctx: LabContext, kind_a: Any, number_a: Any, upload_a: Any, kind_b: Any,
                number_b: Any, upload_b: Any, frames: Any) -> np.ndarray:
    """A strip of faces decoded along the straight line between two starting latents."""
    frames = limits.INTERPOLATION_FRAMES.check_int(frames, "the number of frames")
    a = start_latent(ctx, kind_a, number_a, upload_a)
    b = start_latent(ctx, kind_b, number_b, upload_b)
    steps = np.linspace(0.0, 1.0, frames, dtype=np.float32)[:, None]
    return tile(ctx.store.decode_latents((1 - steps) * a + steps * b), frames, scale=2)


def slider_labels() -> list[str]:
    """The sliders' names, in the order :func:`slid_latent` reads their values."""
    principal = [f"Principal direction {i + 1}" for i in range(limits.PRINCIPAL_DIRECTIONS)]
    return principal + list(FACE_ATTRIBUTES)
