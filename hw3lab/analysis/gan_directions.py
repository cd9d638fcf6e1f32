"""Attribute directions in the GAN's noise space, as InterFaceGAN finds them (Shen et al. 2020,
"Interpreting the Latent Space of GANs for Semantic Face Editing").

Many noise vectors are sampled and their faces labelled by the lab's attribute classifier. For
each attribute a linear classifier separates the noise vectors of the faces most confidently
with it from those most confidently without it; the unit normal of its boundary is the
direction to move along. Its accuracy on held-out noise says how linear (and so how usable)
the direction is.

``python -m hw3lab.analysis.gan_directions`` writes ``checkpoints/gan_directions.safetensors``
(``directions``: (13, 128) unit vectors, row i for ``FACE_ATTRIBUTES[i]``) with a JSON beside it.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from sklearn.svm import LinearSVC

from hw3lab.checkpoints import (
    CheckpointError,
    atomic_path,
    metadata_path,
    read_metadata,
    record_derived,
    write_json,
)
from hw3lab.data.layout import FACE_ATTRIBUTES
from hw3lab.inference import DEFAULT_CHECKPOINTS, ModelStore
from hw3lab.models.gan import NOISE_DIM

DIRECTIONS_FILE = "gan_directions.safetensors"
CONFIDENT_SHARE = 0.3  # InterFaceGAN trains on the most and least confident 30% each


@dataclass
class GanDirections:
    directions: np.ndarray  # (13, 128) unit vectors
    accuracy: np.ndarray  # (13,) held-out accuracy of each boundary, in %
    positive_rate: np.ndarray  # (13,) share of sampled faces with the attribute


def fit_direction(noise: np.ndarray, scores: np.ndarray, seed: int = 0) -> tuple[np.ndarray,
                                                                                   float]:
    """A unit normal separating the noise of the top ``CONFIDENT_SHARE`` of ``scores`` from the
    bottom share, and the boundary's accuracy on a held-out fifth of those samples."""
    order = np.argsort(scores)
    count = int(len(scores) * CONFIDENT_SHARE)
    chosen = np.concatenate([order[:count], order[-count:]])
    labels = np.concatenate([np.zeros(count), np.ones(count)])
    shuffle = np.random.default_rng(seed).permutation(len(chosen))
    chosen, labels = chosen[shuffle], labels[shuffle]
    held = len(chosen) // 5
    model = LinearSVC(C=0.01, max_iter=5000, random_state=seed)
    model.fit(noise[chosen[held:]], labels[held:])
    accuracy = float((model.predict(noise[chosen[:held]]) == labels[:held]).mean() * 100)
    normal = model.coef_[0]
    return normal / np.linalg.norm(normal), accuracy


def find_directions(store: ModelStore, samples: int = 20000, seed: int = 0,
                    batch_size: int = 500) -> GanDirections:
    """Sample ``samples`` noise vectors, label their faces, fit one direction per attribute."""
    noise = torch.randn(samples, NOISE_DIM, generator=torch.Generator().manual_seed(seed)).numpy()
    scores = np.concatenate([store.face_attributes(store.generate_faces_from_noise(chunk))
                             for chunk in np.array_split(noise, samples // batch_size)])
    fitted = [fit_direction(noise, scores[:, i], seed) for i in range(len(FACE_ATTRIBUTES))]
    return GanDirections(np.stack([d for d, _ in fitted]).astype(np.float32),
                         np.array([a for _, a in fitted]), (scores > 0.5).mean(0) * 100)


def save_directions(found: GanDirections, path: str | os.PathLike,
                    about: dict | None = None) -> Path:
    """Write the directions (atomically) and a JSON beside them with each boundary's accuracy;
    with ``about``, also list the file in the folder's manifest with the command that made it."""
    path = Path(path)
    with atomic_path(path) as temporary:
        save_file({"directions": torch.from_numpy(found.directions)}, str(temporary))
    description = {
        "attributes": list(FACE_ATTRIBUTES),
        "held_out_accuracy": {n: round(float(a), 2)
                              for n, a in zip(FACE_ATTRIBUTES, found.accuracy, strict=True)},
        "positive_rate": {n: round(float(r), 2)
                          for n, r in zip(FACE_ATTRIBUTES, found.positive_rate, strict=True)},
    }
    if about is None:
        write_json(metadata_path(path), description)
    else:
        record_derived(path.parent, "gan_directions", path, {**description, **about})
    return path


def load_directions(path: str | os.PathLike) -> np.ndarray:
    """(13, 128) unit directions, checked; a missing or damaged file is a CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no GAN attribute directions at {path.name}: build them with "
                              "python -m hw3lab.analysis.gan_directions")
    try:
        directions = load_file(str(path))["directions"].float().numpy()
        names = read_metadata(path).get("attributes")
    except Exception as error:  # noqa: BLE001 - any damage reads as one clear message
        raise CheckpointError(f"{path.name} is damaged ({type(error).__name__})") from None
    if directions.shape != (len(FACE_ATTRIBUTES), NOISE_DIM) or names != list(FACE_ATTRIBUTES):
        raise CheckpointError(f"{path.name} does not hold one {NOISE_DIM}-d direction for each "
                              "of the 13 face attributes")
    return directions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", type=Path, default=DEFAULT_CHECKPOINTS)
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    found = find_directions(ModelStore(args.checkpoints, "cpu"), args.samples, args.seed)
    path = save_directions(found, args.checkpoints / DIRECTIONS_FILE,
                           {"family": "gan_directions", "derived_from": "gan.safetensors",
                            "labelled_by": "attributes.safetensors", "samples": args.samples,
                            "seed": args.seed})
    for name, accuracy, rate in zip(FACE_ATTRIBUTES, found.accuracy, found.positive_rate,
                                    strict=True):
        print(json.dumps({"attribute": name, "held_out_accuracy": round(float(accuracy), 2),
                          "positive_rate": round(float(rate), 2)}))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
