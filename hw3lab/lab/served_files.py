"""The one folder everything the lab serves is written to, bounded in size and age.

A shared link serves a class for days: every picture, GIF, download and upload lands in one
:class:`OutputFolder` (the UI points Gradio's cache at the same folder, so its images and
uploads are bounded by the same rule), and :meth:`OutputFolder.prune` deletes what is older
than the age cap, then the oldest files until the folder is within the size cap, then the
emptied folders. Files are stored by content (``<digest>/<name>``, as Gradio stores its own),
so the same picture asked for twice is one file, written once, atomically: a download in
progress never reads a file being rewritten. Nothing is written to the system's temporary
folder per request: a folder made for this process is one folder per process, removed at exit.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import os
import shutil
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from hw3lab.digests import array_sha256
from hw3lab.files import atomic_path

MB = 2**20
# Caps for a shared lab, overridable by environment variables (the soak bench sets small ones
# to show the folder levelling off within minutes). Pictures are sent inside the answers
# (hw3lab.ui.widgets.inline_png); what is fetched from here (uploads, GIFs, the batch CSV) is
# fetched within a lab session, which an hour covers. Under full load the size cap binds
# first: files then live minutes, never less than MIN_AGE_S.
MAX_BYTES = int(float(os.environ.get("HW3LAB_OUTPUT_MB", "512")) * MB)
MAX_AGE_S = float(os.environ.get("HW3LAB_OUTPUT_AGE_S", "3600"))
PRUNE_EVERY_S = float(os.environ.get("HW3LAB_OUTPUT_PRUNE_S", "30"))
MIN_AGE_S = 60.0  # never deleted younger: a request may still be reading or serving it
PNG_COMPRESSION = 1  # zlib level: 2-4x faster than level 6, files 10-30% larger


@dataclass
class Pruned:
    """What one :meth:`OutputFolder.prune` found and did."""

    files: int  # files left
    bytes: int  # their size
    deleted: list[str]  # absolute paths of the files deleted
    folders_removed: int


class OutputFolder:
    """Content-addressed files under ``root`` (default: a folder made for this process in the
    system's temporary folder, removed at exit), pruned to ``max_bytes`` and ``max_age_s``."""

    def __init__(self, root: str | os.PathLike | None = None, max_bytes: int = MAX_BYTES,
                 max_age_s: float = MAX_AGE_S, min_age_s: float = MIN_AGE_S) -> None:
        if root is None:
            root = tempfile.mkdtemp(prefix="hw3lab-outputs-")
            atexit.register(shutil.rmtree, root, ignore_errors=True)
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self.min_age_s = min_age_s
        self._lock = threading.Lock()

    # -- writing -------------------------------------------------------------------------------

    def write(self, name: str, data: bytes) -> Path:
        """``data`` as ``<root>/<digest>/<name>``: written once (atomically), touched when it
        exists already so that the age cap counts from its latest use."""
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        return store(self.root / digest / Path(name).name, data)

    def write_png(self, image: np.ndarray | Image.Image, name: str) -> Path:
        """An image as a PNG named ``name``, encoded once per picture (:func:`store_png`)."""
        return store_png(self.root, image, Path(name).name)

    # -- bounding ------------------------------------------------------------------------------

    def prune(self, keep: Iterable[str] = (), now: float | None = None) -> Pruned:
        """Delete files older than the age cap, then the oldest until the folder holds at most
        ``max_bytes`` (never a file younger than ``min_age_s``, nor one in ``keep``), then the
        folders left empty for ``min_age_s``. Safe to run while requests write."""
        now = time.time() if now is None else now
        keep = {os.path.abspath(path) for path in keep}
        with self._lock:
            files, folders = [], []
            for directory, subdirectories, names in os.walk(self.root):
                folders.extend(os.path.join(directory, d) for d in subdirectories)
                for name in names:
                    path = os.path.join(directory, name)
                    try:
                        status = os.lstat(path)
                    except FileNotFoundError:
                        continue
                    files.append((status.st_mtime, status.st_size, path))
            files.sort()  # oldest first
            total = sum(size for _, size, _ in files)
            deleted = []
            for mtime, size, path in files:
                age = now - mtime
                too_old = age > self.max_age_s
                too_big = total > self.max_bytes and age > self.min_age_s
                if path in keep or not (too_old or too_big):
                    continue
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
                total -= size
                deleted.append(path)
            removed = 0
            for folder in sorted(folders, key=len, reverse=True):  # deepest first
                try:
                    if now - os.lstat(folder).st_mtime > self.min_age_s:
                        os.rmdir(folder)  # only if empty
                        removed += 1
                except OSError:
                    pass
            return Pruned(len(files) - len(deleted), total, deleted, removed)

    def usage(self) -> tuple[int, int]:
        """(files, bytes) in the folder now."""
        count = size = 0
        for directory, _, names in os.walk(self.root):
            for name in names:
                try:
                    size += os.lstat(os.path.join(directory, name)).st_size
                    count += 1
                except FileNotFoundError:
                    pass
        return count, size


def store(path: Path, data: bytes) -> Path:
    """``data`` at ``path`` unless a file is there already (the path names its content), then
    only touched; written to a temporary name and renamed, so readers see a whole file."""
    for _ in range(3):  # a prune may remove the emptied folder between mkdir and write
        try:
            if path.is_file():
                os.utime(path)
                return path
            with atomic_path(path) as temporary:
                temporary.write_bytes(data)
            return path
        except FileNotFoundError:
            continue
    raise OSError(f"could not write {path.name} to the output folder")


PNG_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type


def _touched(path: Path) -> bool:
    """Whether ``path`` exists (its age cap now counting from now)."""
    try:
        os.utime(path)
        return True
    except FileNotFoundError:
        return False


def png_bytes(image: np.ndarray | Image.Image, level: int = PNG_COMPRESSION) -> bytes:
    """An 8-bit grey, RGB or RGBA image as PNG bytes, encoded here: every row with the Sub
    filter (a pixel minus its left neighbour), zlib at ``level``, no metadata. PIL's encoder
    tries five filters on every row: a digit request's probability chart took it 3.9 ms at
    level 1 (7.0 ms at its default 6), this 2 ms; a 32-face grid 31 ms (119 ms), this 23 ms.
    Other modes go through PIL."""
    array = np.asarray(image) if isinstance(image, Image.Image) and image.mode in (
        "L", "RGB", "RGBA") else image
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8 or array.ndim not in (2, 3):
        picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG", compress_level=level)
        return buffer.getvalue()
    height, width = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    rows = np.ascontiguousarray(array).reshape(height, width * channels)
    filtered = np.empty((height, width * channels + 1), np.uint8)
    filtered[:, 0] = 1  # Sub
    filtered[:, 1:channels + 1] = rows[:, :channels]
    np.subtract(rows[:, channels:], rows[:, :-channels], out=filtered[:, channels + 1:])
    header = struct.pack(">IIBBBBB", width, height, 8, PNG_COLOUR_TYPES[channels], 0, 0, 0)
    return b"".join((b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header),
                     _chunk(b"IDAT", zlib.compress(filtered.data, level)), _chunk(b"IEND", b"")))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data,
                                                                                   zlib.crc32(kind)))


def pixels_digest(array: np.ndarray) -> str:
    """A name for an image's pixels (shape and values): the same picture, the same name."""
    return array_sha256(array)[:40]


def store_png(folder: Path, image: np.ndarray | Image.Image, name: str,
              any_name: bool = False) -> Path:
    """``image`` as ``<folder>/<pixels digest>/<name>``, encoded only if no PNG of the same
    pixels is there: one under another name is linked to ``name`` (or, with ``any_name``,
    returned as it is), so a picture shown and offered for download is encoded once."""
    if isinstance(image, Image.Image) and image.mode not in ("L", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    array = np.asarray(image)
    directory = folder / pixels_digest(array)
    path = directory / name
    if _touched(path):
        return path
    try:
        existing = [entry.path for entry in os.scandir(directory)
                    if entry.name.endswith(".png") and not entry.name.startswith(".")]
    except FileNotFoundError:
        existing = []
    for other in existing:
        if any_name and _touched(Path(other)):
            return Path(other)
        try:
            os.link(other, path)
        except FileExistsError:
            pass
        except OSError:
            continue  # pruned meanwhile, or no links on this file system: encode
        if _touched(path):
            return path
    return store(path, png_bytes(array))
