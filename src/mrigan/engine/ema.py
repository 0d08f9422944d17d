"""Exponential moving average of a module's weights (torch.optim.swa_utils.AveragedModel)."""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def make_ema(module: nn.Module, decay: float) -> AveragedModel:
    """An EMA copy of `module`: parameters averaged with `decay`, buffers copied from the live module.

    The first update copies the weights; each later one does `ema = decay * ema + (1 - decay) * weights`.
    Buffers (BatchNorm statistics, spectral-norm vectors) are copied rather than averaged, so the EMA
    module is always usable as it is. The copy stays in eval mode and needs no gradients.
    """
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"ema_decay must be in [0, 1), got {decay}")
    ema = AveragedModel(module, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=False)
    ema.requires_grad_(False)
    return ema.eval()


@torch.no_grad()
def update_ema(ema: AveragedModel, module: nn.Module) -> None:
    """Fold the current weights of `module` into `ema` and copy its buffers."""
    ema.update_parameters(module)
    for ema_buffer, buffer in zip(ema.module.buffers(), module.buffers()):
        ema_buffer.copy_(buffer)
