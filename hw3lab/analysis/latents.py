"""Directions in the VAE's latent space, and the derived file that lets the lab run without data.

Principal directions are those of largest variance of the test faces' latent means; an
attribute's direction is the mean latent of faces with it minus that of faces without it.
``vae_latents.safetensors`` (beside ``vae.safetensors``) stores the test faces' latent means,
log-variances and attributes plus both sets of directions: derived numbers, no images, so the
sliders and the t-SNE work where ``hw3_data`` is absent.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from hw3lab import cli
from hw3lab.checkpoints import CheckpointError, atomic_path, record_derived
from hw3lab.data.layout import FACE_ATTRIBUTES
from hw3lab.data.readers import Split, load_faces
from hw3lab.inference import DEFAULT_CHECKPOINTS, ModelStore

LATENTS_FILE = "vae_latents.safetensors"
ENCODE_BATCH = 256


@dataclass(frozen=True)
class VaeLatents:
    """Test faces' latent means (N, 128), log-variances (N, 128), attributes (N, 13) and the
    directions derived from them: ``principal`` (K, 128) unit vectors with ``principal_std``
    (K,) the spread of the means along each, and ``attribute`` (13, 128)."""

    mean: np.ndarray
    logvar: np.ndarray
    attributes: np.ndarray
    principal: np.ndarray
    principal_std: np.ndarray
    attribute: np.ndarray


def principal_directions(means: np.ndarray, count: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` unit directions of largest variance of ``means`` (N, D) and the standard
    deviation of the means along each."""
    means = np.asarray(means, dtype=np.float64)
    centred = means - means.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    count = min(count, vt.shape[0])
    std = singular[:count] / np.sqrt(max(len(means) - 1, 1))
    return vt[:count].astype(np.float32), std.astype(np.float32)


def attribute_directions(means: np.ndarray, attributes: np.ndarray) -> np.ndarray:
    """(A, D): for each attribute column, mean latent with it minus mean latent without it
    (zero where either group is empty)."""
    means = np.asarray(means, dtype=np.float64)
    present = np.asarray(attributes) > 0.5
    directions = np.zeros((present.shape[1], means.shape[1]), dtype=np.float32)
    for column in range(present.shape[1]):
        with_it, without = means[present[:, column]], means[~present[:, column]]
        if len(with_it) and len(without):
            directions[column] = with_it.mean(axis=0) - without.mean(axis=0)
    return directions


def derive(mean: np.ndarray, logvar: np.ndarray, attributes: np.ndarray,
           directions: int = 10) -> VaeLatents:
    """Bundle latents with the principal and attribute directions computed from them."""
    principal, std = principal_directions(mean, directions)
    return VaeLatents(np.asarray(mean, np.float32), np.asarray(logvar, np.float32),
                      np.asarray(attributes, np.float32), principal, std,
                      attribute_directions(mean, attributes))


def build_vae_latents(store: ModelStore, faces: Split, directions: int = 10) -> VaeLatents:
    """Encode every face of ``faces`` with the store's VAE and derive the directions."""
    parts = [store.encode_faces(faces.images[i:i + ENCODE_BATCH])
             for i in range(0, len(faces), ENCODE_BATCH)]
    mean = np.concatenate([p[0] for p in parts])
    logvar = np.concatenate([p[1] for p in parts])
    return derive(mean, logvar, faces.targets, directions)


def save_vae_latents(latents: VaeLatents, path: str | os.PathLike) -> Path:
    """Write ``latents`` as safetensors (atomically), attribute names in its header."""
    tensors = {name: torch.from_numpy(np.ascontiguousarray(getattr(latents, name)))
               for name in VaeLatents.__dataclass_fields__}
    with atomic_path(path) as temporary:
        save_file(tensors, str(temporary), metadata={"attributes": ",".join(FACE_ATTRIBUTES)})
    return Path(path)


def load_vae_latents(path: str | os.PathLike) -> VaeLatents:
    """Read a file written by :func:`save_vae_latents`; clear errors if missing or damaged."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"missing derived latents file {path}")
    try:
        tensors = load_file(str(path))
        latents = VaeLatents(**{name: tensors[name].float().numpy()
                                for name in VaeLatents.__dataclass_fields__})
    except (SafetensorError, OSError, KeyError, TypeError) as error:
        raise CheckpointError(f"{path} is damaged or not a latents file ({error})") from None
    n = len(latents.mean)
    if (latents.logvar.shape != latents.mean.shape or len(latents.attributes) != n
            or latents.attribute.shape != (len(FACE_ATTRIBUTES), latents.mean.shape[1])):
        raise CheckpointError(f"{path} holds arrays of inconsistent shapes")
    return latents


@cli.command
def main(argv: list[str] | None = None) -> None:
    """``python -m hw3lab.analysis.latents [--checkpoints DIR] [--data DIR]``: write the derived
    file beside the VAE checkpoint from the real test faces."""
    parser = cli.ArgumentParser(description=main.__doc__)
    parser.add_argument("--checkpoints", type=Path, default=DEFAULT_CHECKPOINTS)
    parser.add_argument("--data", help="hw3_data folder (default: $HW3_DATA, else ./hw3_data)")
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    latents = build_vae_latents(ModelStore(args.checkpoints, args.device),
                                load_faces("test", args.data))
    path = save_vae_latents(latents, args.checkpoints / LATENTS_FILE)
    record_derived(args.checkpoints, "vae_latents", path, {
        "family": "vae_latents", "derived_from": "vae.safetensors", "test_faces": len(latents.mean),
        "principal_directions": len(latents.principal)})
    print(f"wrote {path}: {len(latents.mean)} test faces, {len(latents.principal)} principal "
          f"and {len(latents.attribute)} attribute directions")


if __name__ == "__main__":
    sys.exit(main())
