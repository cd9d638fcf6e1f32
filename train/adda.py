"""python -m train.adda: ADDA on one task or all three; see --help.

ADDA starts from the task's source-only checkpoint in --out (its extractor initialises the
target extractor, its predictor is reused unchanged); when there is none, it is trained first
with --pretrain-epochs and saved as that source-only checkpoint.
"""

from __future__ import annotations

import copy
import json
import sys
from dataclasses import dataclass

import torch

from hw3lab import cli
from hw3lab.models import DomainDiscriminator
from hw3lab.training.adda import (
    HOMEWORK_TASK_LR,
    AddaConfig,
    adda_optimizers,
    class_weights,
    train_adda,
)
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
from hw3lab.training.bounds import saved_source_model, train_classifier
from hw3lab.training.digits import DigitNets, for_task, run_name
from hw3lab.training.saving import print_metrics, save_digits
from hw3lab.training.supervised import SupervisedConfig

HELP = {
    **DIGIT_HELP,
    "lr": "Adam learning rate (default: the homework's per task: "
          + ", ".join(f"{k} {v:g}" for k, v in HOMEWORK_TASK_LR.items()) + ")",
    "disc_lr": "discriminator lr (default: --lr)",
    "max_disc_accuracy": "skip discriminator updates while its batch accuracy is above",
    "adapt_bn": "AdaBN: recompute BatchNorm statistics on the target images",
    "source_batch_stats": "the frozen source extractor normalises with its batch's BatchNorm "
                          "statistics, as the target extractor does",
    "class_weighted": "weigh source features in the discriminator by the estimated "
                      "target/source class-prior ratio (importance-weighted ADDA)",
    "pretrain_epochs": "source pretraining epochs when no source-only checkpoint exists",
    "pretrain_lr": "source pretraining learning rate",
}


@dataclass
class Pretraining:
    """How the source-only model is trained when --out has none."""

    pretrain_epochs: int = 10
    pretrain_lr: float = 1e-3


def source_model(setup: TrainingSetup, source: str, target: str, config: SupervisedConfig,
                 holdout: float) -> DigitNets:
    """The source-only model: loaded from --out, else pretrained and saved there."""
    saved = saved_source_model(setup, source, target)
    if saved is not None:
        return saved
    return train_classifier(setup, "source_only", source, target, config, holdout,
                            trained_by="train.adda (pretraining)")


@cli.command
def main(argv: list[str] | None = None) -> None:
    parser = training_parser("Train ADDA: adapt a target extractor, initialised from the "
                             "source-only model, against a domain discriminator.")
    add_digit_task(parser)
    add_config(parser, AddaConfig, HELP, per_task=DIGIT_PER_TASK)
    add_config(parser, Pretraining, HELP)
    args = parser.parse_args(argv)
    tasks = digit_tasks(parser, args)
    setup = TrainingSetup.from_args(args)
    pretraining = config_from(Pretraining, args)
    for source, target in tasks:
        config = setup.shortened(for_task(config_from(AddaConfig, args), source, target,
                                          HOMEWORK_TASK_LR))
        pretrain = setup.shortened(SupervisedConfig(
            pretraining.pretrain_epochs, pretraining.pretrain_lr, config.batch_size,
            config.grey, config.augment))
        torch.manual_seed(setup.seed)  # the discriminator's weights follow the source model's
        source_nets = source_model(setup, source, target, pretrain, args.holdout)
        source_extractor = source_nets.extractor
        target_extractor = copy.deepcopy(source_extractor)
        discriminator = DomainDiscriminator().to(setup.device)
        train, _ = setup.train_val(source, args.holdout)
        target_images = setup.labelled(target, "train").images  # labels never used
        weights = (class_weights(source_nets, train.labels, target_images, config.grey)
                   if config.class_weighted else None)
        if weights is not None:
            print(json.dumps({"class_weights": [round(w, 3) for w in weights.tolist()]}),
                  flush=True)
        run = setup.run(run_name(source, target, "adda", setup.seed),
                        {"target_extractor": target_extractor, "discriminator": discriminator},
                        adda_optimizers(target_extractor, discriminator, config))
        history = print_metrics(train_adda(run, source_extractor, target_extractor,
                                           discriminator, train, target_images, config, weights))
        save_digits(setup, run, source, target, "adda", {"extractor": target_extractor},
                    {"grey": config.grey, "adabn": config.adapt_bn, "history": history,
                     "recipe": vars(config) | {"optimizer": "Adam(0.5, 0.999)"}})


if __name__ == "__main__":
    sys.exit(main())
