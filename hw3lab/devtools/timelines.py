"""Timelines for the tests' random checkpoints: a few stages of random features, pictures and
curves, shipped as a run would ship them (:mod:`hw3lab.training.timeline`)."""

from __future__ import annotations

from pathlib import Path

import torch

from hw3lab.checkpoints import metadata_path, read_metadata, record_in_manifest, write_json
from hw3lab.methods import digit_checkpoint, digit_key
from hw3lab.training.timeline import read_stages, record_stage, ship_timeline

STAGES = 3


def add_timelines(checkpoints: Path, task: tuple[str, str] = ("usps", "mnistm"),
                  methods: tuple[str, ...] = ("dann",), stages: int = STAGES,
                  points: int = 20, only_missing: bool = False) -> None:
    """Give the VAE, the GAN and ``methods`` on ``task`` a timeline of ``stages`` stages
    following ``points`` digits per domain and twice as many faces (a run follows 300 and
    500); with ``only_missing``, only those whose checkpoint names none."""
    rng = torch.Generator().manual_seed(0)
    work = checkpoints / ".timeline-stages"

    def ship(name: str, weights: Path, stage: dict, extra: dict) -> None:
        if only_missing and read_metadata(weights).get("timeline"):
            return
        path = work / f"{name.replace('/', '-')}.safetensors"
        for epoch in range(1, stages + 1):
            record_stage(path, epoch * 2, {k: v() for k, v in stage.items()})
        relative = ship_timeline(read_stages(path), checkpoints, name, extra)
        write_json(metadata_path(weights), {**read_metadata(weights), "timeline": relative})
        record_in_manifest(checkpoints, name, weights)

    def uint8(*shape: int) -> torch.Tensor:
        return torch.randint(0, 256, shape, dtype=torch.uint8, generator=rng)

    def uniform() -> torch.Tensor:
        return torch.rand((), generator=rng)

    ship("vae", checkpoints / "vae.safetensors",
         {"means": lambda: torch.randn(2 * points, 128, generator=rng).half(),
          "decoded": lambda: uint8(6, 64, 64, 3)},
         {"face_thumbnails": uint8(2 * points, 32, 32, 3),
          "face_attributes": torch.randint(0, 2, (2 * points, 13), generator=rng).float()})
    ship("gan", checkpoints / "gan.safetensors",
         {"faces": lambda: uint8(12, 64, 64, 3), "live_faces": lambda: uint8(12, 64, 64, 3),
          "realness_real": uniform, "realness_fake": uniform},
         {})
    source, target = task
    for method in methods:
        ship(digit_key(source, target, method), digit_checkpoint(checkpoints, source, target,
                                                                 method),
             {"features": lambda: torch.randn(2 * points, 32, generator=rng).half(),
              "source_accuracy": uniform, "target_accuracy": uniform,
              "domain_accuracy": uniform},
             {"source_images": uint8(points, 28, 28, 1),
              "target_images": uint8(points, 28, 28, 3),
              "source_labels": torch.arange(points) % 10,
              "target_labels": torch.arange(points) % 10})
