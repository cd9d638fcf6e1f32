"""Shared test setup: an isolated cache per test, the real data root when present, generated
data and checkpoints, one lab context, and one running lab for the whole session.

``pytest -m "not slow"`` leaves out what starts the lab or a training process, reads the real
data, or runs long.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import torch

from hw3lab.devtools.fixture_data import write_hw3_data
from hw3lab.devtools.random_checkpoints import TINY_WIDTH, make_checkpoints
from hw3lab.devtools.running_lab import running_lab
from hw3lab.devtools.timelines import add_timelines
from hw3lab.lab import LabContext
from hw3lab.lab.tsne_rebuild import rebuild
from hw3lab.lab.tsne_spaces import VAE_LATENTS
from hw3lab.methods import TASKS

if TYPE_CHECKING:
    from gradio_client import Client

# Offline and private, as app.py runs: set before any test imports gradio_client.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# One intra-op thread, as the lab serves: the tests' models are small, and torch's threads
# spin-wait when other processes hold the cores (a test run then took several times longer).
torch.set_num_threads(1)
REPO = Path(__file__).resolve().parent.parent
AUTH = ("student", "hw3-secret")


def real_data_root() -> Path | None:
    """``$HW3_DATA`` or ``../shared/hw3_data`` beside the checkout, if it holds the layout."""
    for candidate in (os.environ.get("HW3_DATA"), REPO.parent / "shared" / "hw3_data"):
        if candidate and (Path(candidate) / "digits").is_dir():
            return Path(candidate)
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Real-data tests read whole splits: they count as slow."""
    for item in items:
        if item.get_closest_marker("real_data"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def _private_temp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """This process's temp folder is one of the session's: gradio_client leaves an empty
    folder in the system temp folder for every file it downloads (30 per run of
    tests/test_app.py), and the tests would pile them up in /tmp."""
    previous = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("system-temp"))
    yield
    tempfile.tempdir = previous


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
                    request: pytest.FixtureRequest) -> None:
    """Unit tests never read or write the user's cache; real-data tests share one session
    cache so each split is decoded once per run."""
    if request.node.get_closest_marker("real_data"):
        cache = Path(os.environ.get("HW3LAB_CACHE") or Path.home() / ".cache" / "hw3lab")
    else:
        cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("HW3LAB_CACHE", str(cache))


@pytest.fixture
def real_data() -> Path:
    root = real_data_root()
    if root is None:
        pytest.skip("real hw3_data not found ($HW3_DATA or ../shared/hw3_data)")
    return root


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hw3_data layout, 12 random images per split (digit labels 0-9 cycling)."""
    return write_hw3_data(tmp_path_factory.mktemp("hw3_data"), per_split=12)


@pytest.fixture(scope="session")
def random_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny random faces and every digit task and method: for the figures and predict."""
    return make_checkpoints(tmp_path_factory.mktemp("checkpoints"), width=TINY_WIDTH,
                            tasks=TASKS)


@pytest.fixture(scope="session")
def lab_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small random faces and every registered method for usps->mnistm, the faces and DANN
    with a training timeline, the VAE latents' default t-SNE view precomputed (as shipped):
    what the lab tests run on."""
    folder = make_checkpoints(tmp_path_factory.mktemp("lab-checkpoints"))
    add_timelines(folder)
    rebuild(LabContext(folder, folder / "no-data"), log=lambda _: None, spaces=(VAE_LATENTS,))
    return folder


@pytest.fixture(scope="session")
def lab(lab_checkpoints: Path, tmp_path_factory: pytest.TempPathFactory) -> LabContext:
    """One lab context (no data) for every test that calls the lab's operations directly;
    tests that damage checkpoints make their own."""
    return LabContext(lab_checkpoints, tmp_path_factory.mktemp("no-data") / "hw3_data")


@dataclass(frozen=True)
class RunningLab:
    """``python app.py`` serving on 127.0.0.1 behind ``--auth`` :data:`AUTH`."""

    url: str
    log: Path
    gradio_cache: Path  # Gradio's GRADIO_TEMP_DIR: where the images it serves are written


@pytest.fixture(scope="session")
def running(lab_checkpoints: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[RunningLab]:
    """The one lab process of the session (random small checkpoints, no data, --auth)."""
    cache = tmp_path_factory.mktemp("gradio")
    with running_lab("--checkpoints", str(lab_checkpoints), "--data",
                     str(tmp_path_factory.mktemp("empty") / "hw3_data"),
                     "--auth", ":".join(AUTH),
                     env={"GRADIO_TEMP_DIR": str(cache)}) as (url, log, _):
        yield RunningLab(url, log, cache)


@pytest.fixture(scope="session")
def client(running: RunningLab) -> Client:
    """A logged-in ``gradio_client`` of the session's lab."""
    from gradio_client import Client  # on use: only the tests of the running lab need it

    return Client(running.url, auth=AUTH, verbose=False)
