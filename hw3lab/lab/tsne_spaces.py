"""The feature spaces a t-SNE view embeds: the VAE's latents, or one method's features on one
task; each a small frozen value, all of them in one list. The UI and the API name a space by
its :attr:`FeatureSpace.name` (``"VAE latents"``, ``"usps->mnistm dann"``), which is also how
precomputed view files record it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hw3lab import limits
from hw3lab.analysis.latents import LATENTS_FILE
from hw3lab.methods import METHODS, TASKS, digit_checkpoint

VAE_SPACE = "VAE latents"  # the VAE space's name
FEATURE_TSNE_POINTS = 400  # the digits tab's t-SNE of every method: its default points


@dataclass(frozen=True)
class FeatureSpace:
    """The VAE's latents (no task, no method), or ``method``'s features on source -> target."""

    source: str | None = None
    target: str | None = None
    method: str | None = None

    @property
    def is_vae(self) -> bool:
        return self.method is None

    @property
    def task(self) -> str | None:
        """'usps->mnistm', as the tabs name a task; None for the VAE's latents."""
        return None if self.is_vae else f"{self.source}->{self.target}"

    @property
    def name(self) -> str:
        return VAE_SPACE if self.is_vae else f"{self.task} {self.method}"

    def __str__(self) -> str:
        return self.name

    def default_counts(self) -> tuple[int, ...]:
        """The point counts its default views are drawn at."""
        if self.is_vae:
            return (int(limits.TSNE_POINTS.default),)
        return (int(limits.TSNE_POINTS.default), FEATURE_TSNE_POINTS)

    def checkpoint(self, checkpoints: Path) -> Path:
        """The file its features come from: the latents file, or the method's checkpoint."""
        if self.is_vae:
            return checkpoints / LATENTS_FILE
        assert self.source is not None and self.target is not None and self.method is not None
        return digit_checkpoint(checkpoints, self.source, self.target, self.method)


VAE_LATENTS = FeatureSpace()
FEATURE_SPACES = (VAE_LATENTS, *(FeatureSpace(source, target, method)
                                 for source, target in TASKS for method in METHODS))
SPACES = tuple(space.name for space in FEATURE_SPACES)  # what the UI and the API offer
_BY_NAME = {space.name: space for space in FEATURE_SPACES}


def space_named(name: str) -> FeatureSpace | None:
    """The space of that name, or None for a name no registered space has (a session's own
    model's features, say)."""
    return _BY_NAME.get(name)


def digit_space(source: str, target: str, method: str) -> FeatureSpace:
    return FeatureSpace(source, target, method)
