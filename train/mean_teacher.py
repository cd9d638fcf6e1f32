"""python -m train.mean_teacher: a mean teacher on one task or all three; see --help.

It starts from the task's source-only checkpoint in --out (train it first with
``python -m train.source_only``), whose extractor and predictor both keep learning. A
--dry-run without one trains a one-epoch source-only model into --out first.
"""

from __future__ import annotations

import copy
import sys
from functools import partial

import torch

from hw3lab import cli
from hw3lab.checkpoints import read_metadata
from hw3lab.errors import UserInputError
from hw3lab.methods import digit_checkpoint
from hw3lab.training.arguments import (
    DIGIT_HELP,
    TrainingSetup,
    add_config,
    add_digit_task,
    config_from,
    digit_tasks,
    training_parser,
)
from hw3lab.training.bounds import saved_source_model, train_classifier
from hw3lab.training.common import Run, adam
from hw3lab.training.digits import DigitNets, for_task, run_name
from hw3lab.training.mean_teacher import MeanTeacherConfig, train_mean_teacher
from hw3lab.training.saving import print_metrics, save_digits
from hw3lab.training.supervised import SupervisedConfig
from hw3lab.training.timeline import DigitProbe, digit_stage, recording

HELP = {
    **DIGIT_HELP,
    "batch_size": "images per domain in each step",
    "ema": "the teacher's weight decay: teacher <- ema * teacher + (1 - ema) * student",
    "threshold": "a target image counts only where the teacher's (aligned) confidence is above",
    "prior_band": "the target class mix the alignment and balance term aim for: the running "
                  "mean prediction, each class's share clamped to within this factor of "
                  "uniform (1: a uniform prior)",
    "align": "distribution alignment: scale the teacher's probabilities by the target class "
             "mix over their running mean",
    "balance_weight": "weight of KL(mean target prediction || its class mix within the band)",
    "source_weight": "weight of the labelled source loss",
    "augment": "the student sees augmented views (see hw3lab.data.transforms.augment_digits)",
    "adapt_bn": "AdaBN: recompute BatchNorm statistics on the target images at the end",
    "source_texture": "share of source images blended MNIST-M-style with a random smooth "
                      "texture T, |x - T| (0: off; needs --augment)",
    "im_weight": "weight of SHOT's information maximisation on the student's target views: "
                 "mean entropy minus the entropy of the mean prediction (0: off)",
    "centroid_weight": "weight of the cross-entropy towards SHOT's nearest-centroid "
                       "pseudo-labels (running class centroids of the teacher's target "
                       "features) on every target view (0: off)",
    "shear": "the student's augmented views (source and target) slant by a random shear of up "
             "to this (0.3: about 17 degrees; 0: off)",
    "stroke": "share of the student's augmented views whose strokes get a pixel thicker or "
              "thinner (0: off)",
}


@cli.command
def main(argv: list[str] | None = None) -> None:
    parser = training_parser("Adapt the source-only model with a mean teacher: confident, "
                             "distribution-aligned pseudo-labels on unlabelled target digits.")
    add_digit_task(parser)
    add_config(parser, MeanTeacherConfig, HELP, per_task=("grey",))
    args = parser.parse_args(argv)
    if not args.prior_band >= 1.0:
        parser.error("--prior-band must be at least 1 (1: a uniform prior)")
    tasks = digit_tasks(parser, args)
    setup = TrainingSetup.from_args(args)
    for source, target in tasks:
        config = setup.shortened(for_task(config_from(MeanTeacherConfig, args), source, target))
        start = digit_checkpoint(setup.out, source, target, "source_only")
        torch.manual_seed(setup.seed)
        student = saved_source_model(setup, source, target)
        if student is None and setup.dry_run:
            # A dry run runs on a fresh clone: a one-epoch source-only model first, in --out.
            train_classifier(setup, "source_only", source, target,
                             setup.shortened(SupervisedConfig(grey=config.grey)), args.holdout,
                             trained_by="train.mean_teacher (dry run)")
            torch.manual_seed(setup.seed)
            student = saved_source_model(setup, source, target)
        if student is None:
            raise UserInputError(f"no source-only model at {start.name} in --out: train it "
                                 f"first with python -m train.source_only --source {source} "
                                 f"--target {target}")
        if not student.extractor.standardize:
            print(f"note: {start.name} in --out was trained without --standardize; the shipped "
                  "mean teachers start from a source-only model trained with --augment "
                  "--standardize (docs/training.md)", file=sys.stderr, flush=True)
        train, val = setup.train_val(source, args.holdout)
        target_images = setup.labelled(target, "train").images  # labels never used
        optimizer = adam([*student.extractor.parameters(), *student.predictor.parameters()],
                         lr=config.lr)
        run = setup.run(run_name(source, target, "mean_teacher", setup.seed),
                        student.modules(), {"student": optimizer})
        probe = DigitProbe.of(setup.labelled(source, "test"), setup.labelled(target, "test"))
        history = print_metrics(recording(
            train_mean_teacher(run, student, train, val, target_images, config),
            run.timeline_path,
            partial(teacher_stage, probe, copy.deepcopy(student), run, config.grey)))
        save_digits(setup, run, source, target, "mean_teacher", student.modules(),
                    {"grey": config.grey, "standardize": student.extractor.standardize,
                     "adabn": config.adapt_bn, "history": history,
                     "started_from": f"digits/{start.name}",
                     # the start's own command: --out's source-only model need not be the
                     # shipped one (the shipped mean teacher's was trained with --standardize)
                     "started_from_command": read_metadata(start).get("command"),
                     "recipe": vars(config) | {"optimizer": "Adam", "holdout": args.holdout,
                                               "selection": "last epoch's teacher"}},
                    probe)


def teacher_stage(probe: DigitProbe, teacher: DigitNets, run: Run, grey: bool) -> dict:
    """The timeline's stage of the teacher (what is kept), as the run's state holds it."""
    for key, module in teacher.modules().items():
        module.load_state_dict(run.extra["teacher"][key])
    return digit_stage(probe, teacher.extractor, teacher.predictor, grey)


if __name__ == "__main__":
    sys.exit(main())
