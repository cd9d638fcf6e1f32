"""python -m train.gan: the DCGAN of the homework on hw3_data/face; see --help."""

from __future__ import annotations

import argparse
from dataclasses import asdict

import torch

from hw3lab.models import Discriminator, Generator
from hw3lab.training.cli import Timer, base_parser, face_split, print_metrics, save_run, setup
from hw3lab.training.gan import (
    GanConfig,
    averaged_copy,
    gan_optimizers,
    sampling_generator,
    train_gan,
)

RECIPES = {"improved": GanConfig, "homework": GanConfig.homework}


def main(argv: list[str] | None = None) -> None:
    defaults = GanConfig()
    parser = base_parser("Train the homework's DCGAN on 64x64 faces (BCE on logits, a generator "
                         "step then a discriminator step per batch).", epochs=defaults.epochs)
    parser.add_argument("--recipe", choices=RECIPES, default="improved",
                        help="improved: beta1 0.5, lr 2e-4, label smoothing, DiffAugment, EMA "
                        "generator (see hw3lab.training.gan); homework: the homework's recipe. "
                        "The options below override either")
    parser.add_argument("--lr", type=float, help="Adam lr of both players")
    parser.add_argument("--beta1", type=float, help="Adam beta1 of both players")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--flip", action=argparse.BooleanOptionalAction,
                        help="random horizontal flips of the real faces")
    parser.add_argument("--real-label", type=float,
                        help="target for real faces (below 1: one-sided label smoothing)")
    parser.add_argument("--diffaugment", action=argparse.BooleanOptionalAction,
                        help="DiffAugment on real and generated faces")
    parser.add_argument("--ema", type=float, help="decay of the averaged generator (0: none)")
    parser.add_argument("--snapshot-every", type=int,
                        help="epochs between fixed-noise grids and weight snapshots")
    parser.add_argument("--width", type=float, default=1.0,
                        help="channel multiplier (1.0 is the homework's network)")
    env = setup(parser.parse_args(argv))
    args = env.args
    overrides = {key: value for key in asdict(defaults)
                 if key != "epochs" and (value := getattr(args, key)) is not None}
    config = RECIPES[args.recipe](epochs=env.epochs, **overrides)
    train = face_split(env, "train")
    torch.manual_seed(args.seed)
    generator = Generator(args.width).to(env.device)
    discriminator = Discriminator(args.width).to(env.device)
    modules = {"generator": generator, "discriminator": discriminator}
    if config.ema:
        modules["generator_ema"] = averaged_copy(generator)
    run = env.run(f"gan-seed{args.seed}", modules,
                  gan_optimizers(generator, discriminator, config))
    timer = Timer()
    history = print_metrics(train_gan(run, generator, discriminator, train, config))
    save_run(env, env.out / "gan.safetensors", "gan",
             {"generator": sampling_generator(run, generator, config),
              "discriminator": discriminator},
             {"family": "gan", "width": args.width, "recipe": {"name": args.recipe,
                                                               **asdict(config)},
              "epochs_run": run.epoch, "stopped_early": run.stopped_early,
              "history": history, "metrics": history[-1] if history else {}}, timer.seconds())


if __name__ == "__main__":
    main()
