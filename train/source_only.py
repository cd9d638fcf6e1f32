"""python -m train.source_only: see --help."""

from hw3lab.training.cli import supervised_main

if __name__ == "__main__":
    supervised_main("source_only")
