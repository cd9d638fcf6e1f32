"""``python -m hw3lab.lab.tsne_rebuild``: compute and write every precomputed default t-SNE
view (:mod:`hw3lab.lab.tsne_views`) beside the checkpoints; rerun it after new checkpoints
land::

    python -m hw3lab.lab.tsne_rebuild [--checkpoints checkpoints] [--data DIR]

(the shipped sample's views always; with hw3_data, its views too). It computes the views'
inputs as the tabs do (:mod:`hw3lab.lab.digits`), so it sits above them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hw3lab import cli, limits
from hw3lab.analysis import tsne as tsne_core
from hw3lab.inference import DEFAULT_CHECKPOINTS
from hw3lab.lab.context import LabContext
from hw3lab.lab.digits import digit_features
from hw3lab.lab.tsne_spaces import FEATURE_SPACES, FeatureSpace
from hw3lab.lab.tsne_views import FOLDER, SEED, identity, save_view, view_file, view_key


def view_inputs(ctx: LabContext, space: FeatureSpace, count: int) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    """(features, inputs) of ``count`` points of ``space``, as the t-SNE tab computes them."""
    if space.is_vae:
        latents = ctx.latents().mean[:count]
        return latents, latents
    assert space.source is not None and space.target is not None and space.method is not None
    features, images, _, _ = digit_features(ctx, space.source, space.target, space.method,
                                            count)
    return features, images


def rebuild(ctx: LabContext, log: Callable[[str], None] = print,
            spaces: tuple[FeatureSpace, ...] = FEATURE_SPACES) -> list[Path]:
    """Compute and write every default view of ``spaces`` (default: all) for ``ctx`` (its
    data, else the shipped sample)."""
    written: list[Path] = []
    done = set()
    perplexity = float(limits.TSNE_PERPLEXITY.default)
    for space in spaces:
        checkpoint = space.checkpoint(ctx.checkpoints)
        if not checkpoint.is_file():
            log(f"skipped {space}: no {checkpoint.name}")
            continue
        for count in space.default_counts():
            features, inputs = view_inputs(ctx, space, count)
            about = identity(ctx, space, inputs, perplexity)
            assert about is not None
            if view_key(about) in done:  # fewer points than asked for: the same view again
                continue
            done.add(view_key(about))
            start = time.monotonic()
            points = tsne_core.tsne_2d(features, perplexity, SEED)
            path = save_view(view_file(ctx.checkpoints, space.name, about["points"],
                                       about["perplexity"]), points, about)
            written.append(path)
            log(f"{ctx.public_path(path)}: {about['points']} points in "
                f"{time.monotonic() - start:.1f} s")
    return written


@cli.command
def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(description="Rebuild the precomputed default t-SNE views "
                                "beside the checkpoints (rerun after new checkpoints land).")
    parser.add_argument("--checkpoints", default=str(DEFAULT_CHECKPOINTS),
                        help="checkpoint folder (default: %(default)s)")
    parser.add_argument("--data", help="hw3_data folder: its views too (default: $HW3_DATA, "
                        "else ./hw3_data, if present)")
    args = parser.parse_args(argv)
    from hw3lab.runtime import set_cpu_threads

    set_cpu_threads(1)
    checkpoints = Path(args.checkpoints)
    folder = checkpoints / FOLDER
    old = set(folder.glob("*.npz")) if folder.is_dir() else set()
    # The shipped sample's views (a data folder that is never there), then hw3_data's.
    written = rebuild(LabContext(checkpoints, folder / "no-data"))
    with_data = LabContext(checkpoints, args.data)
    if with_data.data_root is not None:
        written += rebuild(with_data)
    for stale in old - set(written):
        stale.unlink()
        print(f"removed {with_data.public_path(stale)}: no default view any more")
    print(f"{len(written)} views in {with_data.public_path(folder)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
