"""A training run's timeline: what the model made of a fixed set of inputs at each stage.

The homework's report shows the VAE's latent space at an early, a middle and a final stage of
training; a timeline records such stages for every run, as the run goes, so that the lab can
show how a model learned without training anything per visitor.

A run appends one stage at a time to its ``Run.timeline_path``
(``STATE_DIR/<run>.timeline.safetensors``), written
atomically beside its resumable state: a resumed run continues it, and a stage that an
interruption left recorded twice is kept once (a stage replaces any of the same or a later
epoch). Every tensor in it has the stage as its first axis; ``epochs`` holds each stage's epoch.

When the run ships, :func:`ship_timeline` copies it to ``OUT/timelines/NAME.safetensors`` with a
2-D t-SNE map of every stage's features (``tsne``), each stage's map started from the stage
before's, so that in a stage slider the points move rather than jump, and the checkpoint's JSON
names that file in its ``timeline`` field. What each family records:

* digits (:func:`digit_stage`): a PCA projection (:data:`FEATURE_DIMS` dims) of the extractor's
  features of :data:`PROBE_DIGITS` fixed source and as many target test digits, the accuracy
  (a fraction, as in the checkpoints' metrics) on the whole source and target test splits
  (reported, never used to choose anything), and for DANN the domain classifier's accuracy on
  the fixed digits;
* VAE (:func:`vae_stage`): the latent means of :data:`PROBE_FACES` fixed test faces and a few
  fixed latents decoded, at :data:`MAX_STAGES` epochs spread over the run (:func:`stage_epochs`);
* GAN (:func:`gan_stage`, built from the run's weight snapshots when it ships): the faces of
  :data:`GAN_NOISE` fixed noise vectors by the averaged and the live generator, and the
  discriminator's mean realness (sigmoid) on real training faces and on the averaged
  generator's faces, at as many snapshot epochs.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from hw3lab.checkpoints import atomic_path
from hw3lab.data.transforms import digits_for_model, faces_for_model, faces_to_uint8
from hw3lab.models.gan import NOISE_DIM
from hw3lab.training.common import Run

PROBE_DIGITS = 300  # per domain
PROBE_FACES = 500
FEATURE_DIMS = 32
DECODED_LATENTS = 6
GAN_NOISE = 12
REALNESS_FACES = 256
PROBE_SEED = 2024  # which test items a timeline follows; fixed so every run follows the same
TSNE_PERPLEXITY = 30.0
CONTINUED = 500  # t-SNE iterations of a stage started from the stage before
TIMELINES = "timelines"
MAX_STAGES = 12  # of a face model's timeline: its pictures are what weigh


def read_stages(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A timeline file's tensors (empty if there is none yet)."""
    return load_file(str(path)) if Path(path).is_file() else {}


def record_stage(path: Path | None, epoch: int, values: dict[str, Any]) -> None:
    """Append the stage of ``epoch`` (tensors, or numbers stored as float32) to the timeline
    at ``path``, dropping any stage of the same or a later epoch (left by an interrupted run
    that resumed from an earlier state); written atomically. No path: nothing is kept."""
    if path is None:
        return
    stages = read_stages(path)
    keep = (stages["epochs"] < epoch) if stages else None
    new = {"epochs": torch.tensor([epoch], dtype=torch.int64)}
    for key, value in values.items():
        tensor = value if isinstance(value, torch.Tensor) else torch.tensor(float(value))
        new[key] = tensor.detach().cpu().unsqueeze(0)
    merged = {key: torch.cat([stages[key][keep], tensor]) if key in stages else tensor
              for key, tensor in new.items()}
    with atomic_path(path) as temporary:
        save_file({k: v.contiguous() for k, v in merged.items()}, str(temporary))


def recording(metrics: Iterable[dict[str, Any]], path: Path | None,
              stage: Callable[[], dict[str, Any]],
              epochs: Collection[int] | None = None) -> Iterator[dict[str, Any]]:
    """Pass a training loop's per-epoch metrics through, recording ``stage()`` at each epoch
    it reports (the loop's models are then as that epoch left them), or at those of
    ``epochs`` only, and at the last one it reports."""
    for entry in metrics:
        epoch = entry.get("epoch")
        if epoch is not None and (epochs is None or epoch in epochs
                                  or epoch == entry.get("epochs") or entry.get("stopped_early")):
            record_stage(path, int(epoch), stage())
        yield entry


def stage_epochs(total: int, count: int = MAX_STAGES, every: int = 1) -> list[int]:
    """At most ``count`` epochs out of ``1..total`` (multiples of ``every`` where the run
    keeps only those, such as GAN snapshots), denser early, where a model changes most:
    roughly geometric from the first to the last."""
    candidates = [e for e in range(1, total + 1) if e % every == 0 or e == total]
    if len(candidates) <= count:
        return candidates
    wanted = np.geomspace(1, len(candidates), count)
    return sorted({candidates[int(round(w)) - 1] for w in wanted})


def project(features: torch.Tensor, dims: int = FEATURE_DIMS) -> torch.Tensor:
    """(N, D) features -> (N, dims) coordinates on their top principal axes, as float16: what
    t-SNE reads anyway (after PCA), at a sixteenth of 512-dim features' size."""
    centred = features.float() - features.float().mean(0)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    return (centred @ vh[:dims].T).half()


@dataclass
class DigitProbe:
    """The fixed test digits a digit run's timeline follows (first the source's, then the
    target's), and the whole test splits its accuracies are measured on."""

    images: list[torch.Tensor]  # source, target: (N, C, 28, 28) uint8
    labels: list[torch.Tensor]
    test_images: list[torch.Tensor]
    test_labels: list[torch.Tensor]

    @classmethod
    def of(cls, source_test: Any, target_test: Any, count: int = PROBE_DIGITS) -> DigitProbe:
        """From two :class:`~hw3lab.training.digits.Labelled` test splits."""
        chosen = [probe_indices(len(split), count) for split in (source_test, target_test)]
        return cls([split.images[i] for split, i in zip((source_test, target_test), chosen,
                                                         strict=True)],
                   [split.labels[i] for split, i in zip((source_test, target_test), chosen,
                                                        strict=True)],
                   [source_test.images, target_test.images],
                   [source_test.labels, target_test.labels])


    def pictures(self) -> dict[str, torch.Tensor]:
        """The fixed digits as (N, 28, 28, C) uint8 and their labels, for the timeline's file
        (the lab shows them without any data)."""
        return {f"{side}_{kind}": tensor.cpu().contiguous()
                for side, images, labels in zip(("source", "target"), self.images, self.labels,
                                                  strict=True)
                for kind, tensor in (("images", images.permute(0, 2, 3, 1)),
                                     ("labels", labels))}


def probe_indices(count: int, wanted: int) -> torch.Tensor:
    """``wanted`` (at most ``count``) indices, the same for every run of the same split."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(PROBE_SEED))
    return order[:wanted].sort().values


@torch.inference_mode()
def _evaluated(modules: Iterable[nn.Module], compute: Callable[[], Any]) -> Any:
    """``compute()`` with ``modules`` in eval mode; their modes restored."""
    modules = list(modules)
    modes = [m.training for m in modules]
    for module in modules:
        module.eval()
    try:
        return compute()
    finally:
        for module, mode in zip(modules, modes, strict=True):
            module.train(mode)


def digit_stage(probe: DigitProbe, extractor: nn.Module, predictor: nn.Module, grey: bool,
                domain: nn.Module | None = None, batch_size: int = 1024) -> dict[str, Any]:
    """What a digit model makes of the probe now (see the module's docstring)."""
    def features_of(images: torch.Tensor) -> torch.Tensor:
        return torch.cat([extractor(digits_for_model(chunk, grey)).float()
                          for chunk in images.split(batch_size)])

    def accuracy(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        hits = sum(int((predictor(extractor(digits_for_model(chunk, grey))).argmax(1)
                        == truth).sum())
                   for chunk, truth in zip(images.split(batch_size), labels.split(batch_size),
                                           strict=True))
        return torch.tensor(hits / max(len(labels), 1))

    def compute() -> dict[str, Any]:
        features = torch.cat([features_of(images) for images in probe.images])
        stage = {"features": project(features),
                 "source_accuracy": accuracy(probe.test_images[0], probe.test_labels[0]),
                 "target_accuracy": accuracy(probe.test_images[1], probe.test_labels[1])}
        if domain is not None:
            counts = [len(images) for images in probe.images]
            truth = torch.cat([torch.full((n,), d) for d, n in enumerate(counts)]).to(
                features.device)
            said = domain(features).argmax(1)
            stage["domain_accuracy"] = (said == truth).float().mean().cpu()
        return stage

    return _evaluated([extractor, predictor, *([domain] if domain is not None else [])],
                      compute)


@dataclass
class FaceProbe:
    """The fixed test faces (N, 3, 64, 64) uint8 a VAE's timeline follows, and fixed latents
    (K, latent dims) it decodes at each stage."""

    faces: torch.Tensor
    latents: torch.Tensor

    @classmethod
    def of(cls, test_faces: torch.Tensor, latent_dims: int, count: int = PROBE_FACES,
           decoded: int = DECODED_LATENTS) -> FaceProbe:
        latents = torch.randn(decoded, latent_dims,
                              generator=torch.Generator().manual_seed(PROBE_SEED))
        return cls(test_faces[face_indices(len(test_faces), count).to(test_faces.device)],
                   latents.to(test_faces.device))


    def pictures(self, attributes: torch.Tensor) -> dict[str, torch.Tensor]:
        """The probe faces as (N, 32, 32, 3) uint8 thumbnails and their (N, 13) attributes, for
        the timeline's file (the lab shows them without any data)."""
        small = torch.nn.functional.avg_pool2d(self.faces.float(), 2).round().to(torch.uint8)
        return {"face_thumbnails": small.permute(0, 2, 3, 1).cpu().contiguous(),
                "face_attributes": attributes.float().cpu().contiguous()}


def face_indices(count: int, wanted: int = PROBE_FACES) -> torch.Tensor:
    """Which test faces a VAE's timeline follows (:func:`probe_indices`)."""
    return probe_indices(count, wanted)


def vae_stage(probe: FaceProbe, vae: nn.Module, batch_size: int = 250) -> dict[str, Any]:
    """The VAE's latent means of the probe faces and its decoding of the fixed latents."""
    def compute() -> dict[str, Any]:
        means = torch.cat([vae.encoder(faces_for_model(chunk))[0].float()
                           for chunk in probe.faces.split(batch_size)])
        decoded = torch.from_numpy(faces_to_uint8(vae.decoder(probe.latents).float()))
        return {"means": means.half(), "decoded": decoded}

    return _evaluated([vae], compute)


def gan_noise(count: int = GAN_NOISE) -> torch.Tensor:
    """The fixed noise a GAN's timeline draws faces from (the lab's seed rule, seed
    :data:`PROBE_SEED`, one vector after another)."""
    return torch.randn(count, NOISE_DIM, generator=torch.Generator().manual_seed(PROBE_SEED))


def gan_stage(averaged: nn.Module, live: nn.Module, discriminator: nn.Module,
              real_faces: torch.Tensor, noise: torch.Tensor) -> dict[str, Any]:
    """Both generators' faces of ``noise`` and the discriminator's mean realness on
    ``real_faces`` ((N, 3, 64, 64) uint8) and on as many of the averaged generator's faces."""
    def compute() -> dict[str, Any]:
        fakes = averaged(torch.randn(len(real_faces), NOISE_DIM,
                                     generator=torch.Generator().manual_seed(PROBE_SEED + 1)
                                     ).to(noise.device))
        return {"faces": torch.from_numpy(faces_to_uint8(averaged(noise).float())),
                "live_faces": torch.from_numpy(faces_to_uint8(live(noise).float())),
                "realness_real": torch.sigmoid(discriminator.logits(
                    faces_for_model(real_faces)).float()).mean().cpu(),
                "realness_fake": torch.sigmoid(discriminator.logits(fakes).float()).mean().cpu()}

    return _evaluated([averaged, live, discriminator], compute)


def record_gan_snapshots(run: Run, generator: nn.Module, discriminator: nn.Module,
                         real_faces: torch.Tensor, last_epoch: int, every: int) -> list[int]:
    """Build a GAN run's timeline from its weight snapshots up to ``last_epoch`` (written every
    ``every`` epochs), at most :data:`MAX_STAGES` of them (:func:`stage_epochs`); ``generator``
    and ``discriminator`` are modules of the run's shape to load them into (their weights are
    overwritten: pass copies). Returns the epochs recorded."""
    from hw3lab.training.gan import load_snapshot, snapshot_folder

    folder = snapshot_folder(run)
    if run.timeline_path is None or folder is None:
        return []
    run.timeline_path.unlink(missing_ok=True)
    live = copy.deepcopy(generator)
    real = real_faces[probe_indices(len(real_faces), REALNESS_FACES).to(real_faces.device)]
    noise = gan_noise().to(real_faces.device)
    recorded = []
    for epoch in stage_epochs(last_epoch, MAX_STAGES, every):
        if not (folder / f"snapshot-e{epoch:03d}.pt").is_file():
            continue
        snapshot = load_snapshot(run, epoch)
        generator.load_state_dict(snapshot["generator"])
        live.load_state_dict(snapshot.get("live_generator", snapshot["generator"]))
        discriminator.load_state_dict(snapshot["discriminator"])
        record_stage(run.timeline_path, epoch, gan_stage(generator, live, discriminator, real,
                                                         noise))
        recorded.append(epoch)
    return recorded


def tsne_path(stages: torch.Tensor, perplexity: float = TSNE_PERPLEXITY,
              seed: int = 0) -> torch.Tensor:
    """(S, N, D) features of S stages -> (S, N, 2) t-SNE maps. The first starts from PCA, as
    usual; each later one starts from the map before, without early exaggeration (which would
    pull the start apart and let the map turn or mirror) and for fewer iterations, and is then
    turned (rotation or reflection, no scaling) to lie best over the map before: a point that
    keeps its neighbours keeps its place."""
    from sklearn.manifold import TSNE  # imported on use: slow to import, not needed to serve

    maps: list[np.ndarray] = []
    for features in stages.float().numpy():
        options: dict[str, Any] = {"init": "pca"}
        if maps:
            options = {"init": maps[-1], "early_exaggeration": 1.0, "max_iter": CONTINUED}
        embedding = TSNE(n_components=2, perplexity=min(perplexity, (len(features) - 1) / 3),
                         random_state=seed, learning_rate="auto", **options
                         ).fit_transform(features).astype(np.float32)
        maps.append(turned_onto(embedding, maps[-1]) if maps else embedding)
    return torch.from_numpy(np.stack(maps))


def turned_onto(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``points`` rotated or reflected about their centre (orthogonal Procrustes) and moved
    to ``reference``'s centre, to lie best over ``reference``."""
    centred, target = points - points.mean(0), reference - reference.mean(0)
    u, _, vt = np.linalg.svd(centred.T @ target)
    return (centred @ (u @ vt) + reference.mean(0)).astype(np.float32)


def ship_timeline(stages: dict[str, torch.Tensor], out: Path, name: str,
                  extra: dict[str, torch.Tensor] | None = None) -> str:
    """Write a run's ``stages`` (with their t-SNE maps, where they hold ``features`` or
    ``means``) and ``extra`` tensors to ``out/timelines/NAME.safetensors``; return that path
    relative to ``out``, for the checkpoint's ``timeline`` field."""
    tensors = dict(stages)
    for key in ("features", "means"):
        if key in stages and len(stages[key]) and stages[key].shape[1] >= 5:
            tensors["tsne"] = tsne_path(stages[key])
    tensors.update(extra or {})
    relative = f"{TIMELINES}/{name.replace('/', '-')}.safetensors"
    with atomic_path(out / relative) as temporary:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(temporary))
    return relative
