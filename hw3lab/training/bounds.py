"""Source-only and target-only runs as the command lines make them (the lower and upper bounds
of adaptation): train, keep the best model on the held-out split, write and measure its
checkpoint; and the saved source-only model that ADDA and the mean teacher start from."""

from __future__ import annotations

import torch

from hw3lab.checkpoints import load_modules
from hw3lab.methods import digit_checkpoint
from hw3lab.models import Extractor, Predictor
from hw3lab.training.arguments import TrainingSetup
from hw3lab.training.digits import DigitNets, run_name
from hw3lab.training.saving import print_metrics, save_digits
from hw3lab.training.supervised import SupervisedConfig, classifier_optimizer, train_supervised


def train_classifier(setup: TrainingSetup, method: str, source: str, target: str,
                     config: SupervisedConfig, holdout: float, **metadata: str) -> DigitNets:
    """Train ``method`` ('source_only' or 'target_only') on its domain, keep the best model on
    the held-out part, write and measure its checkpoint; return the model."""
    train, val = setup.train_val(source if method == "source_only" else target, holdout)
    torch.manual_seed(setup.seed)
    nets = DigitNets(Extractor(config.standardize), Predictor()).to(setup.device)
    run = setup.run(run_name(source, target, method, setup.seed), nets.modules(),
                    {"classifier": classifier_optimizer(nets, config.lr)})
    history = print_metrics(train_supervised(run, nets, train, val, config))
    save_digits(setup, run, source, target, method, nets.modules(),
                {"grey": config.grey, "standardize": config.standardize, "history": history,
                 "recipe": vars(config) | {"optimizer": "Adam",
                                                                "holdout": holdout},
                 **metadata})
    return nets


def saved_source_model(setup: TrainingSetup, source: str, target: str) -> DigitNets | None:
    """The task's source-only model from --out, on the device; None if --out has none."""
    path = digit_checkpoint(setup.out, source, target, "source_only")
    if not path.is_file():
        return None
    nets = DigitNets(Extractor(), Predictor())  # drawn, then replaced: keeps the seed's stream
    nets.extractor.follow(load_modules(path, nets.modules()))
    return nets.to(setup.device)
