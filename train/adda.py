"""python -m train.adda: ADDA on one task or all three; see --help.

ADDA starts from the task's source-only checkpoint in --out (its extractor initialises the
target extractor, its predictor is reused unchanged); when there is none, it is trained first
with --pretrain-epochs and saved as that source-only checkpoint.
"""

from __future__ import annotations

import argparse
import copy
import json

import torch

from hw3lab.checkpoints import load_modules
from hw3lab.inference import digit_checkpoint, task_name
from hw3lab.models import DomainDiscriminator, Extractor, Predictor
from hw3lab.training.adda import AddaConfig, adda_optimizers, class_weights, train_adda
from hw3lab.training.cli import (
    Setup,
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
from hw3lab.training.digits import DigitNets
from hw3lab.training.supervised import SupervisedConfig, classifier_optimizer, train_supervised

# The homework's per-task learning rates.
TASK_LR = {"usps-mnistm": 1e-4, "mnistm-svhn": 1e-3, "svhn-usps": 1e-5}
DEFAULT_LR = 1e-4


def source_model(env: Setup, source: str, target: str, config: SupervisedConfig) -> DigitNets:
    """The source-only model: loaded from --out, else pretrained and saved there."""
    path = digit_checkpoint(env.out, source, target, "source_only")
    nets = DigitNets(Extractor(), Predictor())
    if path.is_file():
        load_modules(path, nets.modules())
        return nets.to(env.device)
    nets.to(env.device)
    train, val = train_val(env, source)
    run = env.run(run_name(source, target, "source_only", env.args.seed), nets.modules(),
                  {"classifier": classifier_optimizer(nets, config.lr)})
    timer = Timer()
    print_metrics(train_supervised(run, nets, train, val, config))
    save_digits(env, source, target, "source_only", nets.modules(),
                {"grey": config.grey, "recipe": vars(config) | {"optimizer": "Adam",
                 "holdout": env.args.holdout}, "trained_by": "train.adda (pretraining)",
                 **run_summary(run, env)}, timer.seconds())
    return nets


def main(argv: list[str] | None = None) -> None:
    parser = digit_parser("Train ADDA: adapt a target extractor, initialised from the "
                          "source-only model, against a domain discriminator.", epochs=20,
                          lr=0.0)
    parser.set_defaults(lr=None)
    parser.description += (" --lr defaults to the homework's per task: "
                           + ", ".join(f"{k} {v:g}" for k, v in TASK_LR.items()))
    parser.add_argument("--disc-lr", type=float, help="discriminator lr (default: --lr)")
    parser.add_argument("--max-disc-accuracy", type=float, default=0.9,
                        help="skip discriminator updates while its batch accuracy is above")
    parser.add_argument("--pretrain-epochs", type=int, default=10,
                        help="source pretraining epochs when no source-only checkpoint exists")
    parser.add_argument("--pretrain-lr", type=float, default=1e-3)
    parser.add_argument("--adapt-bn", action=argparse.BooleanOptionalAction, default=True,
                        help="AdaBN: recompute BatchNorm statistics on the target images")
    parser.add_argument("--source-batch-stats", action=argparse.BooleanOptionalAction,
                        default=True, help="the frozen source extractor normalises with its "
                        "batch's BatchNorm statistics, as the target extractor does")
    parser.add_argument("--class-weighted", action="store_true",
                        help="weigh source features in the discriminator by the estimated "
                        "target/source class-prior ratio (importance-weighted ADDA)")
    env = setup(parser.parse_args(argv))
    args = env.args
    for source, target in tasks(args):
        task = task_name(source, target)
        config = AddaConfig(env.epochs, args.lr or TASK_LR.get(task, DEFAULT_LR), args.disc_lr,
                            batch_size(args, source, target), grey(args, source, target),
                            args.max_disc_accuracy, args.adapt_bn, args.source_batch_stats,
                            args.augment, args.class_weighted)
        torch.manual_seed(args.seed)
        pretrain = SupervisedConfig(1 if args.dry_run else args.pretrain_epochs,
                                    args.pretrain_lr, config.batch_size, config.grey,
                                    args.augment)
        source_nets = source_model(env, source, target, pretrain)
        source_extractor = source_nets.extractor
        target_extractor = copy.deepcopy(source_extractor)
        discriminator = DomainDiscriminator().to(env.device)
        train, _ = train_val(env, source)
        target_images = labelled_split(env, target, "train").images  # labels never used
        weights = (class_weights(source_nets, train.labels, target_images, config.grey)
                   if config.class_weighted else None)
        if weights is not None:
            print(json.dumps({"class_weights": [round(w, 3) for w in weights.tolist()]}),
                  flush=True)
        run = env.run(run_name(source, target, "adda", args.seed),
                      {"target_extractor": target_extractor, "discriminator": discriminator},
                      adda_optimizers(target_extractor, discriminator, config))
        timer = Timer()
        print_metrics(train_adda(run, source_extractor, target_extractor, discriminator, train,
                                 target_images, config, weights))
        source_only = digit_checkpoint(env.out, source, target, "source_only")
        metrics = save_digits(env, source, target, "adda", {"extractor": target_extractor},
                              {"grey": config.grey, "adabn": config.adapt_bn,
                               "predictor_from": f"digits/{source_only.name}",
                               "recipe": vars(config) | {"optimizer": "Adam(0.5, 0.999)"},
                               **run_summary(run, env)}, timer.seconds())
        print(json.dumps({"task": task, "method": "adda", **metrics}), flush=True)


if __name__ == "__main__":
    main()
