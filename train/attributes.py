"""python -m train.attributes: the face-attribute classifier that judges generated faces."""

from __future__ import annotations

import sys

import torch

from hw3lab import cli
from hw3lab.data.layout import FACE_ATTRIBUTES
from hw3lab.models import AttributeNet
from hw3lab.training.arguments import TrainingSetup, add_config, config_from, training_parser
from hw3lab.training.attributes import AttributeConfig, per_attribute_accuracy, train_attributes
from hw3lab.training.saving import print_metrics, save_and_measure

HOLDOUT = 1000  # training faces held out to pick the epoch; the test faces decide nothing
HELP = {"lr": "peak one-cycle lr", "weight_decay": "AdamW weight decay"}


@cli.command
def main(argv: list[str] | None = None) -> None:
    parser = training_parser("Train the 13-attribute face classifier whose features give the "
                             "lab's local Frechet distance.")
    add_config(parser, AttributeConfig, HELP)
    args = parser.parse_args(argv)
    setup = TrainingSetup.from_args(args)
    config = setup.shortened(config_from(AttributeConfig, args))
    images, targets = setup.labelled_faces("train")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(setup.seed))
    held = order[:min(HOLDOUT, len(images) // 5)].to(setup.device)
    kept = order[len(held):].to(setup.device)
    torch.manual_seed(setup.seed)
    net = AttributeNet().to(setup.device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    run = setup.run(f"attributes-seed{setup.seed}", {"attributes": net},
                    {"attributes": optimizer})
    print_metrics(train_attributes(run, net, (images[kept], targets[kept]),
                                     (images[held], targets[held]), config))

    def measure() -> dict:
        test = setup.labelled_faces("test")
        accuracy = per_attribute_accuracy(net, *test)
        return {"test_accuracy": {name: round(float(a), 2)
                                  for name, a in zip(FACE_ATTRIBUTES, accuracy, strict=True)},
                "mean_test_accuracy": round(float(accuracy.mean()), 2),
                "majority_baseline": round(float(
                    torch.maximum(test[1].mean(0), 1 - test[1].mean(0)).mean() * 100), 2)}

    metrics = save_and_measure(setup, run, "attributes", setup.out / "attributes.safetensors",
                               {"attributes": net},
                               {"family": "attributes", "recipe": vars(config),
                                "holdout": len(held)}, measure)
    print(metrics, flush=True)


if __name__ == "__main__":
    sys.exit(main())
