"""A small sample of real test images shipped with the lab, so that it shows real digits and
faces without ``hw3_data``: 10 test digits a class of each domain and the first test faces.

``python -m hw3lab.data.samples --data DIR`` rebuilds ``samples.npz`` (one compressed array file,
no pickles) and ``samples.json`` (where every image comes from, and its terms) beside this
module, reproducibly: the first test images of each class in file-name order, then the
first test faces.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from pathlib import Path

import numpy as np

from hw3lab import cli
from hw3lab.data.layout import DIGIT_DOMAINS
from hw3lab.data.readers import Split, load_split

SAMPLES_FILE = Path(__file__).with_name("samples.npz")
PER_CLASS = 10
FACES = 100
DATASETS = (*DIGIT_DOMAINS, "face")
# Where each dataset's images come from and under which terms (from hw3_data/PROVENANCE.md).
PROVENANCE = {
    "usps": ("USPS test set (16x16, resized to 28x28)", "no formal licence"),
    "mnistm": ("MNIST-M test set (32x32, resized to 28x28): MNIST digits blended with "
               "BSDS500 photo patches", "MNIST: CC BY-SA 3.0; BSDS500 photos: non-commercial "
               "research and teaching only"),
    "svhn": ("SVHN test crops (32x32, resized to 28x28)",
             "non-commercial research and education only"),
    "face": ("CelebA aligned crops, square crop around the face resized to 64x64, with their "
             "13 attributes", "non-commercial research and education only"),
}


def pick_digits(split: Split, per_class: int = PER_CLASS) -> np.ndarray:
    """Indices of the first ``per_class`` images of each class in name order, interleaved
    (0, 1, ..., 9, 0, 1, ...) so that any first ten hold every class."""
    order = np.argsort(np.asarray(split.names))
    by_class = [order[split.targets[order] == label][:per_class] for label in range(10)]
    if min(len(indices) for indices in by_class) < per_class:
        raise ValueError(f"{split.dataset} test has fewer than {per_class} images of a class")
    return np.stack(by_class, axis=1).reshape(-1)


def build_samples(root: str | Path, out: Path = SAMPLES_FILE) -> dict[str, int]:
    """Write the sample file and its provenance from ``root``'s test splits; image counts."""
    # The builder records provenance like a checkpoint does; the reader needs none of it.
    from hw3lab.checkpoints import atomic_path, run_provenance, write_json

    arrays, counts = {}, {}
    for dataset in DATASETS:
        split = load_split(dataset, "test", root, use_cache=False)
        picked = pick_digits(split) if dataset != "face" else np.arange(FACES)
        arrays[f"{dataset}_images"] = split.images[picked]
        arrays[f"{dataset}_targets"] = split.targets[picked]
        arrays[f"{dataset}_names"] = np.asarray(split.names, dtype=str)[picked]
        counts[dataset] = len(picked)
    with atomic_path(out) as temporary:
        with open(temporary, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    write_json(out.with_suffix(".json"), {
        **run_provenance(),
        "file": out.name, "bytes": out.stat().st_size,
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "datasets": {d: {"images": counts[d], "split": f"hw3_data/{_folder(d)}/test",
                         "chosen": (f"the first {PER_CLASS} images of each class in file-name "
                                    "order" if d != "face" else f"the first {FACES} images"),
                         "source": PROVENANCE[d][0], "terms": PROVENANCE[d][1]}
                     for d in DATASETS},
        "terms": "Each image keeps its dataset's terms; use them for research and education "
                 "only. See hw3_data/PROVENANCE.md.",
    })
    return counts


def _folder(dataset: str) -> str:
    return "face" if dataset == "face" else f"digits/{dataset}"


@functools.cache
def load_sample(dataset: str, path: Path = SAMPLES_FILE) -> Split | None:
    """The shipped sample of ``dataset`` as a split named 'sample', or None if not shipped."""
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as archive:
        return Split(dataset, "sample", archive[f"{dataset}_images"],
                     archive[f"{dataset}_targets"], tuple(archive[f"{dataset}_names"].tolist()))


@cli.command
def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(description="Rebuild the lab's sample of real test images "
                                "from hw3_data's test splits.")
    parser.add_argument("--data", default=None, help="hw3_data folder (else $HW3_DATA, else "
                        "./hw3_data)")
    parser.add_argument("--out", default=str(SAMPLES_FILE))
    args = parser.parse_args(argv)
    counts = build_samples(args.data, Path(args.out))
    print(f"wrote {args.out}: " + ", ".join(f"{n} {d}" for d, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
