"""Exponential moving average of a module's weights (torch.optim.swa_utils.AveragedModel)."""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel


def warmup_decay(decay: float, updates: int) -> float:
    """The decay used at the update after `updates` earlier ones: min(decay, (1 + n) / (10 + n)).

    Without the warm-up, a short run's average is dominated by its first, untrained weights (0.998 ** 500
    still leaves 37% of them after 500 steps).
    """
    return min(decay, (1.0 + updates) / (10.0 + updates))


def make_ema(module: nn.Module, decay: float) -> AveragedModel:
    """An EMA copy of `module`: parameters averaged with a warmed-up `decay`, buffers copied from the live module.

    The first update copies the weights; update n + 1 does `ema = d * ema + (1 - d) * weights` with
    d = `warmup_decay(decay, n)`. The update count is a buffer of the AveragedModel, so it is checkpointed
    and a resumed run averages exactly as an uninterrupted one. Buffers (BatchNorm statistics, spectral-norm
    vectors) are copied rather than averaged, so the EMA module is always usable as it is. The copy stays in
    eval mode and needs no gradients.
    """
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"ema_decay must be in [0, 1), got {decay}")

    def average(averaged: torch.Tensor, current: torch.Tensor, updates: torch.Tensor) -> torch.Tensor:
        weight = warmup_decay(decay, int(updates))
        return averaged * weight + current * (1.0 - weight)

    ema = AveragedModel(module, avg_fn=average, use_buffers=False)
    ema.requires_grad_(False)
    return ema.eval()


@torch.no_grad()
def update_ema(ema: AveragedModel, module: nn.Module) -> None:
    """Fold the current weights of `module` into `ema` and copy its buffers."""
    ema.update_parameters(module)
    for ema_buffer, buffer in zip(ema.module.buffers(), module.buffers()):
        ema_buffer.copy_(buffer)
