"""t-SNE views: what a view is computed from, its precomputed file, and :func:`embed`, which
answers a view from its file, from the cache of recent results, or by computing it in the
lab's :class:`~hw3lab.lab.tsne_queue.TsneQueue`.

**Precomputed views.** Every default view (each feature space of
:data:`hw3lab.lab.tsne_spaces.FEATURE_SPACES` at the t-SNE tab's default points and perplexity,
and each task and method at the digits tab's default points) ships as a small array file beside
the checkpoints, ``<checkpoints>/tsne/``: the points (N, 2) and what they were computed from,
the checkpoint's name, size and SHA-256, the SHA-256 of the input images (or latents), the
number of points, the perplexity, the seed and the t-SNE settings. A request for a view whose
file matches all of these is answered at once; a missing file, or one computed from another
checkpoint or other inputs (new checkpoints landed, or hw3_data is used instead of the shipped
sample), falls back to computing. The inputs, not the features, are hashed: features differ in
their last bits between machines, images and latent files do not. ``python -m
hw3lab.lab.tsne_rebuild`` writes every file again after new checkpoints land.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hw3lab import limits
from hw3lab.analysis import tsne as tsne_core
from hw3lab.digests import array_sha256, file_sha256
from hw3lab.lab.tsne_spaces import FeatureSpace, space_named

if TYPE_CHECKING:
    from hw3lab.lab.context import LabContext

FOLDER = "tsne"  # under the checkpoint folder
SEED = 0


# -- what a view is computed from -----------------------------------------------------------

def identity(ctx: LabContext, space: FeatureSpace, inputs: np.ndarray,
             perplexity: float) -> dict[str, Any] | None:
    """Everything a view's points depend on, or None if no checkpoint file stands for it."""
    if space_named(space.name) != space:  # not a registered space (a session's own model)
        return None
    checkpoint = space.checkpoint(ctx.checkpoints)
    if not checkpoint.is_file():
        return None
    sha, size = file_sha256(checkpoint)
    return {"space": space.name,
            "checkpoint": checkpoint.relative_to(ctx.checkpoints).as_posix(),
            "checkpoint_sha256": sha, "checkpoint_bytes": size,
            "inputs_sha256": array_sha256(inputs), "points": len(inputs),
            "perplexity": float(tsne_core.effective_perplexity(len(inputs), perplexity)),
            "seed": SEED, "iterations": tsne_core.ITERATIONS, "angle": tsne_core.ANGLE}


def view_key(about: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(about, sort_keys=True).encode()).hexdigest()


def view_file(checkpoints: Path, space: str, points: int, perplexity: float) -> Path:
    slug = space.replace("->", "-").replace(" ", "-").lower()
    return checkpoints / FOLDER / f"{slug}-{points}p-perplexity{perplexity:g}.npz"


# -- precomputed files ----------------------------------------------------------------------

def save_view(path: Path, points: np.ndarray, about: dict[str, Any]) -> Path:
    """Write a view's points and what they were computed from (no pickles)."""
    from hw3lab.checkpoints import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, points=np.asarray(points, np.float32),
                 about=np.array(json.dumps(about, sort_keys=True)))
    return path


def load_view(path: Path) -> tuple[np.ndarray, dict[str, Any]] | None:
    """A view file's points and record, or None if it is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return archive["points"].astype(np.float32), json.loads(str(archive["about"]))
    except (OSError, ValueError, KeyError):
        return None


def precomputed(ctx: LabContext, about: dict[str, Any]) -> np.ndarray | None:
    """The points of a view whose file matches ``about`` exactly, else None (stale or
    missing: the caller computes)."""
    key = view_key(about)
    known = ctx.tsne.view(key)
    if known is not None:
        return known
    found = load_view(view_file(ctx.checkpoints, about["space"], about["points"],
                                about["perplexity"]))
    if found is None or found[1] != about or len(found[0]) != about["points"]:
        return None
    ctx.tsne.keep_view(key, found[0])
    return found[0]


# -- a view, however it is found --------------------------------------------------------------

def embed(ctx: LabContext, space: FeatureSpace, count: int, perplexity: float,
          features: np.ndarray, inputs: np.ndarray | None = None) -> np.ndarray:
    """(N, 2) t-SNE points of ``features`` (the ``count`` points of ``space`` asked for,
    computed from ``inputs``: the images, or the latents): a precomputed default view if its
    file matches, else the lab's recent result for these features, else computed in its lane."""
    about = None if inputs is None else identity(ctx, space, inputs, perplexity)
    if about is not None:
        points = precomputed(ctx, about)
        if points is not None:
            return points
    recent_key = tsne_core.cache_key(features, perplexity, SEED)
    recent = ctx.tsne.recent(recent_key)
    if recent is not None:
        return recent
    default = (about is not None and count in space.default_counts()
               and perplexity == limits.TSNE_PERPLEXITY.default)
    key = view_key(about) if about is not None else recent_key
    points = ctx.tsne.compute(key, lambda: tsne_core.tsne_2d(features, perplexity, SEED),
                              len(features), default, space.name)
    ctx.tsne.keep_recent(recent_key, points)
    if default:
        ctx.tsne.keep_view(key, points)
    return points
