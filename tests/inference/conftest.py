"""Tiny restoration models saved as real model cards, and single-threaded seeded torch for the tests."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn


@pytest.fixture(autouse=True)
def single_thread(seeded_single_thread_torch):
    """Every test here runs seeded on one thread (the fixture is in tests/conftest.py)."""
    yield


def save_tiny_model(folder: Path, *, dropout: float = 0.2, name: str = "tiny-restore", **card_extra) -> Path:
    """A 2-level UNetGenerator with UMR-GAN conditioning, saved with `save_model`; returns the card path."""
    from mrigan.checkpoint import save_model
    from mrigan.data.restoration import Conditioning
    from mrigan.nn import UNetGenerator

    torch.manual_seed(0)
    conditioning = Conditioning()
    generator = UNetGenerator(
        in_channels=conditioning.channels, depth=2, base_channels=4, max_channels=8, residual_blocks=1,
        dropout=dropout,
    )
    return save_model(
        generator, folder / name, name=name, task=card_extra.pop("task", "restore"),
        config={"conditioning": asdict(conditioning), "data": {"samples": ["mni152"]},
                "preprocess": {"normalise": "robust_minmax"}},
        training={"steps": 0}, metrics={"heldout": {"psnr": 31.5, "ssim": 0.9}}, extra=card_extra or None,
    )


@pytest.fixture(scope="session")
def tiny_card(tmp_path_factory) -> Path:
    """Card of a tiny model with MC dropout (p = 0.2)."""
    return save_tiny_model(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def tiny_card_without_dropout(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("model_no_dropout"), dropout=0.0, name="tiny-no-dropout")


@pytest.fixture()
def enhancer(tiny_card):
    from mrigan.inference import Enhancer

    return Enhancer.from_path(tiny_card, device="cpu")


class ChannelPicker(nn.Module):
    """A stand-in network that returns one of its input channels: checks the plumbing around the network."""

    def __init__(self, channel: int = 0, in_channels: int = 5, depth: int = 3) -> None:
        super().__init__()
        self.channel, self.in_channels, self.depth = channel, in_channels, depth
        self.multiple = 2**depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert all(size % self.multiple == 0 for size in x.shape[2:]), "input not padded to 2 ** depth"
        return x[:, self.channel : self.channel + 1]


def picker_enhancer(channel: int = 0, *, intensity: dict | None = None, depth: int = 3):
    """An Enhancer around `ChannelPicker` with a hand-written card."""
    from mrigan.inference import Enhancer

    card = {
        "name": f"channel-{channel}", "task": "restore", "kwargs": {"depth": depth, "in_channels": 5},
        "config": {"conditioning": {"use_mask": True, "use_sigma": True, "context": 1, "num_classes": 0}},
        "intensity": intensity or {"normalise": "robust_minmax", "low": 0.0, "high": 100.0},
    }
    return Enhancer(ChannelPicker(channel, depth=depth), card, device="cpu")


@pytest.fixture(scope="session")
def block01(mni_block) -> np.ndarray:
    """The MNI block scaled to [0, 1] (what the bench feeds methods)."""
    data, _ = mni_block
    return np.clip(data / data.max(), 0.0, 1.0).astype(np.float32)


@pytest.fixture()
def make_picker():
    """Factory of `picker_enhancer`."""
    return picker_enhancer
