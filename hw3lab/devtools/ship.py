"""Ship checkpoints from a training run's ``--out`` folder into ``checkpoints/``::

    python -m hw3lab.devtools.ship RUN_OUT NAME [NAME ...] [--into checkpoints]

(NAME as the run's manifest lists it, for example ``digits/usps-mnistm-dann``.) Copies the
weights, their JSON and their timeline, and updates the manifest; rebuild the precomputed
t-SNE views afterwards (``python -m hw3lab.lab.tsne_rebuild``).
"""

from __future__ import annotations

import sys

from hw3lab import cli
from hw3lab.checkpoints import ship_checkpoint
from hw3lab.inference import DEFAULT_CHECKPOINTS


@cli.command
def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_out", help="the run's --out folder")
    parser.add_argument("names", nargs="+", help="checkpoint names in its manifest")
    parser.add_argument("--into", default=str(DEFAULT_CHECKPOINTS),
                        help="shipped checkpoint folder (default: %(default)s)")
    args = parser.parse_args(argv)
    for name in args.names:
        print(f"{name}: {ship_checkpoint(args.run_out, args.into, name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
