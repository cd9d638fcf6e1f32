"""t-SNE without a queue: default views shipped precomputed, the rest computed one at a time
with their progress and their place in line shown.

**Precomputed views.** Every default view (each feature space of :data:`hw3lab.lab.tsne.SPACES`
at the t-SNE tab's default points and perplexity, and each task and method at the digits tab's
default points) ships as a small array file beside the checkpoints, ``<checkpoints>/tsne/``:
the points (N, 2) and what they were computed from, the checkpoint's name, size and SHA-256,
the SHA-256 of the input images (or latents), the number of points, the perplexity, the seed
and the t-SNE settings. A request for a view whose file matches all of these is answered at
once; a missing file, or one computed from another checkpoint or other inputs (new checkpoints
landed, or hw3_data is used instead of the shipped sample), falls back to computing. The
inputs, not the features, are hashed: features differ in their last bits between machines,
images and latent files do not. Rebuild every file after new checkpoints land::

    python -m hw3lab.lab.tsne_cache [--checkpoints checkpoints] [--data DIR]

(the shipped sample's views always; with hw3_data, its views too).

**Computing without a queue.** A view that must be computed goes to one of two lanes, each one
worker thread (t-SNE runs on one core, :data:`hw3lab.runtime.TSNE_THREADS`): default views to
their own lane, so that recomputing one never waits behind other users' new settings; every
other view to the second lane, in order of arrival. A request for a view already being
computed joins that computation. While it waits, the request reports its place in its lane
and then its progress (estimated from the time t-SNE of that many points takes) through the
reporter the UI installs with :func:`reporting`; a computed default view is kept for the
life of the process.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hw3lab import cli, limits
from hw3lab.analysis import tsne as tsne_core
from hw3lab.analysis.latents import LATENTS_FILE
from hw3lab.inference import DEFAULT_CHECKPOINTS
from hw3lab.lab.context import TASK_NAMES, LabContext, parse_task
from hw3lab.methods import METHODS, digit_checkpoint

FOLDER = "tsne"  # under the checkpoint folder
VAE_SPACE = "VAE latents"  # as hw3lab.lab.tsne names it
FEATURE_TSNE_POINTS = 400  # the digits tab's t-SNE of every method: its default points
SEED = 0
Reporter = Callable[[float, str], None]
_REPORTER: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar("tsne_reporter",
                                                                            default=None)


# -- what a view is computed from -----------------------------------------------------------

def default_counts(space: str) -> tuple[int, ...]:
    """The point counts a space's default views are drawn at."""
    if space == VAE_SPACE:
        return (int(limits.TSNE_POINTS.default),)
    return (int(limits.TSNE_POINTS.default), FEATURE_TSNE_POINTS)


def default_spaces() -> list[str]:
    """Every space with default views: the VAE's latents, each task and method."""
    return [VAE_SPACE, *(f"{task} {method}" for task in TASK_NAMES for method in METHODS)]


def checkpoint_of(ctx: LabContext, space: str) -> Path | None:
    """The file a space's features come from (the latents file, a method's checkpoint), or
    None for a space no file stands for (a session's own model)."""
    if space == VAE_SPACE:
        return ctx.checkpoints / LATENTS_FILE
    task, _, method = space.partition(" ")
    if task not in TASK_NAMES or method not in METHODS:
        return None
    return digit_checkpoint(ctx.checkpoints, *parse_task(task), method)


_SHA_LOCK = threading.Lock()
_SHAS: dict[tuple[str, int, int, int], str] = {}


def file_sha256(path: Path) -> tuple[str, int]:
    """(SHA-256, size) of a file, read again only when its size or time changes."""
    status = path.stat()
    key = (str(path), status.st_size, status.st_mtime_ns, status.st_ino)
    with _SHA_LOCK:
        if key in _SHAS:
            return _SHAS[key], status.st_size
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    with _SHA_LOCK:
        _SHAS[key] = digest.hexdigest()
    return _SHAS[key], status.st_size


def array_sha256(array: np.ndarray) -> str:
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{array.shape}|{array.dtype}".encode())
    digest.update(array.data)
    return digest.hexdigest()


def identity(ctx: LabContext, space: str, inputs: np.ndarray,
             perplexity: float) -> dict[str, Any] | None:
    """Everything a view's points depend on, or None if no checkpoint file stands for it."""
    checkpoint = checkpoint_of(ctx, space)
    if checkpoint is None or not checkpoint.is_file():
        return None
    sha, size = file_sha256(checkpoint)
    return {"space": space, "checkpoint": checkpoint.relative_to(ctx.checkpoints).as_posix(),
            "checkpoint_sha256": sha, "checkpoint_bytes": size,
            "inputs_sha256": array_sha256(inputs), "points": len(inputs),
            "perplexity": float(tsne_core.effective_perplexity(len(inputs), perplexity)),
            "seed": SEED, "iterations": tsne_core.ITERATIONS, "angle": tsne_core.ANGLE}


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


_VIEWS_LOCK = threading.Lock()
_VIEWS: dict[str, np.ndarray] = {}  # identity key -> points: loaded or computed default views


def _key(about: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(about, sort_keys=True).encode()).hexdigest()


def precomputed(ctx: LabContext, about: dict[str, Any]) -> np.ndarray | None:
    """The points of a view whose file matches ``about`` exactly, else None (stale or
    missing: the caller computes)."""
    key = _key(about)
    with _VIEWS_LOCK:
        if key in _VIEWS:
            return _VIEWS[key]
    found = load_view(view_file(ctx.checkpoints, about["space"], about["points"],
                                about["perplexity"]))
    if found is None or found[1] != about or len(found[0]) != about["points"]:
        return None
    with _VIEWS_LOCK:
        _VIEWS[key] = found[0]
    return found[0]


# -- computing, one at a time per lane --------------------------------------------------------

@dataclass
class Job:
    """One t-SNE computation: its key (requests for the same view share it), what computes
    it, and how long it is expected to take."""

    key: str
    compute: Callable[[], np.ndarray]
    points: int
    expected_s: float
    done: threading.Event = field(default_factory=threading.Event)
    started: float | None = None
    result: np.ndarray | None = None
    error: BaseException | None = None


class Lane:
    """Jobs computed in order of arrival by one worker thread, started on first use."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: deque[Job] = deque()
        self._running: Job | None = None
        self._condition = threading.Condition()
        self._worker: threading.Thread | None = None

    def submit(self, key: str, compute: Callable[[], np.ndarray], points: int) -> Job:
        with self._condition:
            for job in (self._running, *self._jobs):
                if job is not None and job.key == key:
                    return job  # the same view asked for again: one computation
            job = Job(key, compute, points, expected_seconds(points))
            self._jobs.append(job)
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, daemon=True,
                                                name=f"tsne-{self.name}")
                self._worker.start()
            self._condition.notify()
            return job

    def ahead_of(self, job: Job) -> int:
        """How many computations run or wait before ``job`` (0 once it runs)."""
        with self._condition:
            if job is self._running or job.done.is_set():
                return 0
            try:
                return list(self._jobs).index(job) + (self._running is not None)
            except ValueError:
                return 0

    def _work(self) -> None:
        while True:
            with self._condition:
                while not self._jobs:
                    self._condition.wait()
                job = self._running = self._jobs.popleft()
            job.started = time.monotonic()
            try:
                job.result = job.compute()
                _learn(job.points, time.monotonic() - job.started)
            except BaseException as error:  # noqa: BLE001 - handed to every waiting request
                job.error = error
            with self._condition:
                self._running = None
            job.done.set()


LANES = {"default": Lane("default"), "other": Lane("other")}
# Seconds per point * log(points) of recent runs (2,000 points took 2.6 s on an idle core).
_PACE = [2.6 / (2000 * np.log(2000))]


def expected_seconds(points: int) -> float:
    return _PACE[0] * points * np.log(max(points, 2))


def _learn(points: int, seconds: float) -> None:
    _PACE[0] = 0.7 * _PACE[0] + 0.3 * seconds / (points * np.log(max(points, 2)))


@contextlib.contextmanager
def reporting(reporter: Reporter) -> Iterator[None]:
    """Within the block, a computation's place in line and progress go to
    ``reporter(fraction, text)`` (the UI's progress bar)."""
    token = _REPORTER.set(reporter)
    try:
        yield
    finally:
        _REPORTER.reset(token)


def wait(lane: Lane, job: Job, what: str) -> np.ndarray:
    """``job``'s result, reporting its place in ``lane`` and its progress meanwhile."""
    report = _REPORTER.get()
    while not job.done.wait(0.25 if report else None):
        ahead = lane.ahead_of(job)
        if ahead:
            report(0.0, f"{what}: {ahead} t-SNE run{'s' if ahead > 1 else ''} ahead of yours "
                        "(one runs at a time)")
        elif job.started is not None:
            elapsed = time.monotonic() - job.started
            left = max(job.expected_s - elapsed, 1.0)
            report(min(0.95, elapsed / max(job.expected_s, 1e-3)),
                   f"{what}: computing t-SNE of {job.points} points, about {left:.0f} s left")
    if job.error is not None:
        raise job.error
    assert job.result is not None
    return job.result


def embed(ctx: LabContext, space: str, count: int, perplexity: float, features: np.ndarray,
          inputs: np.ndarray | None = None) -> np.ndarray:
    """(N, 2) t-SNE points of ``features`` (the ``count`` points of ``space`` asked for,
    computed from ``inputs``: the images, or the latents): a precomputed default view if its
    file matches, else from the cache of recent results, else computed in its lane."""
    about = None if inputs is None else identity(ctx, space, inputs, perplexity)
    if about is not None:
        points = precomputed(ctx, about)
        if points is not None:
            return points
    cached = tsne_core.cached(features, perplexity, SEED)
    if cached is not None:
        return cached
    default = (about is not None and count in default_counts(space)
               and perplexity == limits.TSNE_PERPLEXITY.default)
    lane = LANES["default" if default else "other"]
    key = _key(about) if about is not None else tsne_core.cache_key(features, perplexity, SEED)
    job = lane.submit(key, lambda: tsne_core.tsne_2d(features, perplexity, SEED), len(features))
    points = wait(lane, job, space)
    if default:
        with _VIEWS_LOCK:
            _VIEWS[key] = points
    return points


# -- the rebuild command ----------------------------------------------------------------------

def view_inputs(ctx: LabContext, space: str, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(features, inputs) of ``count`` points of ``space``, as the t-SNE tab computes them."""
    from hw3lab.lab.digits import digit_features

    if space == VAE_SPACE:
        latents = ctx.latents().mean[:count]
        return latents, latents
    task, method = space.split()
    features, images, _, _ = digit_features(ctx, *parse_task(task), method, count)
    return features, images


def rebuild(ctx: LabContext, log: Callable[[str], None] = print) -> list[Path]:
    """Compute and write every default view of ``ctx`` (its data, else the shipped sample)."""
    written: list[Path] = []
    done = set()
    perplexity = float(limits.TSNE_PERPLEXITY.default)
    for space in default_spaces():
        checkpoint = checkpoint_of(ctx, space)
        if checkpoint is None or not checkpoint.is_file():
            log(f"skipped {space}: no {checkpoint.name if checkpoint else 'checkpoint'}")
            continue
        for count in default_counts(space):
            features, inputs = view_inputs(ctx, space, count)
            about = identity(ctx, space, inputs, perplexity)
            assert about is not None
            if _key(about) in done:  # fewer points than asked for: the same view again
                continue
            done.add(_key(about))
            start = time.monotonic()
            points = tsne_core.tsne_2d(features, perplexity, SEED)
            path = save_view(view_file(ctx.checkpoints, space, about["points"],
                                       about["perplexity"]), points, about)
            written.append(path)
            log(f"{ctx.shown(path)}: {about['points']} points in "
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
        print(f"removed {with_data.shown(stale)}: no default view any more")
    print(f"{len(written)} views in {with_data.shown(folder)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
