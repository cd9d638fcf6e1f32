"""The one place that decides devices and thread counts."""

from __future__ import annotations

import os

import torch


def pick_device(requested: str | None = None) -> torch.device:
    """``requested`` ('cpu', 'cuda', 'cuda:1', 'auto' or None), checked to exist."""
    if requested in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {requested!r} was asked for but no CUDA GPU is available")
    return device


def set_cpu_threads(threads: int | None = None) -> int:
    """Use ``threads`` intra-op threads (default: ``$HW3LAB_THREADS`` or every core)."""
    threads = threads or int(os.environ.get("HW3LAB_THREADS", "0")) or (os.cpu_count() or 1)
    torch.set_num_threads(threads)
    return threads
