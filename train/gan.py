"""python -m train.gan: the DCGAN of the homework on hw3_data/face; see --help."""

from __future__ import annotations

import sys
from dataclasses import asdict, fields, replace

import torch

from hw3lab import cli
from hw3lab.errors import UserInputError
from hw3lab.models import Discriminator, Generator
from hw3lab.training.arguments import TrainingSetup, add_config, training_parser
from hw3lab.training.gan import (
    GanConfig,
    averaged_copy,
    gan_optimizers,
    load_snapshot,
    sampling_generator,
    train_gan,
)
from hw3lab.training.saving import print_metrics, save_and_measure
from hw3lab.training.timeline import record_gan_snapshots

RECIPES = {"improved": GanConfig, "homework": GanConfig.homework}
HELP = {
    "lr": "Adam lr of both players",
    "beta1": "Adam beta1 of both players",
    "flip": "random horizontal flips of the real faces",
    "real_label": "target for real faces (below 1: one-sided label smoothing)",
    "diffaugment": "DiffAugment on real and generated faces",
    "ema": "decay of the averaged generator (0: none)",
    "snapshot_every": "epochs between fixed-noise grids and weight snapshots",
    "decay_from": "epoch from which both players' lr falls linearly, to lr / (epochs - "
                  "EPOCH) in the last epoch (0: constant lr); set on --resume to anneal a run",
    "disc_lr_scale": "the discriminator's lr as a multiple of the generator's",
    "r1": "weight gamma of the R1 penalty, gamma/2 E|grad D(real)|^2 (0: none)",
    "mode_seeking": "weight of the generator's mode-seeking term, 1 / (|G(z1) - G(z2)| / "
                    "|z1 - z2|) (0: none)",
}


@cli.command
def main(argv: list[str] | None = None) -> None:
    parser = training_parser("Train the homework's DCGAN on 64x64 faces (BCE on logits, a "
                             "generator step then a discriminator step per batch).")
    parser.add_argument("--recipe", choices=RECIPES, default="improved",
                        help="improved (the shipped generator's): beta1 0.5, lr 2e-4, label "
                        "smoothing, DiffAugment, EMA generator, R1 0.01, mode seeking 1.0 (see "
                        "hw3lab.training.gan); homework: the homework's recipe. "
                        "The options below override either")
    add_config(parser, GanConfig, HELP, overrides_only=True)
    parser.add_argument("--width", type=float, default=1.0,
                        help="channel multiplier (1.0 is the homework's network)")
    parser.add_argument("--ship-epoch", type=int, metavar="EPOCH",
                        help="do not train: write the checkpoint from the run's snapshot of this "
                        "epoch (picked by python -m hw3lab.analysis.face_quality "
                        "--gan-snapshots), with the run's whole history")
    parser.add_argument("--ship-live", action="store_true",
                        help="with --ship-epoch: ship the snapshot's live generator instead of "
                        "its averaged one")
    args = parser.parse_args(argv)
    overrides = {field.name: value for field in fields(GanConfig)
                 if (value := getattr(args, field.name)) is not None}
    config = RECIPES[args.recipe](**overrides)
    if not 0 <= config.decay_from < config.epochs:
        parser.error(f"--decay-from must be 0 (no decay) or an epoch below --epochs "
                     f"({config.epochs})")
    setup = TrainingSetup.from_args(args)
    config = setup.shortened(config)
    torch.manual_seed(setup.seed)
    generator = Generator(args.width).to(setup.device)
    discriminator = Discriminator(args.width).to(setup.device)
    modules = {"generator": generator, "discriminator": discriminator}
    if config.ema:
        modules["generator_ema"] = averaged_copy(generator)
    name = f"gan-seed{setup.seed}"
    if args.ship_epoch is not None:
        setup = replace(setup, resume=True)  # keep the run's log and state
    run = setup.run(name, modules, gan_optimizers(generator, discriminator, config))
    shipped = {}
    faces = setup.faces("train")
    if args.ship_epoch is None:
        print_metrics(train_gan(run, generator, discriminator, faces, config))
    else:
        snapshot = load_snapshot(run, args.ship_epoch)
        if args.ship_live:
            if "live_generator" not in snapshot:
                raise UserInputError(f"the snapshot of epoch {args.ship_epoch} keeps no live "
                                     "generator beside its sampling one")
            generator.load_state_dict(snapshot["live_generator"])
        else:
            (modules.get("generator_ema") or generator).load_state_dict(snapshot["generator"])
        discriminator.load_state_dict(snapshot["discriminator"])
        shipped = {"shipped_epoch": args.ship_epoch,
                   "shipped_generator": "live" if args.ship_live else "sampling"}
    record_gan_snapshots(run, Generator(args.width).to(setup.device),
                         Discriminator(args.width).to(setup.device), faces,
                         args.ship_epoch or run.epoch, config.snapshot_every)
    save_and_measure(setup, run, "gan", setup.out / "gan.safetensors",
                     {"generator": generator if args.ship_live
                      else sampling_generator(run, generator, config),
                      "discriminator": discriminator},
                     {"family": "gan", "width": args.width,
                      "recipe": {"name": args.recipe, **asdict(config)}, **shipped},
                     lambda: shipped_epoch_metrics(run.history(), args.ship_epoch))


def shipped_epoch_metrics(history: list[dict], epoch: int | None) -> dict:
    """The log entry of the shipped epoch (the last one when no snapshot is picked): a run
    continued past its picked snapshot must not report a later epoch's numbers."""
    entries = [entry for entry in history if epoch is None or entry.get("epoch") == epoch]
    return (entries or [{}])[-1]


if __name__ == "__main__":
    sys.exit(main())
