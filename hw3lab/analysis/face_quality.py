"""A local, honest quality number for generated faces, and the checks that go with it.

No Inception weights can be fetched here, so the features are the pooled 256-d features of the
lab's own face-attribute classifier (``attributes.safetensors``). The Frechet distance in that
space is a *local feature distance*: it ranks models on this data, and is not comparable to
published FID numbers. It is reported on a 0-1 scale between two reference points measured in
the same run, with the same sample sizes:

* floor (0): real training faces against the test faces;
* ceiling (1): untrained generators' faces against the test faces, the mean over
  ``CEILING_INITS`` initialisations: one untrained generator's distance depends on its draw
  (118 to 234 over seeds 0-7), which would move every number on the scale by up to 2x.

Beside it: KID (unbiased polynomial-kernel MMD, less biased at small sample sizes), a
diversity figure (mean pairwise feature distance of the samples over that of real faces) and a
copying check (each sample's distance to its nearest training face, over a test face's). For
the VAE also its test reconstruction error, KL per latent dimension and active dimensions.

``python -m hw3lab.analysis.face_quality --data DIR`` measures the shipped VAE and GAN and
stores the numbers in their checkpoint JSON and the manifest; ``--gan-snapshots runs/gan-seed0``
scores a training run's snapshots, with the selection distance (to training faces, never the
test faces) that picks the epoch to ship.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from hw3lab import cli
from hw3lab.checkpoints import metadata_path, read_metadata, record_in_manifest, write_json
from hw3lab.data import load_faces
from hw3lab.data.layout import resolve_data_root
from hw3lab.data.transforms import faces_to_uint8
from hw3lab.fast_inference import fast_generator
from hw3lab.inference import DEFAULT_CHECKPOINTS, ModelStore
from hw3lab.metrics import per_image_mse
from hw3lab.models import Generator
from hw3lab.models.gan import NOISE_DIM
from hw3lab.models.vae import LATENT_DIM
from hw3lab.training.gan import recalibrate_batchnorm

SAMPLES = 1000  # the size of the test split: every set compared has this many faces
CEILING_INITS = 8  # untrained generators averaged into the ceiling, initialised with seeds 0-7
Sampler = Callable[[int, int], np.ndarray]  # (count, seed) -> (count, 64, 64, 3) uint8


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(values.clip(min=0))) @ vectors.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to feature sets ``a`` and ``b`` (rows):
    |mu_a - mu_b|^2 + tr(Ca + Cb - 2 (Ca^1/2 Cb Ca^1/2)^1/2), computed through symmetric
    eigen-decompositions, which stay real and stable where a general matrix root does not."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    mean_gap = a.mean(0) - b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _psd_sqrt(cov_a)
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a).clip(min=0)
    return float(mean_gap @ mean_gap + np.trace(cov_a) + np.trace(cov_b)
                 - 2 * np.sqrt(cross).sum())


def kernel_distance(a: np.ndarray, b: np.ndarray, subsets: int = 50, size: int = 500,
                    seed: int = 0) -> float:
    """KID: the unbiased MMD^2 with the kernel (x.y / d + 1)^3, averaged over random subsets."""
    rng = np.random.default_rng(seed)
    a, b = a.astype(np.float64), b.astype(np.float64)
    size = min(size, len(a), len(b))
    dim = a.shape[1]
    total = 0.0
    for _ in range(subsets):
        x = a[rng.choice(len(a), size, replace=False)]
        y = b[rng.choice(len(b), size, replace=False)]
        kxx, kyy, kxy = ((x @ x.T / dim + 1) ** 3, (y @ y.T / dim + 1) ** 3,
                         (x @ y.T / dim + 1) ** 3)
        off = size * (size - 1)
        total += ((kxx.sum() - np.trace(kxx)) / off + (kyy.sum() - np.trace(kyy)) / off
                  - 2 * kxy.mean())
    return total / subsets


def mean_pairwise_distance(features: np.ndarray) -> float:
    """Mean Euclidean distance between distinct rows."""
    x = torch.as_tensor(features, dtype=torch.float64)
    distances = torch.cdist(x, x)
    return float(distances.sum() / (len(x) * (len(x) - 1)))


def nearest_distances(queries: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Each query row's distance to its nearest row of ``pool``."""
    q, p = torch.as_tensor(queries, dtype=torch.float32), torch.as_tensor(pool,
                                                                          dtype=torch.float32)
    return torch.cat([torch.cdist(chunk, p).min(1).values for chunk in q.split(500)]).numpy()


@dataclass
class References:
    """Features of the real faces, and the two reference points of the 0-1 scale."""

    test: np.ndarray
    train: np.ndarray
    floor: float
    ceiling: float
    real_diversity: float
    test_to_train: np.ndarray  # each test face's distance to its nearest training face


@dataclass
class FaceQuality:
    frechet: float
    scaled: float  # 0 = real training faces, 1 = an untrained generator
    kid: float
    diversity: float  # mean pairwise distance over that of the test faces
    copying: float  # median nearest-training-face distance over that of the test faces
    closer_than_any_test: float  # share of samples nearer to a training face than 99% of tests

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def generator_sampler(generator: Generator) -> Sampler:
    """Eval-mode faces of ``generator`` (BatchNorm folded) for N(0, I) noise of a seed."""
    fast = fast_generator(generator.eval())

    def sample(count: int, seed: int) -> np.ndarray:
        with torch.inference_mode():
            return faces_to_uint8(fast(seeded_noise(count, seed)))
    return sample


def untrained_sampler(seed: int = 0) -> Sampler:
    """The ceiling: a freshly initialised homework generator (BatchNorm statistics estimated),
    sampled like the trained one."""
    torch.manual_seed(seed)
    generator = Generator()
    recalibrate_batchnorm(generator, torch.Generator().manual_seed(seed))
    return generator_sampler(generator)


def references(store: ModelStore, data: Path, seed: int = 0,
               ceiling_inits: int = CEILING_INITS) -> References:
    """Features of the test faces and all training faces, and the scale's two end points: the
    floor over three training subsets drawn with ``seed``, the ceiling over the same
    ``ceiling_inits`` untrained generators whatever the seed."""
    test = store.face_features(load_faces("test", data).images)
    train = store.face_features(load_faces("train", data).images)
    rng = np.random.default_rng(seed)
    floor = float(np.mean([frechet_distance(train[rng.choice(len(train), len(test),
                                                              replace=False)], test)
                           for _ in range(3)]))
    ceiling = float(np.mean([frechet_distance(store.face_features(
        untrained_sampler(init)(len(test), init)), test) for init in range(ceiling_inits)]))
    return References(test, train, floor, ceiling, mean_pairwise_distance(test),
                      nearest_distances(test, train))


def judge(store: ModelStore, refs: References, faces: np.ndarray) -> FaceQuality:
    """Every quality number of ``faces`` (N, 64, 64, 3) uint8 against the references."""
    features = store.face_features(faces)
    frechet = frechet_distance(features, refs.test)
    to_train = nearest_distances(features, refs.train)
    return FaceQuality(
        frechet=frechet,
        scaled=(frechet - refs.floor) / (refs.ceiling - refs.floor),
        kid=kernel_distance(features, refs.test),
        diversity=mean_pairwise_distance(features) / refs.real_diversity,
        copying=float(np.median(to_train)) / float(np.median(refs.test_to_train)),
        closer_than_any_test=float(np.mean(to_train < np.percentile(refs.test_to_train, 1))))


def vae_latent_report(store: ModelStore, faces: np.ndarray) -> dict[str, float]:
    """The VAE on test ``faces``: reconstruction MSE of the latent means on [0, 1] pixels, KL to
    the prior per latent dimension (nats, mean over faces and dimensions) and the number of
    active dimensions (variance of the latent means over the faces above 0.01)."""
    mean, logvar = store.encode_faces(faces)
    kl = 0.5 * (mean ** 2 + np.exp(logvar) - 1.0 - logvar)
    return {"test_mse": float(per_image_mse(faces, store.decode_latents(mean)).mean()),
            "kl_per_dim": float(kl.mean()),
            "kl_total": float(kl.sum(1).mean()),
            "active_dims": int((mean.var(0) > 0.01).sum()),
            "latent_mean_std": float(mean.std()),
            "posterior_std": float(np.exp(0.5 * logvar).mean())}


def seeded_noise(count: int, seed: int, dim: int = NOISE_DIM) -> torch.Tensor:
    """(count, dim) N(0, I) draws, the same for a seed on every run."""
    return torch.randn(count, dim, generator=torch.Generator().manual_seed(seed))


def vae_sampler(store: ModelStore) -> Sampler:
    return lambda count, seed: store.decode_latents(seeded_noise(count, seed, LATENT_DIM).numpy())


def gan_sampler(store: ModelStore) -> Sampler:
    return lambda count, seed: store.generate_faces_from_noise(seeded_noise(count, seed).numpy())


def snapshot_samplers(path: Path) -> dict[str, Sampler]:
    """The generators of a training run's snapshot (``snapshot-eNNN.pt``, written by
    :mod:`train.gan`): its sampling one, named by the file, and its live one (if it keeps one
    beside an averaged generator) with '-live' added."""
    snapshot = torch.load(path, map_location="cpu", weights_only=True)  # GPU runs' too
    samplers = {}
    for key, suffix in (("generator", ""), ("live_generator", "-live")):
        if key in snapshot:
            generator = Generator()
            generator.load_state_dict(snapshot[key])
            samplers[path.stem + suffix] = generator_sampler(generator)
    return samplers


def _store_quality(directory: Path, name: str, quality: dict) -> None:
    path = directory / f"{name}.safetensors"
    metadata = read_metadata(path)
    write_json(metadata_path(path), {**metadata, "quality": quality})
    record_in_manifest(directory, name, path)


def selection_frechet(store: ModelStore, refs: References, faces: np.ndarray,
                      seed: int = 0) -> float:
    """Frechet distance of ``faces`` to a fixed random set of training faces as many as the
    test faces: the criterion that picks a training run's snapshot, so that no choice ever
    looks at the test faces."""
    chosen = np.random.default_rng(seed + 1).choice(len(refs.train), len(refs.test),
                                                     replace=False)
    return frechet_distance(store.face_features(faces), refs.train[chosen])


@cli.command
def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="hw3_data folder (default: $HW3_DATA, else ./hw3_data)")
    parser.add_argument("--checkpoints", type=Path, default=DEFAULT_CHECKPOINTS)
    parser.add_argument("--gan-snapshots", type=Path,
                        help="score every snapshot-eNNN.pt in this run folder instead")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled noise")
    parser.add_argument("--no-store", action="store_true",
                        help="print only; do not write the numbers into the checkpoints")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    store = ModelStore(args.checkpoints, "cpu")
    root = resolve_data_root(args.data)
    refs = references(store, root, args.seed)
    print(json.dumps({"floor_frechet": round(refs.floor, 4),
                      "ceiling_frechet": round(refs.ceiling, 4)}), flush=True)
    if args.gan_snapshots:
        samplers = {name: sample for p in sorted(args.gan_snapshots.glob("snapshot-e*.pt"))
                    for name, sample in snapshot_samplers(p).items()}
    else:
        samplers = {name: make(store) for name, make in (("vae", vae_sampler),
                                                         ("gan", gan_sampler))
                    if (args.checkpoints / f"{name}.safetensors").is_file()}
    for name, sample in samplers.items():
        faces = sample(SAMPLES, args.seed)
        quality = judge(store, refs, faces).rounded()
        if args.gan_snapshots:
            quality = {"selection_frechet": round(selection_frechet(store, refs, faces), 4),
                       **quality}
        if name == "vae":
            quality |= {k: round(v, 5) for k, v in vae_latent_report(
                store, load_faces("test", root).images).items()}
        print(json.dumps({"model": name, **quality}), flush=True)
        if not args.gan_snapshots and not args.no_store:
            _store_quality(args.checkpoints, name, {
                **quality, "samples": SAMPLES, "seed": args.seed,
                "floor_frechet": round(refs.floor, 4), "ceiling_frechet": round(refs.ceiling, 4),
                "features": "pooled features of attributes.safetensors (a local feature "
                            "distance, not comparable to published FID)",
                "command": "python -m hw3lab.analysis.face_quality " + " ".join(
                    sys.argv[1:] if argv is None else argv)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
