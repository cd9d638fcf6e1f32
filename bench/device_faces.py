"""The same GAN faces on two devices: a checkpoint's generator, eval mode, on the CPU in fp32
and on ``--device`` in fp32 and bf16, for the same fixed noise; prints a table of how far
their uint8 pixels are apart and writes the faces side by side (rows: CPU, device fp32,
device bf16). With ``--snapshot`` it also samples a training run's snapshot on the CPU,
whatever device wrote it (``hw3lab.analysis.face_quality`` loads snapshots that way).

    python -m bench.device_faces --checkpoint checkpoints/gan.safetensors --device cuda \
        [--faces 8] [--image faces.png] [--snapshot runs/gan-seed0/snapshot-e002.pt]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from hw3lab.analysis.face_quality import snapshot_samplers
from hw3lab.checkpoints import load_modules, read_metadata
from hw3lab.data.transforms import faces_to_uint8
from hw3lab.models import Generator
from hw3lab.models.gan import NOISE_DIM
from hw3lab.runtime import autocast, pick_device


@torch.no_grad()
def faces_on(checkpoint: Path, device: torch.device, precision: str,
             noise: torch.Tensor) -> np.ndarray:
    """(N, 64, 64, 3) uint8 faces of the checkpoint's generator for ``noise`` on ``device``."""
    generator = Generator(float(read_metadata(checkpoint).get("width", 1.0)))
    load_modules(checkpoint, {"generator": generator})
    generator.to(device).eval()
    with autocast(device, precision):
        return faces_to_uint8(generator(noise.to(device)))


def snapshot_faces(path: Path) -> dict[str, tuple[int, ...]]:
    """The shapes of two faces from each generator of a training run's snapshot, loaded on
    the CPU whatever device wrote it: by face_quality's loader at the homework's width, else
    by the same ``map_location`` at the width its weights have."""
    snapshot = torch.load(path, map_location="cpu", weights_only=True)
    width = snapshot["generator"]["decode.0.block.0.weight"].shape[1] / 512
    if width == 1.0:
        return {name: sample(2, 0).shape for name, sample in snapshot_samplers(path).items()}
    shapes = {}
    for key in ("generator", "live_generator"):
        if key in snapshot:
            generator = Generator(width).eval()
            generator.load_state_dict(snapshot[key])
            with torch.no_grad():
                shapes[key] = faces_to_uint8(generator(torch.randn(2, NOISE_DIM))).shape
    return shapes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--faces", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image", type=Path, help="write the faces here (PNG)")
    parser.add_argument("--snapshot", type=Path, help="also sample this snapshot on the CPU")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    noise = torch.randn(args.faces, NOISE_DIM, generator=torch.Generator().manual_seed(args.seed))
    reference = faces_on(args.checkpoint, torch.device("cpu"), "fp32", noise)
    rows = {"cpu fp32 (reference)": reference}
    for precision in ("fp32", "bf16"):
        rows[f"{device} {precision}"] = faces_on(args.checkpoint, device, precision, noise)
    print(f"{args.checkpoint} ({args.faces} faces, noise seed {args.seed}); pixel differences "
          "against the CPU in fp32, in uint8 levels")
    print("| run | max abs | mean abs | pixels off by > 2 |")
    print("| --- | ---: | ---: | ---: |")
    for name, faces in rows.items():
        gap = np.abs(faces.astype(np.int16) - reference.astype(np.int16))
        print(f"| {name} | {gap.max()} | {gap.mean():.3f} | {(gap > 2).mean():.2%} |")
    if args.snapshot:
        print(f"snapshot {args.snapshot} sampled on the CPU: {snapshot_faces(args.snapshot)}")
    if args.image:
        grid = np.concatenate([np.concatenate(list(faces), axis=1) for faces in rows.values()])
        Image.fromarray(grid).save(args.image)
        print(f"wrote {args.image} (rows: {', '.join(rows)})")


if __name__ == "__main__":
    main()
