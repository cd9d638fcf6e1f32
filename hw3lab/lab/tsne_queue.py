"""t-SNE without a queue the user cannot see: the views that must be computed, one at a time
per lane, with their place in line and their progress.

A view that must be computed goes to one of two lanes, each one worker thread (t-SNE runs on
one core, :data:`hw3lab.runtime.TSNE_THREADS`): default views to their own lane, so that
recomputing one never waits behind other users' new settings; every other view to the second
lane, in order of arrival. A request for a view already being computed joins that
computation. While it waits, the request reports its place in its lane and then its progress
(estimated from the time t-SNE of that many points has taken) through the reporter the UI
installs with :func:`reporting`. A :class:`TsneQueue` belongs to one lab
(:class:`hw3lab.lab.context.LabContext` holds it), with the default views it has loaded or
computed, kept for the life of the lab.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

Reporter = Callable[[float, str], None]
# The reporter of the request being served: a context variable, so each request (each thread
# or task) reports to its own progress bar.
_REPORTER: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar("tsne_reporter",
                                                                            default=None)
# Seconds per point * log(points) before any run was timed (2,000 points took 2.6 s on an idle
# core).
FIRST_PACE = 2.6 / (2000 * np.log(2000))


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


class Pace:
    """How long t-SNE of N points takes, learned from the runs timed so far."""

    def __init__(self, seconds_per_point_log: float = FIRST_PACE) -> None:
        self.value = seconds_per_point_log

    def expected_seconds(self, points: int) -> float:
        return self.value * points * np.log(max(points, 2))

    def learn(self, points: int, seconds: float) -> None:
        self.value = 0.7 * self.value + 0.3 * seconds / (points * np.log(max(points, 2)))


class Lane:
    """Jobs computed in order of arrival by one worker thread, started on first use."""

    def __init__(self, name: str, pace: Pace | None = None) -> None:
        self.name = name
        self.pace = pace or Pace()
        self._jobs: deque[Job] = deque()
        self._running: Job | None = None
        self._condition = threading.Condition()
        self._worker: threading.Thread | None = None

    def submit(self, key: str, compute: Callable[[], np.ndarray], points: int) -> Job:
        with self._condition:
            for job in (self._running, *self._jobs):
                if job is not None and job.key == key:
                    return job  # the same view asked for again: one computation
            job = Job(key, compute, points, self.pace.expected_seconds(points))
            self._jobs.append(job)
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, daemon=True,
                                                name=f"tsne-{self.name}")
                self._worker.start()
            self._condition.notify()
            return job

    def waiting(self) -> int:
        """How many jobs wait (not counting the one running)."""
        with self._condition:
            return len(self._jobs)

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
                self.pace.learn(job.points, time.monotonic() - job.started)
            except BaseException as error:  # noqa: BLE001 - handed to every waiting request
                job.error = error
            with self._condition:
                self._running = None
            job.done.set()


class TsneQueue:
    """One lab's t-SNE lanes ("default" and "other", sharing one learned pace), the default
    views it has loaded or computed (by their key), and its ``recent`` other results (by
    :func:`hw3lab.analysis.tsne.cache_key`), so that a repeated setting is instant."""

    def __init__(self, recent: int = 32) -> None:
        pace = Pace()
        self.lanes = {"default": Lane("default", pace), "other": Lane("other", pace)}
        self._views: dict[str, np.ndarray] = {}
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._most_recent = recent
        self._lock = threading.Lock()

    def recent(self, key: str) -> np.ndarray | None:
        with self._lock:
            if key in self._recent:
                self._recent.move_to_end(key)
                return self._recent[key]
        return None

    def keep_recent(self, key: str, points: np.ndarray) -> None:
        with self._lock:
            self._recent[key] = points
            while len(self._recent) > self._most_recent:
                self._recent.popitem(last=False)

    def view(self, key: str) -> np.ndarray | None:
        with self._lock:
            return self._views.get(key)

    def keep_view(self, key: str, points: np.ndarray) -> None:
        with self._lock:
            self._views[key] = points

    def compute(self, key: str, compute: Callable[[], np.ndarray], points: int, default: bool,
                what: str) -> np.ndarray:
        """``compute()``'s result, run in its lane (joining a run of the same ``key``),
        reporting its place in line and its progress meanwhile."""
        lane = self.lanes["default" if default else "other"]
        return wait(lane, lane.submit(key, compute, points), what)


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
