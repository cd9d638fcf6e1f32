"""The one kind of error a user can fix, and how messages list what went wrong.

Every failure caused by what a user gave (a data folder, an argument, an image, a checkpoint)
is a :class:`UserInputError` whose message says what and how to fix it. The lab shows it as a
message on the page, and every command line as one ``error: ...`` line (:mod:`hw3lab.cli`);
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class UserInputError(ValueError):
    """Something the user gave cannot be used; the message says what and how to fix it."""


def few(items: Iterable[str], limit: int = 5) -> str:
    """'a, b, c and 4 more': the first ``limit`` of ``items`` (sorted if a set), for messages
    that must stay short however many things are wrong."""
    items = sorted(items) if isinstance(items, set | frozenset) else list(items)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more
