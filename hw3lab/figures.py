"""python -m hw3lab.figures --out DIR: the homework's figures from the checkpoints.

VAE: 32 random faces (8x4 grid, fixed seed), the 10-image reconstruction panel with per-image
MSE, and a t-SNE of test latents coloured by an attribute. GAN: 32 random faces and the
attribute-slider strips (a seed moved along each attribute direction). Digits: t-SNE of every
registered method's features coloured by class and by domain, for each task (the unadapted
bounds show what adaptation changes). A figure whose checkpoint or data is missing is skipped
with a message saying so; the others are still made.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from hw3lab import cli  # noqa: E402
from hw3lab.analysis.gan_directions import DIRECTIONS_FILE, load_directions  # noqa: E402
from hw3lab.analysis.tsne import tsne_2d  # noqa: E402
from hw3lab.checkpoints import CheckpointError, atomic_path  # noqa: E402
from hw3lab.data import FACE_ATTRIBUTES, DataLayoutError, load_digits, load_faces  # noqa: E402
from hw3lab.data.layout import resolve_data_root  # noqa: E402
from hw3lab.errors import UserInputError  # noqa: E402
from hw3lab.inference import (  # noqa: E402
    DEFAULT_CHECKPOINTS,
    ModelStore,
    digit_methods,
    gan_noise,
)
from hw3lab.methods import METHODS, TASKS, task_name, title  # noqa: E402
from hw3lab.metrics import per_image_mse  # noqa: E402
from hw3lab.models.vae import LATENT_DIM  # noqa: E402
from hw3lab.plots import draw_by_label  # noqa: E402

GRID = (4, 8)  # rows, columns: 32 faces
STRIP_ATTRIBUTES = ("Smiling", "Male", "Blond_Hair", "Black_Hair", "Bangs", "Heavy_Makeup",
                    "Mouth_Slightly_Open")
STRIP_STEPS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
RECONSTRUCTIONS = 10


def save_figure(figure: plt.Figure, path: Path) -> Path:
    """Write a PNG atomically and close the figure."""
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


def face_grid(images: np.ndarray, title: str) -> plt.Figure:
    rows, columns = GRID
    figure, axes = plt.subplots(rows, columns, figsize=(columns, rows + 0.4))
    for axis, image in zip(axes.flat, images, strict=True):
        axis.imshow(image)
        axis.axis("off")
    figure.suptitle(title)
    return figure


def vae_random(store: ModelStore, out: Path, seed: int) -> Path:
    decoder = store.vae()[1]  # an exported one may have another latent size
    latents = torch.randn(GRID[0] * GRID[1], getattr(decoder, "latent_dim", LATENT_DIM),
                          generator=torch.Generator().manual_seed(seed)).numpy()
    return save_figure(face_grid(store.decode_latents(latents), f"VAE: 32 random faces "
                                 f"(seed {seed})"), out / "vae_random.png")


def gan_random(store: ModelStore, out: Path, seed: int) -> Path:
    seeds = list(range(seed, seed + GRID[0] * GRID[1]))
    return save_figure(face_grid(store.generate_faces(seeds), f"GAN: 32 random faces "
                                 f"(seeds {seeds[0]}-{seeds[-1]})"), out / "gan_random.png")


def vae_reconstructions(store: ModelStore, faces: np.ndarray, out: Path) -> Path:
    originals = faces[:RECONSTRUCTIONS]
    mean, _ = store.encode_faces(originals)
    rebuilt = store.decode_latents(mean)
    errors = per_image_mse(originals, rebuilt)
    figure, axes = plt.subplots(2, len(originals), figsize=(len(originals) * 1.2, 2.8))
    for i, (original, image, error) in enumerate(zip(originals, rebuilt, errors, strict=True)):
        axes[0, i].imshow(original)
        axes[1, i].imshow(image)
        axes[1, i].set_title(f"MSE {error:.4f}", fontsize=7)
        axes[0, i].axis("off")
        axes[1, i].axis("off")
    figure.suptitle(f"VAE reconstructions (top: test images); mean MSE {errors.mean():.4f}")
    return save_figure(figure, out / "vae_reconstruction.png")


def scatter(axis: plt.Axes, points: np.ndarray, labels: np.ndarray, names: list[str],
            title: str) -> None:
    draw_by_label(axis, points, labels, names, marker_size=3)
    axis.set_title(title)
    axis.legend(markerscale=4, fontsize=7)


def vae_tsne(store: ModelStore, faces: np.ndarray, attributes: np.ndarray, attribute: str,
             out: Path, seed: int) -> Path:
    mean, _ = store.encode_faces(faces)
    points = tsne_2d(mean, seed=seed)
    column = FACE_ATTRIBUTES.index(attribute)
    figure, axis = plt.subplots(figsize=(6, 6))
    scatter(axis, points, attributes[:, column].astype(int), [f"not {attribute}", attribute],
            f"t-SNE of VAE latents (test faces) by {attribute}")
    return save_figure(figure, out / "vae_tsne.png")


def gan_attribute_strips(store: ModelStore, directions: np.ndarray, out: Path, seed: int,
                         attributes: tuple[str, ...] = STRIP_ATTRIBUTES,
                         steps: tuple[float, ...] = STRIP_STEPS) -> Path:
    """One row per attribute: a seed's GAN face moved along that attribute's direction, each
    face captioned with the attribute classifier's probability of that attribute."""
    noise = gan_noise([seed]).numpy()[0]
    figure, axes = plt.subplots(len(attributes), len(steps),
                                figsize=(len(steps) * 1.1, len(attributes) * 1.25))
    for row, attribute in enumerate(attributes):
        column = FACE_ATTRIBUTES.index(attribute)
        moved = noise + np.array(steps, np.float32)[:, None] * directions[column]
        faces = store.generate_faces_from_noise(moved)
        probabilities = store.face_attributes(faces)[:, column]
        for axis, face, step, p in zip(axes[row], faces, steps, probabilities, strict=True):
            axis.imshow(face)
            axis.set_xticks([])
            axis.set_yticks([])
            axis.set_title(f"{step:+g}: p={p:.2f}", fontsize=7)
        axes[row, 0].set_ylabel(attribute.replace("_", " "), fontsize=8)
    figure.suptitle(f"GAN attribute sliders (seed {seed}; step in noise std, p = classifier's "
                    "probability)", fontsize=9)
    return save_figure(figure, out / "gan_attribute_strips.png")


def digit_tsne(store: ModelStore, source: str, target: str, method: str, data: Path,
               out: Path, count: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    features, labels, domains = [], [], []
    for index, domain in enumerate((source, target)):
        split = load_digits(domain, "test", data)
        chosen = rng.choice(len(split), size=min(count, len(split)), replace=False)
        features.append(store.digit_features(split.images[chosen], source, target, method))
        labels.append(split.targets[chosen])
        domains.append(np.full(len(chosen), index))
    points = tsne_2d(np.concatenate(features), seed=seed)
    figure, axes = plt.subplots(1, 2, figsize=(12, 6))
    scatter(axes[0], points, np.concatenate(labels), [str(d) for d in range(10)], "by class")
    scatter(axes[1], points, np.concatenate(domains), [f"{source} (source)",
                                                      f"{target} (target)"], "by domain")
    figure.suptitle(f"t-SNE of {title(method)} features, {source} -> {target} (test images)")
    return save_figure(figure, out / f"tsne_{task_name(source, target)}_{method}.png")


def make_figures(out: str | os.PathLike, checkpoints: str | os.PathLike = DEFAULT_CHECKPOINTS,
                 data: str | os.PathLike | None = None, seed: int = 0, attribute: str = "Male",
                 digit_count: int = 1000, device: str | None = None) -> tuple[list[Path],
                                                                              list[str]]:
    """Write every figure that the checkpoints and data allow; return (written, skipped)."""
    out = Path(out)
    store = ModelStore(checkpoints, device)
    root = resolve_data_root(data)
    written: list[Path] = []
    skipped: list[str] = []

    def attempt(what: str, make) -> None:  # noqa: ANN001
        try:
            written.append(make())
        except (CheckpointError, DataLayoutError) as error:
            skipped.append(f"{what}: {error}")

    def faces() -> tuple[np.ndarray, np.ndarray]:
        split = load_faces("test", root)
        return split.images, split.targets

    attempt("VAE random faces", lambda: vae_random(store, out, seed))
    attempt("GAN random faces", lambda: gan_random(store, out, seed))
    attempt("VAE reconstructions", lambda: vae_reconstructions(store, faces()[0], out))
    attempt("VAE t-SNE", lambda: vae_tsne(store, *faces(), attribute, out, seed))
    attempt("GAN attribute strips", lambda: gan_attribute_strips(
        store, load_directions(Path(checkpoints) / DIRECTIONS_FILE), out, seed))
    for source, target in TASKS:
        # the registered methods, then any other in the folder (a student's own, imported)
        for method in dict.fromkeys([*METHODS, *digit_methods(Path(checkpoints), source,
                                                              target)]):
            attempt(f"{method} t-SNE {source}->{target}",
                    lambda s=source, t=target, m=method: digit_tsne(store, s, t, m, root, out,
                                                                    digit_count, seed))
    return written, skipped


@cli.command
def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(description="Write the homework's figures.")
    parser.add_argument("--out", required=True, help="folder for the PNG files")
    parser.add_argument("--checkpoints", default=str(DEFAULT_CHECKPOINTS))
    parser.add_argument("--data", help="hw3_data folder (default: $HW3_DATA, else ./hw3_data)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--attribute", default="Male", choices=FACE_ATTRIBUTES,
                        help="face attribute that colours the VAE t-SNE")
    parser.add_argument("--digit-count", type=int, default=1000,
                        help="test images per domain in each digit t-SNE")
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    written, skipped = make_figures(args.out, args.checkpoints, args.data, args.seed,
                                    args.attribute, args.digit_count, args.device)
    if not written:
        raise UserInputError(f"no figure could be made; {len(skipped)} skipped, e.g. "
                             f"{skipped[0]}")
    for path in written:
        print(f"wrote {path}")
    for reason in skipped:
        print(f"skipped {reason}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
