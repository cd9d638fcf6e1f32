"""Gradio's cache as the lab serves it: one bounded folder, each image written once.

**One folder.** :func:`serving_outputs` points Gradio's cache (``GRADIO_TEMP_DIR``: its output
images and every upload) at the lab's :class:`~hw3lab.lab.served_files.OutputFolder`, where the lab
writes its downloads too, and :class:`Janitor` prunes that folder to its size and age caps
every few seconds, telling Gradio which of the files it tracks are gone (its sets of them
would otherwise grow with every request, for days). Gradio's own ``delete_cache`` is not used:
it knows only an age, and leaves a folder behind for every file.

**Each image once.** Gradio stores every output image under the hash of its bytes and rewrites
that file in place whenever a request produces the same image again (two students classifying
the same example). A download of the file at that moment reads it truncated: bench/load.py saw
'peer closed connection without sending complete message body (received 0 bytes)'. Here an
existing file is kept (and touched, so the age cap counts from its latest use) and a new one
is written to a temporary name and renamed into place. PNGs are named by their pixels, so a
picture already encoded (the same example again, or the lab's download of the picture shown)
is not encoded again, and are encoded by :func:`hw3lab.lab.served_files.png_bytes`, several times
faster than PIL at its default level, which took much of a request's CPU time
(bench/profile_server.py).

This replaces a Gradio function, so it checks first that the function is still there with the
signature it was written against (gradio 6.x), and refuses to start the lab otherwise.
"""

from __future__ import annotations

import inspect
import os
import sys
import threading
from pathlib import Path

import gradio as gr
from gradio import processing_utils
from PIL import Image

from hw3lab.lab.served_files import PRUNE_EVERY_S, OutputFolder, Pruned, store, store_png

EXPECTED_PARAMETERS = ("img", "cache_dir", "name", "format")


class GradioChangedError(RuntimeError):
    """The Gradio function the lab replaces is gone or changed: review this module."""


def save_pil_to_cache(img: Image.Image, cache_dir: str, name: str = "image",
                      format: str = "webp") -> str:
    """Gradio's ``processing_utils.save_pil_to_cache``, writing a new file only: a PNG named
    by its pixels (any PNG of the same pixels already there is served instead, such as the
    lab's download of the same picture), other formats by their bytes."""
    if format.lower() == "png":
        return str(store_png(Path(cache_dir).resolve(), img, f"{name}.png", any_name=True))
    data = processing_utils.encode_pil_to_bytes(img, format)
    path = (Path(cache_dir) / processing_utils.hash_bytes(data) / f"{name}.{format}").resolve()
    return str(store(path, data))


def atomic_gradio_image_cache() -> None:
    """Install :func:`save_pil_to_cache` in Gradio (once); raise :class:`GradioChangedError`
    if Gradio's own function is missing or takes other parameters."""
    current = getattr(processing_utils, "save_pil_to_cache", None)
    if current is save_pil_to_cache:
        return
    if current is None:
        raise GradioChangedError("gradio.processing_utils.save_pil_to_cache is gone: "
                                 "review hw3lab/ui/gradio_cache.py for this Gradio version")
    parameters = tuple(inspect.signature(current).parameters)
    if parameters != EXPECTED_PARAMETERS:
        raise GradioChangedError(
            f"gradio.processing_utils.save_pil_to_cache now takes {parameters}, not "
            f"{EXPECTED_PARAMETERS}: review hw3lab/ui/gradio_cache.py for this Gradio version")
    processing_utils.save_pil_to_cache = save_pil_to_cache


def serving_outputs() -> OutputFolder:
    """The served lab's one output folder: ``$GRADIO_TEMP_DIR`` when set, else a folder made
    for this process (removed when it exits), which Gradio is then told to use. Call before
    the app is built: Gradio reads the variable when it makes each component."""
    given = os.environ.get("GRADIO_TEMP_DIR")
    folder = OutputFolder(given or None)
    os.environ["GRADIO_TEMP_DIR"] = str(folder.root)
    return folder


class Janitor(threading.Thread):
    """Prunes ``folder`` every ``every_s`` seconds (a daemon thread) and removes the deleted
    files from the sets Gradio keeps of the files it wrote or received; files an app's
    components show from the start (Gradio's ``keep_in_cache``) are kept."""

    def __init__(self, demo: gr.Blocks, folder: OutputFolder,
                 every_s: float = PRUNE_EVERY_S) -> None:
        super().__init__(name="hw3lab-output-janitor", daemon=True)
        self.demo, self.folder, self.every_s = demo, folder, every_s
        self.last: Pruned | None = None
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.prune()
            except Exception as error:  # noqa: BLE001 - the lab keeps serving; said once a round
                print(f"hw3lab: pruning the output folder failed: {error}", file=sys.stderr)

    def prune(self) -> Pruned:
        keep = set()
        for block in list(self.demo.blocks.values()):
            keep.update(getattr(block, "keep_in_cache", ()))
        self.last = pruned = self.folder.prune(keep)
        if pruned.deleted:
            gone = set(pruned.deleted)
            for tracked in list(self.demo.temp_file_sets):
                # Gradio adds to these sets from other threads; set.difference_update holds
                # the interpreter lock throughout, so no addition is lost.
                tracked.difference_update(gone)
        return pruned

    def stop(self) -> None:
        self._stop.set()
