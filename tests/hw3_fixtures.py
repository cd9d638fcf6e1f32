"""Write a tiny copy of the course's hw3_data layout with random images, for fast tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from hw3lab.data.layout import FACE_ATTRIBUTES

DIGIT_MODES = {"usps": "L", "mnistm": "RGB", "svhn": "RGB"}


def write_hw3_data(root: Path, per_split: int = 12, seed: int = 0) -> Path:
    """Faces (64x64 RGB + 13 attributes) and the three digit domains (28x28), train and test."""
    rng = np.random.default_rng(seed)
    for split in ("train", "test"):
        folder = root / "face" / split
        folder.mkdir(parents=True)
        rows = ["image_name," + ",".join(FACE_ATTRIBUTES)]
        for i in range(per_split):
            name = f"{split}{i:05d}.png"
            Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / name)
            rows.append(name + "," + ",".join(f"{float(v):.1f}" for v in rng.integers(0, 2, 13)))
        (root / "face" / f"{split}.csv").write_text("\n".join(rows) + "\n")
        for domain, mode in DIGIT_MODES.items():
            folder = root / "digits" / domain / split
            folder.mkdir(parents=True)
            rows = ["image_name,label"]
            for i in range(per_split):
                name = f"{i:05d}.png"
                shape = (28, 28) if mode == "L" else (28, 28, 3)
                Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / name)
                rows.append(f"{name},{i % 10}")
            (root / "digits" / domain / f"{split}.csv").write_text("\n".join(rows) + "\n")
    return root
