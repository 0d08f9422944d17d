"""Loaders whose order depends only on (seed, epoch), that start mid-epoch and shard across processes."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from mrigan.engine import make_loader, move_to_device, set_loader_epoch
from mrigan.engine.data import batch_size_of


class Indexed(Dataset):
    def __init__(self, count: int = 10) -> None:
        self.count = count
        self.epochs: list[int] = []

    def set_epoch(self, epoch: int) -> None:
        self.epochs.append(epoch)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> int:
        return index


def order(loader, epoch: int, start_batch: int = 0) -> list[int]:
    assert set_loader_epoch(loader, epoch, start_batch) == 0
    return [int(i) for batch in loader for i in batch]


def test_order_depends_only_on_seed_and_epoch():
    first, second = make_loader(Indexed(), 2, seed=3), make_loader(Indexed(), 2, seed=3)
    assert order(first, 0) == order(second, 0)
    assert order(first, 1) == order(second, 1) != order(first, 0)
    assert order(first, 0) == order(first, 0)  # asking again, after other epochs, gives the same order
    assert order(make_loader(Indexed(), 2, seed=4), 0) != order(first, 0)
    assert sorted(order(first, 5)) == list(range(10))


def test_starting_mid_epoch_skips_whole_batches():
    loader = make_loader(Indexed(11), 3, seed=1)  # drop_last: 3 batches of 3
    full = order(loader, 2)
    assert len(full) == 9
    assert order(loader, 2, start_batch=1) == full[3:]
    assert order(loader, 2, start_batch=3) == []
    assert order(loader, 2) == full


def test_dataset_is_told_the_epoch():
    dataset = Indexed()
    loader = make_loader(dataset, 2, seed=0)
    set_loader_epoch(loader, 4)
    assert dataset.epochs[-1] == 4


def test_iterating_does_not_touch_the_global_generator():
    loader = make_loader(Indexed(), 2, seed=0)
    before = torch.get_rng_state()
    order(loader, 0)
    assert torch.equal(torch.get_rng_state(), before)


def test_shards_under_torchrun_environment(monkeypatch):
    shards = []
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        shards.append(order(make_loader(Indexed(12), 2, seed=5), 1))
    assert len(shards[0]) == len(shards[1]) == 6
    assert sorted(shards[0] + shards[1]) == list(range(12))
    monkeypatch.setenv("RANK", "1")
    assert len(order(make_loader(Indexed(12), 2, seed=5, distributed=False), 1)) == 12
    assert len(order(make_loader(Indexed(12), 2, seed=5, shuffle=False), 1)) == 12  # validation: whole


def test_validation_loader_keeps_everything_in_order():
    loader = make_loader(Indexed(7), 3, seed=0, shuffle=False)
    assert [int(i) for batch in loader for i in batch] == list(range(7))


def test_plain_loaders_are_skipped_by_the_caller():
    loader = torch.utils.data.DataLoader(Indexed(), batch_size=2)
    assert set_loader_epoch(loader, 1, start_batch=2) == 2


def test_move_to_device_and_batch_size():
    batch = {"a": torch.ones(3, 2), "b": [torch.zeros(3), "text"], "c": (torch.ones(3),)}
    moved = move_to_device(batch, torch.device("cpu"))
    assert moved["b"][1] == "text" and isinstance(moved["c"], tuple)
    assert batch_size_of(batch) == 3 and batch_size_of("x") == 1
