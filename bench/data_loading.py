"""Time loading every real hw3_data split cold (decoding PNGs) and from the uint8 cache.

    python -m bench.data_loading [--data DIR]

Uses a fresh temporary cache so "cold" really decodes; prints a table and the cache size.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from hw3lab.data import load_split, resolve_data_root

SPLITS = [(d, s) for d in ("face", "usps", "mnistm", "svhn") for s in ("train", "test")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="hw3_data root (else $HW3_DATA, ./hw3_data)")
    parser.add_argument("--repeats", type=int, default=3, help="cached loads to take the best of")
    args = parser.parse_args()
    root = resolve_data_root(args.data)
    with tempfile.TemporaryDirectory() as cache:
        os.environ["HW3LAB_CACHE"] = cache
        print(f"{'split':<14}{'images':>8}{'cold s':>9}{'cached s':>10}{'speed-up':>10}"
              f"{'cache MB':>10}")
        for dataset, split in SPLITS:
            start = time.perf_counter()
            data = load_split(dataset, split, root)
            cold = time.perf_counter() - start
            cached = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                load_split(dataset, split, root)
                cached.append(time.perf_counter() - start)
            size = sum(p.stat().st_size for p in Path(cache).glob(f"{dataset}-{split}-*.npz"))
            print(f"{dataset + '/' + split:<14}{len(data):>8}{cold:>9.2f}{min(cached):>10.3f}"
                  f"{cold / min(cached):>9.0f}x{size / 1e6:>10.1f}")
        total = sum(p.stat().st_size for p in Path(cache).iterdir())
        print(f"total cache size: {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
