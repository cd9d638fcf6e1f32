"""Model cards: what the manifest says about every checkpoint (command, data, seed, training
time, threads, metrics) and its per-epoch curves, for the Models tab.

Curves come from the ``history`` a checkpoint's JSON keeps (the metric dict of every epoch,
written by the ``train.*`` CLIs); checkpoints trained before histories were kept have none,
and the tab says so.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from hw3lab import limits
from hw3lab.lab.context import LabContext
from hw3lab.methods import title

CARD_HEADERS = ["model", "family", "metrics", "seed", "training time", "threads", "epochs",
                "trained on"]
CURVES = ("loss", "accuracy")  # one plot each: the metrics whose names hold the word


def _entries(ctx: LabContext) -> dict[str, dict[str, Any]]:
    """The manifest's models (derived files such as latents carry no family)."""
    return {name: entry for name, entry in ctx.store.manifest()["checkpoints"].items()
            if isinstance(entry, dict) and "family" in entry}


def model_names(ctx: LabContext) -> list[str]:
    return list(_entries(ctx))


def threads(entry: dict[str, Any]) -> str:
    """Training threads as recorded, else as the command set them, else unknown."""
    if "threads" in entry:
        return str(entry["threads"])
    given = re.search(r"--threads (\d+)", str(entry.get("command", "")))
    return given.group(1) if given else "-"


def _metrics(entry: dict[str, Any]) -> str:
    """The entry's metrics (accuracies as %, whether stored as fractions or as percents), the
    face models' local quality, or what a derived file was made from."""
    metrics = dict(entry.get("metrics") or {})
    if "quality" in entry:
        metrics["local Frechet (0 real, 1 untrained)"] = entry["quality"].get("scaled")
    if not metrics and "derived_from" in entry:
        return f"derived from {entry['derived_from']}"

    def formatted(key: str, value: Any) -> str:
        if "accuracy" in key and isinstance(value, float):
            return f"{value:.2%}" if value <= 1 else f"{value:.2f}%"
        return f"{value:.4g}" if isinstance(value, float) else str(value)
    return "; ".join(f"{k.replace('_', ' ')} {formatted(k, v)}"
                     for k, v in sorted(metrics.items())) or "-"


def _method(entry: dict[str, Any]) -> str:
    """' (DANN)' for a digit model (a student's own by its name), else ''."""
    method = entry.get("method")
    if entry.get("family") != "digits" or not isinstance(method, str):
        return ""
    return f" ({title(method)})"


def _seconds(value: Any) -> str:
    if not isinstance(value, int | float):
        return "-"
    return f"{value:.0f} s" if value < 3600 else f"{value / 3600:.1f} h"


def model_cards(ctx: LabContext) -> list[list[str]]:
    """One row per model of the manifest: the accuracy table of every checkpoint."""
    rows = []
    for name, entry in _entries(ctx).items():
        epochs = (f"{entry['epochs_run']}/{entry['epochs_planned']}"
                  if "epochs_run" in entry and "epochs_planned" in entry else "-")
        rows.append([ctx.redact(cell) for cell in (
            name, str(entry["family"]), _metrics(entry), str(entry.get("seed", "-")),
            _seconds(entry.get("training_seconds")), threads(entry), epochs,
            str(entry.get("training_device", entry.get("device", "-"))))])
    return rows


def model_card(ctx: LabContext, name: Any) -> str:
    """One model's card as Markdown: how it was made, on what, and how good it is."""
    entries = _entries(ctx)
    name = limits.check_choice(name, list(entries), "the model")
    entry = entries[name]
    data = entry.get("data") or {}
    recipe = entry.get("recipe") or {}
    lines = [f"### {name}{_method(entry)}",
             f"**Command:** `{entry.get('command', 'not recorded')}`",
             f"**Metrics:** {_metrics(entry)}",
             f"**Seed:** {entry.get('seed', '-')} · **training time:** "
             f"{_seconds(entry.get('training_seconds'))} · **threads:** {threads(entry)} · "
             f"**device:** {entry.get('training_device', entry.get('device', '-'))} · "
             f"**revision:** `{entry.get('revision', '-')}` · **date:** {entry.get('date', '-')}",
             f"**Data:** {data.get('path', '-')}; {data.get('licence', 'terms not recorded')}"]
    if recipe:
        lines.append("**Recipe:** " + ", ".join(f"{k} {v}" for k, v in sorted(recipe.items())))
    if "predictor_from" in entry:
        lines.append(f"**Predictor from:** {entry['predictor_from']} (reused, not trained)")
    if "imported_from" in entry:
        lines.append(f"**Imported from:** {', '.join(entry['imported_from'])}")
    return ctx.redact("\n\n".join(lines))


def curves(ctx: LabContext, name: Any) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Per-epoch losses and accuracies (long form: epoch, value, metric) and a note."""
    entries = _entries(ctx)
    name = limits.check_choice(name, list(entries), "the model")
    history = entries[name].get("history") or []
    frames = {}
    for word in CURVES:
        points = [{"epoch": row["epoch"], "value": float(value), "metric": key}
                  for row in history if isinstance(row, dict) and "epoch" in row
                  for key, value in row.items()
                  if word in key and isinstance(value, int | float) and not isinstance(value, bool)]
        frames[word] = pd.DataFrame(points, columns=["epoch", "value", "metric"])
    note = (f"{len(history)} epochs recorded." if history else
            f"{name} keeps no per-epoch history (it was trained before checkpoints kept one); "
            "its final metrics are in the card.")
    return frames["loss"], frames["accuracy"], note
