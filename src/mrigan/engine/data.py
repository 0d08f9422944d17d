"""Data loaders whose order depends only on (seed, epoch), can start mid-epoch, and shard across processes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from mrigan.engine.distributed import env_rank_and_world


class ResumableSampler(DistributedSampler):
    """A `DistributedSampler` that can skip the first samples of an epoch (to resume mid-epoch).

    Its order depends only on (seed, epoch) and it shards the data across `num_replicas` processes (one
    process: `num_replicas=1, rank=0`, all samples). Skipping happens here, at the index level, so resuming
    loads no sample twice and draws nothing from any random generator.
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        num_replicas: int = 1,
        rank: int = 0,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
        self.start = 0

    def set_start(self, start: int) -> None:
        """Skip the first `start` indices of this process's share of the current epoch."""
        self.start = max(0, int(start))

    def __iter__(self):
        return iter(list(super().__iter__())[self.start :])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.start)


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """A 63-bit seed derived from (seed, epoch, rank); used for the loader's worker seeds."""
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(2, np.uint64)[0] >> np.uint64(1))


def make_loader(
    dataset: Dataset,
    batch_size: int,
    seed: int,
    shuffle: bool = True,
    num_workers: int = 0,
    distributed: bool | None = None,
    *,
    drop_last: bool | None = None,
    pin_memory: bool | None = None,
    collate_fn: Callable[[list[Any]], Any] | None = None,
) -> DataLoader:
    """A DataLoader whose order depends only on (seed, epoch), ready for exact resume and for torchrun.

    The engine calls `set_loader_epoch(loader, epoch, start_batch)` before each epoch: the sampler reshuffles
    with seed + epoch, the loader's generator (which seeds the workers) is re-seeded from (seed, epoch, rank),
    and `dataset.set_epoch(epoch)` is called if the dataset has it, so that per-sample randomness can be drawn
    from (seed, epoch, index) and does not depend on the number of workers. Resuming is bit-exact when the
    dataset draws its randomness that way, or, with `num_workers=0` only, from the global generators (the
    engine saves and restores them).

    Args:
        dataset: a map-style dataset.
        batch_size: samples per batch and per process.
        seed: the order's seed.
        shuffle: shuffle each epoch (training); False for validation / test.
        num_workers: worker processes (0 loads in the main process).
        distributed: shard across torchrun processes; None shards shuffled (training) loaders when WORLD_SIZE > 1
            and leaves unshuffled (validation) loaders whole, since rank 0 validates on all of the data.
        drop_last: drop the last incomplete batch (default: `shuffle`, i.e. for training).
        pin_memory: default: when CUDA is available.
        collate_fn: as in DataLoader.

    Returns:
        A DataLoader with a `ResumableSampler`.
    """
    rank, _, world_size = env_rank_and_world()
    if distributed is None:
        distributed = shuffle and world_size > 1
    if not distributed:
        rank, world_size = 0, 1
    sampler = ResumableSampler(dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed)
    generator = torch.Generator()
    generator.manual_seed(epoch_seed(seed, 0, rank))
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=shuffle if drop_last is None else drop_last,
        pin_memory=torch.cuda.is_available() if pin_memory is None else pin_memory,
        collate_fn=collate_fn,
        generator=generator,
        persistent_workers=False,  # workers must see dataset.set_epoch
    )


def set_loader_epoch(loader: DataLoader, epoch: int, start_batch: int = 0) -> int:
    """Prepare `loader` for `epoch`, starting at batch `start_batch`.

    Returns:
        How many batches the caller still has to skip by iterating (0 for loaders made by `make_loader`; for
        other loaders the sampler cannot skip, so `start_batch`).
    """
    sampler = loader.sampler
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    dataset = loader.dataset
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch)
    if isinstance(sampler, ResumableSampler) and loader.batch_size is not None:
        sampler.set_start(start_batch * loader.batch_size)
        if loader.generator is not None:
            loader.generator.manual_seed(epoch_seed(sampler.seed, epoch, sampler.rank))
        return 0
    return start_batch


def move_to_device(batch: Any, device: torch.device) -> Any:
    """Tensors in a (nested) dict / list / tuple batch moved to `device`; other values are left as they are."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {key: move_to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(move_to_device(value, device) for value in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to_device(value, device) for value in batch)
    return batch


def batch_size_of(batch: Any) -> int:
    """Size of the first dimension of the first tensor found in a batch (1 if there is none)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.ndim else 1
    if isinstance(batch, np.ndarray):
        return int(batch.shape[0]) if batch.ndim else 1
    if isinstance(batch, Mapping):
        values = list(batch.values())
    elif isinstance(batch, (list, tuple)):
        values = list(batch)
    else:
        return 1
    for value in values:
        if isinstance(value, (torch.Tensor, np.ndarray, Mapping, list, tuple)):
            return batch_size_of(value)
    return 1
