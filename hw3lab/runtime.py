"""The one place that decides devices, thread counts and the serving process's allocator."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
from pathlib import Path

import torch

from hw3lab.errors import UserInputError

PRECISIONS = ("auto", "bf16", "fp32")


def pick_device(requested: str | None = None) -> torch.device:
    """``requested`` ('cpu', 'cuda', 'cuda:1', 'auto' or None), checked to exist."""
    if requested in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserInputError(f"device {requested!r} was asked for but no CUDA GPU is available")
    return device


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), where bf16 autocast
    trains the face models 1.6-1.9x faster than fp32; elsewhere it is emulated and slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def cuda_has_bf16() -> bool:
    """Whether the current GPU computes bf16 natively (Ampere and later); on older GPUs
    PyTorch emulates it, correctly but slower than fp32."""
    return torch.cuda.is_bf16_supported(including_emulation=False)


def resolve_precision(requested: str, device: torch.device) -> str:
    """'auto' -> 'bf16' on a GPU or CPU with native bf16, else 'fp32'; a request for bf16
    where it is emulated is honoured (it is correct, only slower)."""
    if requested not in PRECISIONS:
        raise UserInputError(f"precision {requested!r}: expected one of {', '.join(PRECISIONS)}")
    if requested != "auto":
        return requested
    native = cuda_has_bf16() if device.type == "cuda" else cpu_has_bf16()
    return "bf16" if native else "fp32"


def autocast(device: torch.device, precision: str = "fp32") -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` when ``precision`` is 'bf16'; plain fp32 otherwise.
    Weights and optimizer state stay fp32 either way."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def set_cpu_threads(threads: int | None = None) -> int:
    """Use ``threads`` intra-op threads (default: ``$HW3LAB_THREADS`` or every core)."""
    threads = threads or int(os.environ.get("HW3LAB_THREADS", "0")) or (os.cpu_count() or 1)
    torch.set_num_threads(threads)
    return threads


# The lab serves requests side by side, one core each: torch's intra-op threads spin-wait when
# the cores are shared, and on 2 busy cores a full-width VAE slider update took 208 ms with 2
# threads and 29 ms with 1.
SERVING_THREADS = int(os.environ.get("HW3LAB_SERVING_THREADS", "1"))

# t-SNE's OpenMP loops spin-wait when the cores are shared (with torch, other requests or other
# processes): on 2 busy cores 200 points took 9 s with 2 threads and 0.5 s with 1.
TSNE_THREADS = int(os.environ.get("HW3LAB_TSNE_THREADS", "1"))

# glibc gives each thread that allocates at once its own malloc arena (up to 8 per core), and
# freed memory stays in them: under bench/load.py (16 clients, 60 s) the lab's resident memory
# grew 12-20% between the first and the last 20 s with the default, 5% with 2 arenas.
SERVING_MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter number


def limit_malloc_arenas(arenas: int = SERVING_MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process (as MALLOC_ARENA_MAX would at start, which a
    running process can no longer set); False where the C library has no mallopt."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False
