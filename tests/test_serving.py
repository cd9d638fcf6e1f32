"""Serving a class from one shared link (issue 12), without a server: every event declares its
pool, and nothing about the server's folders reaches a visitor (the page, messages, cards)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import gradio as gr
import pytest

from hw3lab.checkpoints import CheckpointError
from hw3lab.inference import DEFAULT_CHECKPOINTS
from hw3lab.lab import LabContext, digits, models
from hw3lab.lab.context import PROJECT, public_name
from hw3lab.ui.app import build_lab
from hw3lab.ui.widgets import HEAVY, INTERACTIVE, POOLS, bind, user_errors
from tests.random_checkpoints import make_checkpoints

TASK = "usps->mnistm"
HEAVY_EVENTS = {"digits_batch", "digits_batch_folder", "digits_recompute"}


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
    for fn in demo.fns.values():
        what = f"event {fn.name!r} (api {fn.api_name!r})"
        assert fn.concurrency_id in POOLS, f"{what} has no pool of its own: {fn.concurrency_id}"
        assert fn.concurrency_limit == POOLS[fn.concurrency_id], what
    pools = {fn.api_name: fn.concurrency_id for fn in demo.fns.values() if fn.api_name}
    assert {name for name, pool in pools.items() if pool == HEAVY["concurrency_id"]} \
        >= HEAVY_EVENTS
    assert pools["digits_example"] == pools["vae_decode"] == INTERACTIVE["concurrency_id"]


def test_the_served_page_names_no_server_folder(private_lab: tuple[LabContext, list[str]]
                                                ) -> None:
    ctx, folders = private_lab
    demo = build_lab(ctx)
    page = json.dumps(demo.get_config_file(), default=str)
    assert not leaks(page, folders)
    assert "`my-checkpoints`" in page and "`hw3_data`" in page  # the folders' own names
    assert public_name(DEFAULT_CHECKPOINTS) == "checkpoints"
    assert LabContext(DEFAULT_CHECKPOINTS).shown(DEFAULT_CHECKPOINTS / "digits") == \
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
