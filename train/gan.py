"""python -m train.gan: the homework's DCGAN on hw3_data/face; see --help."""

from __future__ import annotations

import argparse

import torch

from hw3lab.models import Discriminator, Generator
from hw3lab.training.cli import Timer, base_parser, face_split, print_metrics, save_run, setup
from hw3lab.training.gan import GanConfig, gan_optimizers, train_gan


def main(argv: list[str] | None = None) -> None:
    parser = base_parser("Train the homework's DCGAN on 64x64 faces (BCE, a generator step "
                         "then a discriminator step per batch).", epochs=100)
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam lr of both players")
    parser.add_argument("--beta1", type=float, default=0.9, help="Adam beta1 of both players")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True,
                        help="random horizontal flips of the real faces")
    parser.add_argument("--width", type=float, default=1.0,
                        help="channel multiplier (1.0 is the homework's network)")
    env = setup(parser.parse_args(argv))
    args = env.args
    config = GanConfig(env.epochs, args.lr, args.beta1, args.batch_size, args.flip)
    train = face_split(env, "train")
    torch.manual_seed(args.seed)
    generator = Generator(args.width).to(env.device)
    discriminator = Discriminator(args.width).to(env.device)
    run = env.run(f"gan-seed{args.seed}",
                  {"generator": generator, "discriminator": discriminator},
                  gan_optimizers(generator, discriminator, config))
    timer = Timer()
    history = print_metrics(train_gan(run, generator, discriminator, train, config))
    save_run(env, env.out / "gan.safetensors", "gan",
             {"generator": generator, "discriminator": discriminator},
             {"family": "gan", "width": args.width, "recipe": vars(config),
              "epochs_run": run.epoch, "stopped_early": run.stopped_early,
              "metrics": history[-1] if history else {}}, timer.seconds())


if __name__ == "__main__":
    main()
