"""Gradient reversal (Ganin & Lempitsky, 2015): identity forward, -strength * grad backward.

The strength is an explicit argument of every call, never a schedule hidden in the module, so
the training loop alone decides how it grows.
"""

from __future__ import annotations

import torch


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, strength: float) -> torch.Tensor:  # noqa: ANN001
        ctx.strength = strength
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):  # noqa: ANN001, ANN205
        return -ctx.strength * grad_output, None


def reverse_gradient(x: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
    """Pass ``x`` through unchanged; multiply its gradient by ``-strength``."""
    return _ReverseGradient.apply(x, float(strength))
