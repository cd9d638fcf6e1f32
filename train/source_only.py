"""python -m train.source_only: see --help."""

import sys

from hw3lab import cli
from train import supervised


@cli.command
def main(argv: list[str] | None = None) -> None:
    supervised.main("source_only", argv)


if __name__ == "__main__":
    sys.exit(main())
