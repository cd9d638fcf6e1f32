"""The lab's service: what the lab holds and every operation its tabs call, with no Gradio.

``context`` holds the state (one model store, the optional data folder, derived latents);
``inputs`` turns uploads, zips, sketches and API values into checked arrays; ``vae``, ``gan``,
``digits`` and ``tsne`` are the operations of each part of the homework; ``pictures`` draws
what they return. Every operation takes the :class:`LabContext` first, checks its other
arguments against :mod:`hw3lab.limits` (the API skips the widgets) and raises a
:class:`hw3lab.errors.UserInputError` for anything a user can fix. The UI, the benchmarks and
the tests call these functions alike.
"""

from hw3lab.lab.context import TASK_NAMES, LabContext, UnavailableError, parse_task

__all__ = ["TASK_NAMES", "LabContext", "UnavailableError", "parse_task"]
