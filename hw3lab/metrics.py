"""The metrics every number in the lab, the manifest and the README comes from."""

from __future__ import annotations

import numpy as np


def accuracy(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of equal labels; both arrays must have the same length."""
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    if predicted.shape != truth.shape or predicted.ndim != 1:
        raise ValueError(f"label arrays differ in shape: {predicted.shape} vs {truth.shape}")
    if len(truth) == 0:
        raise ValueError("no labels to compare")
    return float((predicted == truth).mean())


def per_image_mse(images: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """Mean squared error per image on [0, 1] pixels, from uint8 (N, H, W, C) arrays."""
    a = np.asarray(images, dtype=np.float64) / 255.0
    b = np.asarray(reconstructions, dtype=np.float64) / 255.0
    if a.shape != b.shape:
        raise ValueError(f"image arrays differ in shape: {a.shape} vs {b.shape}")
    return ((a - b) ** 2).reshape(len(a), -1).mean(axis=1)
