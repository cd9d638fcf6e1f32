"""Write a tiny copy of the course's hw3_data layout with random images, for fast tests and
for a check on a machine without the data (``bench/gpu_smoke.sh``)::

    python -m hw3lab.devtools.fixture_data DIR [--per-split N]
"""

from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder to create (it must not exist yet)")
    parser.add_argument("--per-split", type=int, default=12, help="images per split and domain")
    args = parser.parse_args(argv)
    print(write_hw3_data(args.root, per_split=args.per_split))


if __name__ == "__main__":
    main()
