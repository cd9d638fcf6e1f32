"""python -m train.vae: the homework's VAE on hw3_data/face; see --help."""

from __future__ import annotations

import argparse

import torch

from hw3lab.models import VAE
from hw3lab.training.cli import (
    Timer,
    add_metrics,
    base_parser,
    face_split,
    print_metrics,
    save_run,
    setup,
)
from hw3lab.training.vae import VaeConfig, reconstruction_mse, train_vae, vae_optimizer


def main(argv: list[str] | None = None) -> None:
    parser = base_parser("Train the homework's VAE on 64x64 faces (MSE + KL with the "
                         "homework's KL-weight schedule).", epochs=100)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True,
                        help="random horizontal flips")
    parser.add_argument("--kl-schedule", choices=["homework", "anneal"], default="homework",
                        help="homework: kl-base, raised to kl-base / mse^2 below kl-threshold; "
                        "anneal: ramp to kl-weight over kl-warmup epochs, then hold")
    parser.add_argument("--kl-base", type=float, default=1e-5, help="KL weight at the start")
    parser.add_argument("--kl-threshold", type=float, default=0.015,
                        help="below this MSE (on [-1, 1]) the KL weight becomes kl_base / mse^2")
    parser.add_argument("--kl-weight", type=float, default=2.5e-4,
                        help="the annealed schedule's final KL weight")
    parser.add_argument("--kl-warmup", type=float, default=10.0,
                        help="epochs over which the annealed KL weight ramps up")
    parser.add_argument("--width", type=float, default=1.0,
                        help="channel multiplier (1.0 is the homework's network)")
    env = setup(parser.parse_args(argv))
    args = env.args
    config = VaeConfig(env.epochs, args.lr, args.batch_size, args.flip, args.kl_schedule,
                       args.kl_base, args.kl_threshold, args.kl_weight, args.kl_warmup)
    train, test = face_split(env, "train"), face_split(env, "test")
    torch.manual_seed(args.seed)
    vae = VAE(args.width).to(env.device)
    run = env.run(f"vae-seed{args.seed}", {"vae": vae}, {"vae": vae_optimizer(vae, config)})
    timer = Timer()
    history = print_metrics(train_vae(run, vae, train, test, config))
    path = save_run(env, env.out / "vae.safetensors", "vae",
                    {"encoder": vae.encoder, "decoder": vae.decoder},
                    {"family": "vae", "width": args.width, "recipe": vars(config),
                     "epochs_run": run.epoch, "stopped_early": run.stopped_early,
                     "history": history}, timer.seconds())
    add_metrics(env, path, "vae", {"test_mse": reconstruction_mse(vae, test)})


if __name__ == "__main__":
    main()
