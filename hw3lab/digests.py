"""Names for contents: the one array hash, and a file's hash that is read again only when the
file changes."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import numpy as np


def array_sha256(array: np.ndarray, *settings: Any) -> str:
    """SHA-256 of an array's shape, dtype and values (and of ``settings``, if any, each after
    a ``|``): the same content, the same name."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{array.shape}|{array.dtype}".encode())
    digest.update(array.data)
    for setting in settings:
        digest.update(f"|{setting}".encode())
    return digest.hexdigest()


@functools.lru_cache(maxsize=256)
def _file_sha256(path: str, size: int, mtime_ns: int, inode: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> tuple[str, int]:
    """(SHA-256, size) of a file, read again only when its size or time changes."""
    status = path.stat()
    return _file_sha256(str(path), status.st_size, status.st_mtime_ns, status.st_ino), \
        status.st_size
