"""What a ``train.*`` CLI writes: one JSON line per epoch on stdout (progress bars go to
stderr), and the checkpoint, saved and then measured by one function every CLI shares."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hw3lab.checkpoints import (
    metadata_path,
    read_metadata,
    record_in_manifest,
    save_checkpoint,
    write_json,
)
from hw3lab.inference import ModelStore, test_accuracies
from hw3lab.methods import digit_checkpoint, digit_key, predictor_file, task_name
from hw3lab.training.arguments import TrainingSetup
from hw3lab.training.common import Run
from hw3lab.training.timeline import DigitProbe, read_stages, ship_timeline

DATA_TERMS = ("Trained on hw3_data (see hw3_data/PROVENANCE.md); inherits its terms: CelebA, "
              "SVHN and BSDS500 (behind MNIST-M) are for non-commercial research and education "
              "only, MNIST is CC BY-SA 3.0, USPS carries no formal licence.")


def print_metrics(metrics: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Print each metric dict as a JSON line as it arrives; return them all."""
    seen = []
    for entry in metrics:
        print(json.dumps(entry), flush=True)
        seen.append(entry)
    return seen


def save_and_measure(setup: TrainingSetup, run: Run, name: str, path: Path,
                     modules: dict[str, nn.Module], metadata: dict[str, Any],
                     measure: Callable[[], dict[str, Any]] | None = None,
                     timeline_extra: dict[str, torch.Tensor] | None = None) -> dict[str, Any]:
    """Write the checkpoint ``path`` (listed as ``name`` in the manifest) with what every one
    records: data terms, timing, the run's epochs with every epoch's metrics (its ``history``),
    provenance and ``metadata`` (which holds the ``recipe``); then ``measure`` it and store
    the metrics in its JSON and the manifest. Where the run recorded a timeline, it ships
    beside the checkpoint (with ``timeline_extra``, the probe's pictures and labels) and the
    JSON's ``timeline`` names it. Returns the metrics."""
    stages = read_stages(run.timeline_path) if run.timeline_path else {}
    if stages:
        metadata = {**metadata, "timeline": ship_timeline(stages, setup.out, name,
                                                          timeline_extra)}
    history = run.history()
    summary = {"epochs_planned": metadata["recipe"]["epochs"], "epochs_run": run.epoch,
               "stopped_early": run.stopped_early, "history": history}
    summary.update({key: run.extra[key] for key in ("best_epoch", "best_score")
                    if key in run.extra})
    full = {"data": {"path": setup.data.name, "provenance": "see hw3_data/PROVENANCE.md",
                     "licence": DATA_TERMS},
            # summed over the logged epochs, so a resumed run counts every process's time
            "training_seconds": round(sum(e["seconds"] for e in history), 1) if history
            else run.seconds(), "training_device": str(setup.device),
            "precision": setup.precision, "threads": torch.get_num_threads(),
            "deterministic": setup.deterministic,
            "dry_run": setup.dry_run, **summary, **metadata, **setup.provenance}
    save_checkpoint(path, modules, full)
    record_in_manifest(setup.out, name, path)
    if measure is None:
        return {}
    metrics = measure()
    write_json(metadata_path(path), {**read_metadata(path), "metrics": metrics})
    record_in_manifest(setup.out, name, path)
    return metrics


def save_digits(setup: TrainingSetup, run: Run, source: str, target: str, method: str,
                modules: dict[str, nn.Module], metadata: dict[str, Any],
                probe: DigitProbe | None = None) -> dict[str, Any]:
    """Write the method's checkpoint (:func:`hw3lab.methods.digit_key`; ``predictor_from``
    recorded where the registry says it reuses another's predictor) and measure it as shipped
    (fp16 weights, loaded by ModelStore) on both test splits; print and return the metrics."""
    def measure() -> dict[str, float]:
        def test_split(domain: str) -> tuple[np.ndarray, np.ndarray]:
            test = setup.labelled(domain, "test")
            return test.images.permute(0, 2, 3, 1).cpu().numpy(), test.labels.cpu().numpy()

        return test_accuracies(ModelStore(setup.out, str(setup.device)), source, target, method,
                               test_split)

    shared = predictor_file(source, target, method)
    metrics = save_and_measure(
        setup, run, digit_key(source, target, method),
        digit_checkpoint(setup.out, source, target, method), modules,
        {"family": "digits", "method": method, "source": source, "target": target,
         **({"predictor_from": shared} if shared else {}), **metadata},
        measure, probe.pictures() if probe is not None else None)
    print(json.dumps({"task": task_name(source, target), "method": method, **metrics}),
          flush=True)
    return metrics
