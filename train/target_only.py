"""python -m train.target_only: see --help."""

import sys

from hw3lab import cli
from train import supervised


@cli.command
def main(argv: list[str] | None = None) -> None:
    supervised.main("target_only", argv)


if __name__ == "__main__":
    sys.exit(main())
