"""What every command line shares: a user's mistake is one ``error: ...`` line and status 2.

A command line builds its parser with :class:`ArgumentParser` and wraps its ``main`` with
:func:`command`; then a bad argument, missing or malformed data, an unreadable image or a
missing checkpoint (any :class:`hw3lab.errors.UserInputError`) ends it with one line on stderr
and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from typing import NoReturn

from hw3lab.errors import UserInputError

USAGE_ERROR = 2  # argparse's status for a bad argument, used for every user mistake


def report(message: str) -> int:
    """Print ``message`` as the command line's one error line; return its exit status."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)
    return USAGE_ERROR


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line answer to a bad argument (argparse prints the usage first)."""

    def error(self, message: str) -> NoReturn:
        report(f"{message} (see {self.prog} --help)")
        raise SystemExit(USAGE_ERROR)


Main = Callable[[list[str] | None], int | None]


def command(main: Main) -> Callable[[list[str] | None], int]:
    """``main(argv)`` returning its exit status: 0 (or what it returns) on success, 2 with one
    ``error:`` line for a user's mistake. Run it with ``sys.exit(main())``."""
    @functools.wraps(main)
    def run(argv: list[str] | None = None) -> int:
        try:
            return main(argv) or 0
        except UserInputError as error:
            return report(str(error))
    return run
