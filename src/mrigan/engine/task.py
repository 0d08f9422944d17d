"""The contract between the engine and a training recipe, and the `StepContext` a recipe trains through."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch
from torch import nn

from mrigan.errors import UsageError

if TYPE_CHECKING:
    from mrigan.engine.distributed import DistributedContext


@runtime_checkable
class TrainingTask(Protocol):
    """What a recipe (restore, super_resolve, cyclegan, pix2pix) implements for `Trainer.fit`.

    Required:
        modules(): the networks by name, e.g. {"generator": G, "discriminator": D}. The engine moves them to the
            device, checkpoints them, and exports those that keep their constructor kwargs (`self.config` as in
            mrigan.nn, or the `mrigan.checkpoint.remember_kwargs` decorator).
        configure_optimizers(): one optimizer per group, e.g. {"generator": Adam(G), "discriminator": Adam(D)};
            TTUR is just different learning rates here. Called after the modules are on the device.
        training_step(batch, step): one explicit update, e.g. D step then G step, each through
            `step.optimize(name, loss)`; returns scalar losses for logging (floats or 0-d tensors). The batch is
            already on `step.device`. Use the modules directly (`self.generator`): they are never wrapped.
            Gradients that a loss leaves in another group's parameters (D's, from the G loss) are harmless:
            that group's next `optimize` clears them; to save that backward work, a recipe may switch
            `requires_grad` off for D during the G step.
        validation_step(batch, models): metrics for one validation batch (averaged by the engine, weighted by
            batch size). `models` holds the modules by name, in eval mode, with the EMA copy in place of each
            module that has one.

    Optional (looked up with getattr):
        name: the task's name for model cards (default: the class name).
        ema_targets() -> list[str]: modules to keep an EMA of (default ["generator"] if there is one).
        sample_images(batch, models) -> dict[str, np.ndarray]: columns of a figure, e.g. input / output / target,
            each (N, H, W), (N, C, H, W) (first channel shown) or (N, C, D, H, W) (middle slice shown).
        configure_schedulers(optimizers) -> dict[str, LRScheduler]: stepped once after every training step and
            checkpointed.
        model_card(name) -> dict: extra fields for the card of exported module `name` (a "training" entry is
            merged into the card's training record, e.g. the data used).
        state_dict() / load_state_dict(state): recipe state outside the modules (must be weights_only-loadable).
    """

    def modules(self) -> dict[str, nn.Module]: ...

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]: ...

    def training_step(self, batch: Any, step: StepContext) -> Mapping[str, float | torch.Tensor]: ...

    def validation_step(self, batch: Any, models: dict[str, nn.Module]) -> Mapping[str, float | torch.Tensor]: ...


class StepContext:
    """Handed to `training_step`: the step counters, the device, autocast and `optimize`.

    Attributes:
        global_step: number of completed training steps before this one (0 for the first).
        epoch: current epoch (0-based).
        device: where the modules and the batch are.
        rank, world_size: this process in a distributed run (0 and 1 otherwise).
        grad_norms: total gradient norm (before clipping) of each optimizer group stepped in this step.
    """

    def __init__(
        self,
        *,
        optimizers: Mapping[str, torch.optim.Optimizer],
        scalers: Mapping[str, torch.amp.GradScaler],
        amp_dtype: torch.dtype | None,
        grad_clip: float | None,
        device: torch.device,
        distributed: DistributedContext,
        global_step: int,
        epoch: int,
    ) -> None:
        self._optimizers = optimizers
        self._scalers = scalers
        self._amp_dtype = amp_dtype
        self._grad_clip = grad_clip
        self._distributed = distributed
        self.device = device
        self.global_step = global_step
        self.epoch = epoch
        self.rank = distributed.rank
        self.world_size = distributed.world_size
        self.grad_norms: dict[str, torch.Tensor] = {}

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision for the forward pass as configured (a no-op when AMP is off)."""
        if self._amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self._amp_dtype)

    def optimize(self, name: str, loss: torch.Tensor) -> None:
        """Update optimizer group `name` from `loss`.

        Does: zero_grad, (scaled) backward, gradient average across processes, unscale, clip the gradient norm
        over this optimizer's parameters, optimizer step, scaler update. Gradients that the backward leaves in
        other groups' parameters (D's, during the G step) are ignored and cleared by their own next `optimize`.
        """
        optimizer = self._optimizers.get(name)
        if optimizer is None:
            raise UsageError(f"no optimizer named {name!r}; the task configured: {', '.join(self._optimizers)}")
        params = [param for group in optimizer.param_groups for param in group["params"] if param.requires_grad]
        optimizer.zero_grad(set_to_none=True)
        if not params:  # every module of the group is frozen (trainer.frozen_modules): nothing to update
            return
        scaler = self._scalers.get(name)
        (scaler.scale(loss) if scaler is not None else loss).backward()
        self._distributed.all_reduce_gradients(params)
        if scaler is not None:
            scaler.unscale_(optimizer)
        if self._grad_clip:
            self.grad_norms[name] = nn.utils.clip_grad_norm_(params, self._grad_clip)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
