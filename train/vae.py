"""python -m train.vae: the homework's VAE on hw3_data/face; see --help."""

from __future__ import annotations

import sys
from functools import partial

import torch

from hw3lab import cli
from hw3lab.models import VAE
from hw3lab.models.vae import LATENT_DIM
from hw3lab.training.arguments import TrainingSetup, add_config, config_from, training_parser
from hw3lab.training.saving import print_metrics, save_and_measure
from hw3lab.training.timeline import (
    FaceProbe,
    face_indices,
    recording,
    stage_epochs,
    vae_stage,
)
from hw3lab.training.vae import VaeConfig, reconstruction_mse, train_vae, vae_optimizer

WIDTHS = {"shipped": 0.25, "homework": 1.0}
HELP = {
    "flip": "random horizontal flips",
    "kl_schedule": "homework: kl-base, raised to kl-base / mse^2 below kl-threshold; "
                   "anneal: ramp to kl-weight over kl-warmup epochs, then hold",
    "kl_base": "KL weight at the start",
    "kl_threshold": "below this MSE (on [-1, 1]) the KL weight becomes kl_base / mse^2",
    "kl_weight": "the annealed schedule's final KL weight",
    "kl_warmup": "epochs over which the annealed KL weight ramps up",
}


@cli.command
def main(argv: list[str] | None = None) -> None:
    # bf16 autocast gains ~1.05x on the width-0.25 VAE (docs/training.md): it trains in fp32
    parser = training_parser("Train the homework's VAE on 64x64 faces (MSE + KL with the "
                             "homework's KL-weight schedule).", precision="fp32")
    parser.add_argument("--recipe", choices=WIDTHS, default="shipped",
                        help="shipped: the homework's loss and schedule on the width-0.25 "
                        "network (the shipped VAE); homework: the same on the homework's "
                        "full-width network. The options below override either")
    add_config(parser, VaeConfig, HELP, choices={"kl_schedule": ("homework", "anneal")})
    parser.add_argument("--width", type=float,
                        help="channel multiplier (1.0 is the homework's network; default: the "
                        "recipe's)")
    args = parser.parse_args(argv)
    if args.width is None:
        args.width = WIDTHS[args.recipe]
    setup = TrainingSetup.from_args(args)
    config = setup.shortened(config_from(VaeConfig, args))
    train, test = setup.faces("train"), setup.faces("test")
    torch.manual_seed(setup.seed)
    vae = VAE(args.width).to(setup.device)
    run = setup.run(f"vae-seed{setup.seed}", {"vae": vae}, {"vae": vae_optimizer(vae, config)})
    probe = FaceProbe.of(test, LATENT_DIM)
    print_metrics(recording(train_vae(run, vae, train, test, config), run.timeline_path,
                            partial(vae_stage, probe, vae), stage_epochs(config.epochs)))
    attributes = setup.labelled_faces("test")[1][face_indices(len(test)).to(setup.device)]
    save_and_measure(setup, run, "vae", setup.out / "vae.safetensors",
                     {"encoder": vae.encoder, "decoder": vae.decoder},
                     {"family": "vae", "width": args.width, "recipe": vars(config)},
                     lambda: {"test_mse": reconstruction_mse(vae, test)},
                     probe.pictures(attributes))


if __name__ == "__main__":
    sys.exit(main())
