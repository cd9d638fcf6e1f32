"""The command line that ``train.source_only`` and ``train.target_only`` share: the homework's
classifier trained on one labelled domain (the lower and upper bounds of adaptation; the
training itself is :mod:`hw3lab.training.bounds`)."""

from __future__ import annotations

from hw3lab.training.arguments import (
    DIGIT_HELP,
    DIGIT_PER_TASK,
    TrainingSetup,
    add_config,
    add_digit_task,
    config_from,
    digit_tasks,
    training_parser,
)
from hw3lab.training.bounds import train_classifier
from hw3lab.training.digits import for_task
from hw3lab.training.supervised import SupervisedConfig

BOUNDS = {"source_only": ("source", "lower"), "target_only": ("target", "upper")}


def main(method: str, argv: list[str] | None) -> None:
    """The command line of ``train.{method}``."""
    domain, bound = BOUNDS[method]
    parser = training_parser(f"Train the homework's digit classifier on the {domain} domain "
                             f"only ({bound} bound of adaptation).")
    add_digit_task(parser)
    add_config(parser, SupervisedConfig, DIGIT_HELP, per_task=DIGIT_PER_TASK)
    args = parser.parse_args(argv)
    tasks = digit_tasks(parser, args)
    setup = TrainingSetup.from_args(args)
    for source, target in tasks:
        config = setup.shortened(for_task(config_from(SupervisedConfig, args), source, target))
        train_classifier(setup, method, source, target, config, args.holdout)
