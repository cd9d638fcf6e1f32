"""python -m train.dann: DANN on one task or all three; see --help."""

from __future__ import annotations

import sys
from functools import partial

import torch

from hw3lab import cli
from hw3lab.models import DomainClassifier, Extractor, Predictor
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
from hw3lab.training.dann import DannConfig, dann_optimizer, train_dann
from hw3lab.training.digits import DigitNets, for_task, run_name
from hw3lab.training.saving import print_metrics, save_digits
from hw3lab.training.timeline import DigitProbe, digit_stage, recording

HELP = {
    **DIGIT_HELP,
    "gamma": "steepness of the reversal schedule 2/(1+exp(-gamma p))-1",
    "max_lambda": "final reversal strength",
    "domain_weight": "weight of the domain loss",
    "anneal_lr": "the paper's lr / (1 + 10 p)^0.75",
    "adapt_bn": "AdaBN: recompute BatchNorm statistics on the target images",
}


@cli.command
def main(argv: list[str] | None = None) -> None:
    parser = training_parser("Train DANN (gradient reversal) on labelled source and unlabelled "
                             "target digits.")
    add_digit_task(parser)
    add_config(parser, DannConfig, HELP, per_task=DIGIT_PER_TASK)
    args = parser.parse_args(argv)
    tasks = digit_tasks(parser, args)
    setup = TrainingSetup.from_args(args)
    for source, target in tasks:
        config = setup.shortened(for_task(config_from(DannConfig, args), source, target))
        train, val = setup.train_val(source, args.holdout)
        target_images = setup.labelled(target, "train").images  # labels never used
        torch.manual_seed(setup.seed)
        nets = DigitNets(Extractor(), Predictor()).to(setup.device)
        domain = DomainClassifier().to(setup.device)
        run = setup.run(run_name(source, target, "dann", setup.seed),
                        {**nets.modules(), "domain": domain},
                        {"dann": dann_optimizer(nets, domain, config.lr)})
        probe = DigitProbe.of(setup.labelled(source, "test"), setup.labelled(target, "test"))
        history = print_metrics(recording(
            train_dann(run, nets, domain, train, val, target_images, config),
            run.timeline_path,
            partial(digit_stage, probe, nets.extractor, nets.predictor, config.grey, domain)))
        save_digits(setup, run, source, target, "dann", nets.modules(),
                    {"grey": config.grey, "adabn": config.adapt_bn, "history": history,
                     "recipe": vars(config) | {"optimizer": "Adam", "holdout": args.holdout}},
                    probe)


if __name__ == "__main__":
    sys.exit(main())
