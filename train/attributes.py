"""python -m train.attributes: the face-attribute classifier that judges generated faces."""

from __future__ import annotations

import torch

from hw3lab.data.layout import FACE_ATTRIBUTES
from hw3lab.data.readers import load_faces
from hw3lab.models import AttributeNet
from hw3lab.training.attributes import AttributeConfig, per_attribute_accuracy, train_attributes
from hw3lab.training.cli import (
    Timer,
    add_metrics,
    base_parser,
    print_metrics,
    save_run,
    setup,
)
from hw3lab.training.common import on_device

HOLDOUT = 1000  # training faces held out to pick the epoch; the test faces decide nothing


def main(argv: list[str] | None = None) -> None:
    defaults = AttributeConfig()
    parser = base_parser("Train the 13-attribute face classifier whose features give the lab's "
                         "local Frechet distance.", epochs=defaults.epochs)
    parser.add_argument("--lr", type=float, default=defaults.lr, help="peak one-cycle lr")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    env = setup(parser.parse_args(argv))
    args = env.args
    config = AttributeConfig(env.epochs, args.lr, args.batch_size)

    def split(name: str) -> tuple[torch.Tensor, torch.Tensor]:
        faces = load_faces(name, env.data)
        count = 96 if args.dry_run else len(faces.images)
        return (on_device(faces.images[:count], env.device),
                torch.as_tensor(faces.targets[:count], dtype=torch.float32, device=env.device))

    images, targets = split("train")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(args.seed))
    held = order[:min(HOLDOUT, len(images) // 5)].to(env.device)
    kept = order[len(held):].to(env.device)
    torch.manual_seed(args.seed)
    net = AttributeNet().to(env.device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    run = env.run(f"attributes-seed{args.seed}", {"attributes": net}, {"attributes": optimizer})
    timer = Timer()
    history = print_metrics(train_attributes(run, net, (images[kept], targets[kept]),
                                             (images[held], targets[held]), config))
    path = save_run(env, env.out / "attributes.safetensors", "attributes", {"attributes": net},
                    {"family": "attributes", "recipe": vars(config), "holdout": len(held),
                     "epochs_run": run.epoch, "best_epoch": run.extra.get("best_epoch"),
                     "history": history}, timer.seconds())
    test = split("test")
    accuracy = per_attribute_accuracy(net, *test)
    metrics = {"test_accuracy": {name: round(float(a), 2)
                                 for name, a in zip(FACE_ATTRIBUTES, accuracy, strict=True)},
               "mean_test_accuracy": round(float(accuracy.mean()), 2),
               "majority_baseline": round(float(
                   torch.maximum(test[1].mean(0), 1 - test[1].mean(0)).mean() * 100), 2)}
    add_metrics(env, path, "attributes", metrics)
    print(metrics, flush=True)


if __name__ == "__main__":
    main()
