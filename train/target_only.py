"""python -m train.target_only: see --help."""

from hw3lab.training.cli import supervised_main

if __name__ == "__main__":
    supervised_main("target_only")
