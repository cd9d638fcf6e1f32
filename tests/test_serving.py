"""Serving a class from one shared link (issue 12), without a server: every event declares its
pool, and nothing about the server's folders reaches a visitor (the page, messages, cards)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from hw3lab.checkpoints import CheckpointError
from hw3lab.data.examples import render_digits
from hw3lab.devtools.random_checkpoints import make_checkpoints
from hw3lab.inference import DEFAULT_CHECKPOINTS
from hw3lab.lab import LabContext, digits, gan, models
from hw3lab.lab.context import PROJECT, public_name
from hw3lab.lab.served_files import OutputFolder
from hw3lab.ui.app import QUEUE_POLL_S, QUEUE_RECORDS, QUEUE_SIZE, build_lab
from hw3lab.ui.gradio_cache import Janitor
from hw3lab.ui.widgets import HEAVY, INTERACTIVE, POOLS, TSNE, bind, user_errors

TASK = "usps->mnistm"
HEAVY_EVENTS = {"digits_batch", "digits_batch_folder", "digits_recompute"}
TSNE_EVENTS = {"tsne_run", "vae_tsne_run", "digits_tsne"}


def private_folders(*folders: Path) -> list[str]:
    """Absolute paths no visitor may see: the given folders, the project and the home."""
    paths = {str(PROJECT), str(Path.home())}
    for folder in folders:
        paths |= {os.path.abspath(folder), os.path.realpath(folder)}
    return sorted(paths)


def leaks(text: str, folders: list[str]) -> list[str]:
    return [folder for folder in folders if folder in text]


@pytest.fixture(scope="module")
def private_lab(tmp_path_factory: pytest.TempPathFactory) -> tuple[LabContext, list[str]]:
    """A lab over checkpoints and data in folders whose paths must never be shown."""
    root = tmp_path_factory.mktemp("server-only-folder")
    checkpoints = make_checkpoints(root / "my-checkpoints")
    data = root / "hw3_data"
    (data / "digits").mkdir(parents=True)
    (data / "face").mkdir()
    return LabContext(checkpoints, data), private_folders(checkpoints, data)


def test_every_event_declares_its_pool(private_lab: tuple[LabContext, list[str]]) -> None:
    demo = build_lab(private_lab[0])
    assert demo.fns, "no events"
    # the idle queue's polling slowed down (fails if Gradio renames what it sets)
    assert demo._queue.sleep_when_free == QUEUE_POLL_S
    # and it neither summarises its events after each one nor keeps 10,000 of them
    assert demo._queue.ANAYLTICS_CACHE_FREQUENCY == sys.maxsize
    assert demo._queue.ANALYTICS_MAX_EVENTS == QUEUE_RECORDS
    assert QUEUE_RECORDS > QUEUE_SIZE + sum(POOLS.values())  # records of every event in flight
    for fn in demo.fns.values():
        what = f"event {fn.name!r} (api {fn.api_name!r})"
        assert fn.concurrency_id in POOLS, f"{what} has no pool of its own: {fn.concurrency_id}"
        assert fn.concurrency_limit == POOLS[fn.concurrency_id], what
    pools = {fn.api_name: fn.concurrency_id for fn in demo.fns.values() if fn.api_name}
    assert {name for name, pool in pools.items() if pool == HEAVY["concurrency_id"]} \
        == HEAVY_EVENTS
    assert {name for name, pool in pools.items() if pool == TSNE["concurrency_id"]} \
        == TSNE_EVENTS
    assert pools["digits_example"] == pools["vae_decode"] == INTERACTIVE["concurrency_id"]
    api = demo.get_api_info()["named_endpoints"]  # progress bars add no API parameter
    assert [p["parameter_name"] for p in api["/tsne_run"]["parameters"]] == \
        ["space", "count", "perplexity", "colouring"]
    assert [p["parameter_name"] for p in api["/digits_tsne"]["parameters"]] == ["task", "count"]


def test_the_served_page_names_no_server_folder(private_lab: tuple[LabContext, list[str]]
                                                ) -> None:
    ctx, folders = private_lab
    demo = build_lab(ctx)
    page = json.dumps(demo.get_config_file(), default=str)
    assert not leaks(page, folders)
    assert "`my-checkpoints`" in page and "`hw3_data`" in page  # the folders' own names
    assert public_name(DEFAULT_CHECKPOINTS) == "checkpoints"
    assert LabContext(DEFAULT_CHECKPOINTS).public_path(DEFAULT_CHECKPOINTS / "digits") == \
        "checkpoints/digits"


def test_messages_name_no_server_folder(private_lab: tuple[LabContext, list[str]],
                                        tmp_path: Path) -> None:
    ctx, folders = private_lab
    empty = LabContext(tmp_path / "no-checkpoints", tmp_path / "none")
    messages = [ctx.missing_family("vae"), ctx.missing_digits("svhn", "usps", "dann"),
                digits.data_note(ctx), digits.data_note(empty)]
    for call, args in ((digits.classify_example, ("mnistm->svhn", 0)),
                       (digits.batch_csv, ("svhn->usps", "dann", None)),
                       (digits.recompute_accuracy, (TASK,))):
        with pytest.raises(gr.Error) as caught:
            bind(call, ctx)(*args)
        messages.append(str(caught.value))
    assert "my-checkpoints/digits" in messages[1]
    assert not leaks("\n".join(messages), folders)
    assert not leaks("\n".join(messages[-1:]), private_folders(tmp_path))


def test_unexpected_errors_are_short_and_name_no_server_folder(
        private_lab: tuple[LabContext, list[str]]) -> None:
    ctx, folders = private_lab
    checkpoint = ctx.checkpoints / "vae.safetensors"

    def broken() -> None:
        raise OSError(f"[Errno 5] Input/output error: '{checkpoint}'")

    def damaged() -> None:
        raise CheckpointError(f"{checkpoint}: not a safetensors file")

    for function in (broken, damaged):
        with pytest.raises(gr.Error) as caught:
            user_errors(function, ctx.redact)()
        assert not leaks(str(caught.value), folders)
        assert "my-checkpoints/vae.safetensors" in str(caught.value)


def test_model_cards_name_no_server_folder(private_lab: tuple[LabContext, list[str]]) -> None:
    ctx, folders = private_lab
    manifest = ctx.checkpoints / "manifest.json"
    entries = json.loads(manifest.read_text())
    saved = manifest.read_text()
    entries["checkpoints"]["vae"]["command"] = (f"python -m train.vae --data {ctx.data_root} "
                                                f"--out {ctx.checkpoints}")
    entries["checkpoints"]["vae"]["data"] = {"path": str(ctx.data_root / "face")}
    manifest.write_text(json.dumps(entries))
    try:
        text = models.model_card(ctx, "vae") + json.dumps(models.model_cards(ctx))
    finally:
        manifest.write_text(saved)
    assert "--data hw3_data --out my-checkpoints" in text and "hw3_data/face" in text
    assert not leaks(text, folders)


def test_the_output_folder_keeps_within_its_size_and_age(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path / "out", max_bytes=10_000, max_age_s=100, min_age_s=5)
    first = folder.write("a.bin", b"a" * 4000)
    assert folder.write("again.bin", b"a" * 4000).parent == first.parent  # by content
    assert folder.write("a.bin", b"a" * 4000) == first  # the same file, only touched
    paths = [folder.write(f"{i}.bin", bytes([i]) * 4000) for i in range(6)]
    now = time.time()
    for age, path in zip((50, 40, 30, 20, 10, 1), paths, strict=True):
        os.utime(path, (now - age, now - age))
    os.utime(first, (now - 500, now - 500))
    pruned = folder.prune(keep=[str(paths[0])], now=now)
    assert str(first) in pruned.deleted  # past the age cap
    assert not first.parent.exists() or any(first.parent.iterdir())
    # then the oldest until within 10,000 bytes, sparing the kept one and the youngest
    assert pruned.bytes <= 10_000 + 4000 and paths[0].exists() and paths[5].exists()
    assert not paths[1].exists() and not paths[2].exists()
    assert folder.usage() == (pruned.files, pruned.bytes)
    later = folder.prune(now=now + 1000)
    assert later.files == 0 and later.folders_removed >= 1
    assert not [p for p in folder.root.rglob("*") if p.is_dir()]


def test_the_janitor_tells_gradio_which_files_are_gone(tmp_path: Path,
                                                       private_lab: tuple[LabContext, list[str]]
                                                       ) -> None:
    folder = OutputFolder(tmp_path / "cache", max_bytes=0, max_age_s=0, min_age_s=0)
    demo = build_lab(private_lab[0])
    old = folder.write_png(np.zeros((8, 8, 3), np.uint8), "old.png")
    shown = folder.write_png(np.ones((8, 8, 3), np.uint8), "shown.png")
    demo.upload_file_set.update({str(old), str(shown)})
    next(iter(demo.blocks.values())).keep_in_cache.add(str(shown))
    Janitor(demo, folder).prune()
    assert not old.exists() and shown.exists()
    assert str(old) not in demo.upload_file_set and str(shown) in demo.upload_file_set


def test_downloads_go_to_the_lab_output_folder(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = OutputFolder(tmp_path / "out")
    ctx = LabContext(make_checkpoints(tmp_path / "ckpt", methods=("dann",)), tmp_path / "none",
                     outputs=outputs)
    # a temp folder of the test's own: other processes writing to /tmp cannot disturb it
    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    before = set(os.listdir(tempfile.gettempdir()))
    png = gan.face(ctx, 3)
    _, gif = gan.interpolate(ctx, 1, 2, 3)
    images, _ = render_digits("usps", 2)
    for i, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / f"{i}.png")
    csv, _ = digits.batch_csv(ctx, TASK, "dann", [str(tmp_path / "0.png"),
                                                  str(tmp_path / "1.png")])
    for path in (png, gif, csv):
        assert Path(path).is_relative_to(outputs.root)
    assert Image.open(gif).n_frames == 4 and Path(csv).read_text().startswith("image_name")
    assert set(os.listdir(tempfile.gettempdir())) <= before
