"""python -m train.dann: DANN on one task or all three; see --help."""

from __future__ import annotations

import argparse
import json

import torch

from hw3lab.models import DomainClassifier, Extractor, Predictor
from hw3lab.training.cli import (
    Timer,
    batch_size,
    digit_parser,
    grey,
    labelled_split,
    print_metrics,
    run_name,
    run_summary,
    save_digits,
    setup,
    tasks,
    train_val,
)
from hw3lab.training.dann import DannConfig, dann_optimizer, train_dann
from hw3lab.training.digits import DigitNets


def main(argv: list[str] | None = None) -> None:
    parser = digit_parser("Train DANN (gradient reversal) on labelled source and unlabelled "
                          "target digits.", epochs=20, lr=1e-3)
    parser.add_argument("--gamma", type=float, default=10.0,
                        help="steepness of the reversal schedule 2/(1+exp(-gamma p))-1")
    parser.add_argument("--max-lambda", type=float, default=1.0,
                        help="final reversal strength")
    parser.add_argument("--domain-weight", type=float, default=1.0,
                        help="weight of the domain loss")
    parser.add_argument("--anneal-lr", action=argparse.BooleanOptionalAction, default=True,
                        help="the paper's lr / (1 + 10 p)^0.75")
    parser.add_argument("--adapt-bn", action=argparse.BooleanOptionalAction, default=True,
                        help="AdaBN: recompute BatchNorm statistics on the target images")
    env = setup(parser.parse_args(argv))
    args = env.args
    for source, target in tasks(args):
        config = DannConfig(env.epochs, args.lr, batch_size(args, source, target),
                            grey(args, source, target), args.gamma, args.max_lambda,
                            args.anneal_lr, args.domain_weight, args.adapt_bn, args.augment)
        train, val = train_val(env, source)
        target_images = labelled_split(env, target, "train").images  # labels never used
        torch.manual_seed(args.seed)
        nets = DigitNets(Extractor(), Predictor()).to(env.device)
        domain = DomainClassifier().to(env.device)
        run = env.run(run_name(source, target, "dann", args.seed),
                      {**nets.modules(), "domain": domain},
                      {"dann": dann_optimizer(nets, domain, config.lr)})
        timer = Timer()
        print_metrics(train_dann(run, nets, domain, train, val, target_images, config))
        metrics = save_digits(env, source, target, "dann", nets.modules(),
                              {"grey": config.grey, "adabn": config.adapt_bn,
                               "recipe": vars(config) | {"optimizer": "Adam",
                                                         "holdout": args.holdout},
                               **run_summary(run, env)}, timer.seconds())
        print(json.dumps({"task": f"{source}-{target}", "method": "dann", **metrics}),
              flush=True)


if __name__ == "__main__":
    main()
