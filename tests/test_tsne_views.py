"""Precomputed default t-SNE views (hw3lab/lab/tsne_views.py, tsne_queue.py, tsne_rebuild.py):
a view whose file matches its
checkpoint and inputs answers without computing; a missing or stale file falls back to
computing; the shipped files match the shipped checkpoints; a computation shows its place in
line and its progress, and default views never wait behind other settings."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from hw3lab import limits
from hw3lab.analysis import tsne as tsne_core
from hw3lab.checkpoints import save_checkpoint
from hw3lab.devtools.random_checkpoints import make_checkpoints
from hw3lab.inference import DEFAULT_CHECKPOINTS
from hw3lab.lab import (
    LabContext,
    digits,
    tsne,
    tsne_queue,
    tsne_rebuild,
    tsne_spaces,
    tsne_views,
)
from hw3lab.methods import METHODS, digit_checkpoint
from hw3lab.models import Extractor, Predictor

TASK = "usps->mnistm"
DEFAULT = (int(limits.TSNE_POINTS.default), float(limits.TSNE_PERPLEXITY.default))


class FakeTsne:
    """Stands in for scikit-learn's t-SNE: counts calls, answers the features' first two
    columns (or, when ``fail``, refuses to be called)."""

    def __init__(self, fail: bool = False, seconds: float = 0.0) -> None:
        self.calls, self.fail, self.seconds = 0, fail, seconds

    def __call__(self, features: np.ndarray, perplexity: float = 30.0,
                 seed: int = 0) -> np.ndarray:
        if self.fail:
            raise AssertionError("computed a t-SNE that should have been precomputed")
        self.calls += 1
        time.sleep(self.seconds)
        return np.ascontiguousarray(features[:, :2], np.float32) + self.calls


@pytest.fixture
def views(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LabContext:
    """A fresh lab over random checkpoints whose default views were rebuilt (by the fake)."""
    monkeypatch.setattr(tsne_core, "tsne_2d", FakeTsne())
    checkpoints = make_checkpoints(tmp_path / "checkpoints")
    written = tsne_rebuild.rebuild(LabContext(checkpoints, tmp_path / "no-data"),
                                   log=lambda line: None)
    # the latents, each method (both counts: 200 sample points)
    assert len(written) == 1 + len(METHODS)
    return LabContext(checkpoints, tmp_path / "no-data")  # its own lanes, no view in memory


def test_a_matching_view_answers_without_computing(views: LabContext,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tsne_core, "tsne_2d", FakeTsne(fail=True))
    picture, embedded = tsne.run_tsne(views, f"{TASK} dann", *DEFAULT, "class")
    stored = tsne_views.load_view(tsne_views.view_file(views.checkpoints, f"{TASK} dann", 200,
                                                       DEFAULT[1]))
    assert stored is not None and isinstance(picture, dict)  # a Vega-Lite spec
    np.testing.assert_array_equal(embedded.points, stored[0])
    tsne.run_tsne(views, tsne.VAE_SPACE, *DEFAULT, "Smiling")
    assert "hconcat" in digits.feature_tsne(views, TASK, tsne_spaces.FEATURE_TSNE_POINTS)


def test_each_file_records_the_checkpoint_it_was_computed_from(views: LabContext) -> None:
    for path in (views.checkpoints / tsne_views.FOLDER).glob("*.npz"):
        found = tsne_views.load_view(path)
        assert found is not None
        points, about = found
        checkpoint = views.checkpoints / about["checkpoint"]
        assert (about["checkpoint_sha256"], about["checkpoint_bytes"]) == \
            tsne_views.file_sha256(checkpoint)
        assert points.shape == (about["points"], 2)


def test_a_stale_or_missing_view_is_computed(views: LabContext,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeTsne()
    monkeypatch.setattr(tsne_core, "tsne_2d", fake)
    space = f"{TASK} dann"
    stored = tsne_views.load_view(tsne_views.view_file(views.checkpoints, space, 200, 30))
    assert stored is not None
    # new weights land under the same name: the file no longer matches
    torch.manual_seed(1)
    save_checkpoint(digit_checkpoint(views.checkpoints, "usps", "mnistm", "dann"),
                    {"extractor": Extractor(), "predictor": Predictor()},
                    {"family": "digits", "method": "dann", "grey": True})
    fresh = LabContext(views.checkpoints, views.data_root or "none")
    _, embedded = tsne.run_tsne(fresh, space, *DEFAULT, "class")
    assert fake.calls == 1 and not np.array_equal(embedded.points, stored[0])
    # no file at all
    tsne_views.view_file(views.checkpoints, f"{TASK} adda", 200, 30).unlink()
    tsne.run_tsne(fresh, f"{TASK} adda", *DEFAULT, "class")
    assert fake.calls == 2
    # other inputs (another number of points) are another view
    tsne.run_tsne(fresh, f"{TASK} source_only", 100, 30, "class")
    assert fake.calls == 3


class GatedTsne(FakeTsne):
    """A fake t-SNE that runs until the test opens the gate, counting the runs under way."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.running = 0

    def __call__(self, features: np.ndarray, perplexity: float = 30.0,
                 seed: int = 0) -> np.ndarray:
        self.running += 1
        self.gate.wait(60)
        return super().__call__(features, perplexity, seed)


def until(condition: Callable[[], bool], seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_progress_place_in_line_and_a_lane_for_default_views(
        views: LabContext, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = GatedTsne()
    monkeypatch.setattr(tsne_core, "tsne_2d", fake)
    lanes = views.tsne.lanes
    for path in (views.checkpoints / tsne_views.FOLDER).glob("*.npz"):
        path.unlink()  # every default view must be computed
    reports: dict[str, list[str]] = {"a": [], "b": [], "c": [], "default": []}

    def ask(name: str, space: str, count: int, perplexity: float) -> threading.Thread:
        def run() -> None:
            with tsne_queue.reporting(lambda fraction, text: reports[name].append(text)):
                tsne.run_tsne(views, space, count, perplexity, "class")
        thread = threading.Thread(target=run)
        thread.start()
        return thread

    threads = [ask("a", f"{TASK} dann", 100, 20)]
    until(lambda: fake.running == 1)
    # b is queued before c is asked for, so that c has two runs ahead of it (a and b)
    threads.append(ask("b", f"{TASK} dann", 150, 20))
    until(lambda: lanes["other"].waiting() == 1)
    threads.append(ask("c", f"{TASK} adda", 150, 20))
    until(lambda: lanes["other"].waiting() == 2)
    threads.append(ask("default", f"{TASK} adda", *DEFAULT))
    until(lambda: fake.running == 2)  # the default view runs while three others wait
    until(lambda: any("2 t-SNE runs ahead of yours" in text for text in reports["c"]))
    until(lambda: any("computing t-SNE of 100 points" in text for text in reports["a"]))
    fake.gate.set()
    for thread in threads:
        thread.join(120)
    assert fake.calls == 4 and all(not thread.is_alive() for thread in threads)


def test_the_shipped_views_match_the_shipped_checkpoints() -> None:
    """Fails when new checkpoints land without ``python -m hw3lab.lab.tsne_rebuild``."""
    folder = DEFAULT_CHECKPOINTS / tsne_views.FOLDER
    files = sorted(folder.glob("*.npz"))
    ctx = LabContext(DEFAULT_CHECKPOINTS, folder / "no-data")
    covered = set()
    for path in files:
        found = tsne_views.load_view(path)
        assert found is not None, path
        _, about = found
        checkpoint = DEFAULT_CHECKPOINTS / about["checkpoint"]
        assert (about["checkpoint_sha256"], about["checkpoint_bytes"]) == \
            tsne_views.file_sha256(checkpoint), f"{path.name} is stale: rerun the rebuild"
        covered.add(about["space"])
    expected = {space.name for space in tsne_spaces.FEATURE_SPACES
                if space.checkpoint(ctx.checkpoints).is_file()}
    assert expected <= covered, f"no precomputed view for {sorted(expected - covered)}"
