"""Data-parallel training over torch.distributed, set up from the environment torchrun provides.

How a GAN step is kept in sync
------------------------------
The modules are *not* wrapped in `DistributedDataParallel`. DDP synchronises gradients from hooks armed by a
forward pass through the wrapper, which fits one model with one backward per forward, but not a GAN step:
D is run in the G step only to pass gradients to G (DDP would all-reduce D's unused gradients, or fail with
"Expected to have finished reduction in the prior iteration" when a forward is not followed by a backward, as
in D-only warm-up or n_critic steps), and gradient penalties need `torch.autograd.grad`, which DDP does not
support. Instead, as NVIDIA's StyleGAN2-ADA / StyleGAN3 training loops do, every process:

1. starts from rank 0's parameters and buffers (`broadcast_module_state`);
2. in `StepContext.optimize(name, loss)`, after the backward, averages the gradients of *that optimizer's*
   parameters only, in one flat all-reduce per dtype (`all_reduce_gradients`), then clips and steps — so
   every rank applies the same update, and D's gradients left by the G step are never communicated;
3. after each training step, copies rank 0's buffers (BatchNorm running statistics) to every rank, as DDP's
   `broadcast_buffers` does.

The cost against DDP is that communication does not overlap the backward pass; for the image-to-image
networks here it is small next to the convolutions. Each rank sees its own shard of the data
(`make_loader` uses a DistributedSampler), so the effective batch is world_size x batch_size.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from mrigan.errors import UsageError

#: How long ranks wait for each other (rank 0 validates and writes checkpoints while the others wait).
PROCESS_GROUP_TIMEOUT = _dt.timedelta(minutes=60)


@dataclass
class DistributedContext:
    """This process's place in a (possibly single-process) run.

    Attributes:
        rank: global rank (0 writes files and logs).
        local_rank: rank on this node (selects the GPU).
        world_size: number of processes.
        device: this process's device.
        owns_group: the process group was created here and is destroyed by `close`.
    """

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        """True on the process that writes files."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """True when there is more than one process to talk to."""
        return self.world_size > 1

    def all_reduce_gradients(self, params: Sequence[torch.Tensor]) -> None:
        """Average `.grad` of `params` over all processes (no-op in a single process).

        A parameter with a gradient on some ranks only gets zeros where it has none (as DDP does); a parameter
        without a gradient anywhere keeps `grad=None`, so the optimizer skips it as in a single process.
        """
        if not self.active or not params:
            return
        present = torch.tensor([param.grad is not None for param in params], dtype=torch.int32, device=self.device)
        dist.all_reduce(present, op=dist.ReduceOp.MAX)
        grads = []
        for param, flag in zip(params, present.tolist()):
            if flag and param.grad is None:
                param.grad = torch.zeros_like(param)
            if flag:
                grads.append(param.grad)
        for flat, group in _flatten_by_dtype(grads):
            dist.all_reduce(flat, op=dist.ReduceOp.SUM)
            flat.div_(self.world_size)
            _unflatten_into(flat, group)

    def broadcast_tensors(self, tensors: Iterable[torch.Tensor], source: int = 0) -> None:
        """Copy `tensors` from rank `source` into every rank, in place (one broadcast per dtype)."""
        if not self.active:
            return
        with torch.no_grad():
            for flat, group in _flatten_by_dtype(list(tensors)):
                dist.broadcast(flat, src=source)
                _unflatten_into(flat, group)

    def broadcast_object(self, value: Any, source: int = 0) -> Any:
        """A picklable value from rank `source`, on every rank."""
        if not self.active:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=source)
        return box[0]

    def gather_objects(self, value: Any) -> list[Any]:
        """Every rank's `value`, in rank order (on every rank)."""
        if not self.active:
            return [value]
        values: list[Any] = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def close(self) -> None:
        """Destroy the process group if it was created by `setup_distributed`."""
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False


def env_rank_and_world() -> tuple[int, int, int]:
    """(rank, local_rank, world_size) from an initialised process group or torchrun's environment."""
    if dist.is_available() and dist.is_initialized():
        local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
        return dist.get_rank(), local, dist.get_world_size()
    rank = int(os.environ.get("RANK", "0"))
    return rank, int(os.environ.get("LOCAL_RANK", rank)), int(os.environ.get("WORLD_SIZE", "1"))


def resolve_device(preference: str, local_rank: int = 0) -> torch.device:
    """`auto` -> this process's GPU if CUDA is available, else CPU; `cuda` without CUDA is an error."""
    if preference not in ("auto", "cpu", "cuda"):
        raise UsageError(f"device must be auto, cpu or cuda (got {preference!r})")
    if preference == "cpu" or (preference == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UsageError("device=cuda was asked for, but torch sees no CUDA GPU")
    return torch.device("cuda", local_rank % torch.cuda.device_count())


def setup_distributed(device: str = "auto") -> DistributedContext:
    """Join the process group that torchrun describes (RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR ...).

    Uses NCCL on CUDA and gloo on CPU. Without torchrun (WORLD_SIZE unset or 1) nothing is initialised. An
    already initialised group (e.g. by the caller) is used as it is and left open.
    """
    rank, local_rank, world_size = env_rank_and_world()
    resolved = resolve_device(device, local_rank)
    if resolved.type == "cuda":
        torch.cuda.set_device(resolved)
    owns_group = False
    if world_size > 1 and not dist.is_initialized():
        if not dist.is_available():
            raise UsageError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
        backend = "nccl" if resolved.type == "cuda" else "gloo"
        kwargs: dict[str, Any] = {"backend": backend, "timeout": PROCESS_GROUP_TIMEOUT}
        if resolved.type == "cuda":
            kwargs["device_id"] = resolved
        dist.init_process_group(**kwargs)
        owns_group = True
        rank, world_size = dist.get_rank(), dist.get_world_size()
    return DistributedContext(
        rank=rank, local_rank=local_rank, world_size=world_size, device=resolved, owns_group=owns_group
    )


def broadcast_module_state(context: DistributedContext, modules: Iterable[nn.Module], source: int = 0) -> None:
    """Make every rank's parameters and buffers equal to rank `source`'s."""
    if not context.active:
        return
    tensors: list[torch.Tensor] = []
    for module in modules:
        tensors.extend(param.data for param in module.parameters())
        tensors.extend(module.buffers())
    context.broadcast_tensors(tensors, source)


def broadcast_buffers(context: DistributedContext, modules: Iterable[nn.Module], source: int = 0) -> None:
    """Copy rank `source`'s floating-point buffers (e.g. BatchNorm running statistics) to every rank."""
    if not context.active:
        return
    buffers = [buffer for module in modules for buffer in module.buffers() if buffer.is_floating_point()]
    context.broadcast_tensors(buffers, source)


def _flatten_by_dtype(tensors: Sequence[torch.Tensor]) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
    groups: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}
    for tensor in tensors:
        groups.setdefault((tensor.dtype, tensor.device), []).append(tensor)
    return [(torch.cat([tensor.reshape(-1) for tensor in group]), group) for group in groups.values()]


def _unflatten_into(flat: torch.Tensor, group: list[torch.Tensor]) -> None:
    offset = 0
    for tensor in group:
        count = tensor.numel()
        tensor.copy_(flat[offset : offset + count].view_as(tensor))
        offset += count
