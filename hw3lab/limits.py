"""Every input limit of the lab, in one place, with the checks that enforce them.

The widgets use these ranges, and every callback checks its arguments against them again,
because Gradio's API accepts any value and skips the widgets. A value outside a limit raises
:class:`LimitError` with a message a user can act on; the UI shows it as a ``gr.Error``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hw3lab.errors import UserInputError

# Uploads: a request larger than this is refused by the server before any callback runs.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# Images: decoded only when at most this large (a PNG of one colour can be tiny on disk);
# hw3lab.data.images checks every image the lab opens against these, from its header.
MAX_IMAGE_SIDE = 4096
MAX_IMAGE_PIXELS = 16_777_216
MIN_IMAGE_SIDE = 8
# Files in one interactive upload (faces or digits), and in one digit batch (folder or zip).
MAX_UPLOAD_FILES = 32
MAX_BATCH_FILES = 500
MAX_ZIP_BYTES = 50 * 1024 * 1024  # a batch's images, a zip's members unpacked
# A student's own homework weights (.pth): the full-width VAE in fp32, in one file, is 360 MB.
MAX_MODEL_FILE_BYTES = 400 * 1024 * 1024
# The same in the lab (the server's limit a file; images keep MAX_UPLOAD_BYTES): a digit model
# in one file (11 MB in fp32) or a DCGAN generator (15 MB) fits; the full-width VAE (360 MB) is
# for the command line. At most this many files an upload, and this many uploaded models held
# at once over all sessions (the least recently used goes).
MAX_MODEL_UPLOAD_BYTES = 16 * 1024 * 1024
MAX_MODEL_UPLOAD_FILES = 4
MAX_OWN_MODELS = 8
# A classmate's exported model (.pt2, hw3lab.exported): what it may unpack to, the peak memory
# of its intermediate tensors on the lab's largest batch (256 digits, 64 faces) from the graph's
# own shape metadata, the largest tensor, and the work (FLOPs plus elements written) an input,
# which bounds the time of every call: the shipped DANN does 0.03 GFLOP a digit, the shipped
# GAN's generator 0.21 a face (FlopCounterMode), so 4 leaves a classmate's model 20x the room.
MAX_EXPORTED_UNPACKED_BYTES = 64 * 1024 * 1024
MAX_EXPORTED_PEAK_BYTES = 1024 * 1024 * 1024
MAX_EXPORTED_TENSOR_ELEMENTS = 2**28
MAX_EXPORTED_WORK_PER_IMAGE = 4e9


@dataclass(frozen=True)
class Range:
    """A closed numeric range with a default, shared by a widget and its callback's check."""

    low: float
    high: float
    default: float
    step: float = 1

    def check(self, value: Any, name: str, integer: bool = False) -> float:
        """``value`` as a number inside the range, or a :class:`LimitError` naming ``name``."""
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise LimitError(f"{name} must be a number, not {type(value).__name__}")
        try:
            number = float(value)
        except (ValueError, OverflowError):  # 'abc', or an int too large for a float
            raise LimitError(f"{name} must be a number, not {str(value)[:40]!r}") from None
        if not math.isfinite(number) or not self.low <= number <= self.high:
            raise LimitError(f"{name} must be between {self._show(self.low)} and "
                             f"{self._show(self.high)}; got {str(value)[:40]}")
        if integer and number != int(number):
            raise LimitError(f"{name} must be a whole number; got {value}")
        return number

    def check_int(self, value: Any, name: str) -> int:
        return int(self.check(value, name, integer=True))

    @staticmethod
    def _show(number: float) -> str:
        return str(int(number)) if number == int(number) else str(number)


class LimitError(UserInputError):
    """An argument outside the lab's limits; the message names it and the allowed range."""


SEED = Range(0, 2**31 - 1, 0)
GAN_GRID = Range(1, 64, 32)  # the homework's figure has 32 faces
VAE_GRID = Range(1, 64, 32)
INTERPOLATION_FRAMES = Range(2, 16, 8)
SLIDER = Range(-3.0, 3.0, 0.0, 0.05)  # in standard deviations of the test faces' latents
PRINCIPAL_DIRECTIONS = 10
TSNE_POINTS = Range(50, 3000, 1000, 50)
TSNE_PERPLEXITY = Range(5, 50, 30)
SEED_LIST_LENGTH = 64
REMEMBERED_RESULTS = 64  # results kept by LabContext.remembered (3 tasks x 12 examples fit)


def check_choice(value: Any, choices: tuple[str, ...] | list[str], name: str) -> str:
    """``value`` if it is one of ``choices``, else a :class:`LimitError` listing them."""
    if not isinstance(value, str) or value not in choices:
        raise LimitError(f"{name} must be one of {', '.join(choices)}; got {str(value)[:40]!r}")
    return value


def parse_seed_list(text: Any) -> list[int]:
    """'1, 2, 3' (commas or spaces) -> seeds, each within :data:`SEED`, at most
    :data:`SEED_LIST_LENGTH` of them."""
    if not isinstance(text, str):
        raise LimitError(f"the seed list must be text, not {type(text).__name__}")
    parts = text.replace(",", " ").split()
    if not parts:
        raise LimitError("the seed list is empty: give seeds like 1, 2, 3")
    if len(parts) > SEED_LIST_LENGTH:
        raise LimitError(f"at most {SEED_LIST_LENGTH} seeds at once; got {len(parts)}")
    seeds = []
    for part in parts:
        if not part.isdigit():
            raise LimitError(f"seeds are whole numbers from 0 to {int(SEED.high)}; "
                             f"got {part[:20]!r}")
        seeds.append(SEED.check_int(int(part), "a seed"))
    return seeds
