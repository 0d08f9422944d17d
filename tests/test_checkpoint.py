"""Self-describing model files: safetensors + JSON card, sha256-checked, never unpickled."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

import mrigan
from mrigan import checkpoint
from mrigan.checkpoint import load_model, read_card, remember_kwargs, save_model
from mrigan.errors import InputError, UsageError


@remember_kwargs
class SmallNet(nn.Module):
    def __init__(self, channels: int = 1, *, width: int = 4, kernel: tuple[int, int] = (3, 3), **options) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, width, kernel, padding=1)
        self.norm = nn.BatchNorm2d(width)
        self.out = nn.Conv2d(width, channels, 1)
        self.options = options

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.norm(self.conv(x))))


@remember_kwargs
class WiderNet(SmallNet):
    def __init__(self, *, width: int = 8) -> None:
        super().__init__(2, width=width)


class UndecoratedNet(SmallNet):
    pass


@pytest.fixture()
def allow_this_module(monkeypatch):
    """Let cards name classes of this test module (cards may name mrigan.nn / tasks / ... classes only)."""
    monkeypatch.setattr(checkpoint, "MODEL_MODULES", (*checkpoint.MODEL_MODULES, __name__))


def trained_net() -> SmallNet:
    torch.manual_seed(0)
    net = SmallNet(1, width=5, kernel=(3, 3), flavour="test")
    net.train()
    net(torch.randn(4, 1, 8, 8))  # moves the BatchNorm running statistics
    return net.eval()


def save(net: nn.Module, directory: Path) -> Path:
    return save_model(
        net,
        directory,
        name="small",
        task="restore",
        config={"lr": 1e-3},
        training={"data": "synthetic", "steps": 3, "seed": 0},
        metrics={"psnr": 30.5},
        extra={"spatial_dims": 2},
    )


def test_remember_kwargs_records_names_and_defaults():
    assert SmallNet(2).init_kwargs == {"channels": 2, "width": 4, "kernel": (3, 3)}
    assert SmallNet(flavour="x").init_kwargs["flavour"] == "x"
    assert WiderNet(width=6).init_kwargs == {"width": 6}
    assert not hasattr(UndecoratedNet(), "init_kwargs")


def test_round_trip_gives_identical_outputs(tmp_path, allow_this_module):
    net = trained_net()
    card_path = save(net, tmp_path)
    assert card_path == tmp_path / "small.json"
    card = json.loads(card_path.read_text())
    assert card["class"] == f"{__name__}.SmallNet"
    assert card["kwargs"] == {"channels": 1, "width": 5, "kernel": [3, 3], "flavour": "test"}
    assert card["weights_file"] == "small.safetensors" and len(card["sha256"]) == 64
    assert card["notice"] == mrigan.RESEARCH_NOTICE and card["mrigan_version"] == mrigan.__version__
    assert card["training"]["data"] == "synthetic" and card["metrics"] == {"psnr": 30.5}
    assert card["spatial_dims"] == 2 and card["created_utc"].endswith("+00:00")

    x = torch.randn(2, 1, 8, 8)
    for path in (card_path, tmp_path / "small.safetensors"):
        loaded, loaded_card = load_model(path)
        assert type(loaded) is SmallNet and not loaded.training
        assert loaded.init_kwargs["kernel"] == (3, 3)  # JSON list back to the constructor's tuple
        with torch.no_grad():
            assert torch.equal(loaded(x), net(x))
        assert loaded_card["sha256"] == card["sha256"]


def test_stem_path_and_wrapped_module(tmp_path, allow_this_module):
    net = trained_net()
    wrapped = torch.optim.swa_utils.AveragedModel(net)
    card_path = save_model(
        wrapped, tmp_path / "best" / "gen.safetensors", name="g", task="t", config={}, training={}, metrics={}
    )
    assert card_path == tmp_path / "best" / "gen.json"
    loaded, _ = load_model(card_path)
    assert type(loaded) is SmallNet


def test_kwargs_are_required(tmp_path, allow_this_module):
    with pytest.raises(UsageError, match="remember_kwargs"):
        save(UndecoratedNet(), tmp_path)
    card_path = save_model(
        UndecoratedNet(), tmp_path / "u", name="u", task="t", config={}, training={}, metrics={}, kwargs={"width": 4}
    )
    assert type(load_model(card_path)[0]) is UndecoratedNet
    with pytest.raises(UsageError, match="JSON"):
        save_model(
            SmallNet(), tmp_path / "v", name="v", task="t", config={}, training={}, metrics={}, kwargs={"f": object()}
        )


def test_tampered_weights_are_refused(tmp_path, allow_this_module):
    card_path = save(trained_net(), tmp_path)
    weights = tmp_path / "small.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(InputError, match="weights sha256 .* does not match its card"):
        load_model(card_path)


def test_weights_that_do_not_fit_the_card(tmp_path, allow_this_module):
    card_path = save(trained_net(), tmp_path)
    card = json.loads(card_path.read_text())
    card["kwargs"]["width"] = 6
    card_path.write_text(json.dumps(card))
    with pytest.raises(InputError, match="weights do not fit"):
        load_model(card_path)


class _CreatesMarker:
    """Unpickling this creates a file: the proof that something was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("name", ["model.pt", "model.pth", "model.ckpt", "model.safetensors"])
def test_pickles_are_never_unpickled(tmp_path, allow_this_module, name):
    marker = tmp_path / "unpickled.marker"
    payload = tmp_path / name
    payload.write_bytes(pickle.dumps({"state": _CreatesMarker(marker)}))
    # a card beside it that would otherwise be valid, sha256 included
    card = json.loads(save(trained_net(), tmp_path / "genuine").read_text())
    card["weights_file"] = name
    card["sha256"] = checkpoint.sha256_file(payload)
    payload.with_suffix(".json").write_text(json.dumps(card))
    for path in (payload, payload.with_suffix(".json")):
        with pytest.raises(InputError, match="not a safetensors file; mrigan never unpickles model files"):
            load_model(path)
    assert not marker.exists()


def test_torch_save_file_with_safetensors_suffix_is_refused(tmp_path, allow_this_module):
    card = json.loads(save(trained_net(), tmp_path / "genuine").read_text())
    fake = tmp_path / "fake.safetensors"
    torch.save(trained_net().state_dict(), fake)
    card["weights_file"], card["sha256"] = fake.name, checkpoint.sha256_file(fake)
    fake.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(InputError, match="not a safetensors file"):
        load_model(fake)


@pytest.mark.parametrize(
    "class_path", ["os.system", "builtins.eval", "subprocess.Popen", "mrigan.nnx.Evil", "torch.nn.Linear"]
)
def test_card_cannot_name_arbitrary_classes(tmp_path, allow_this_module, class_path):
    card_path = save(trained_net(), tmp_path)
    card = json.loads(card_path.read_text())
    card["class"] = class_path
    card["kwargs"] = {"command": "touch pwned"}
    card_path.write_text(json.dumps(card))
    with pytest.raises(InputError, match="not an mrigan network"):
        load_model(card_path)
    assert not (tmp_path / "pwned").exists()


def test_default_allow_list_refuses_test_classes(tmp_path):
    card_path = save(trained_net(), tmp_path)
    with pytest.raises(InputError, match="not an mrigan network"):
        load_model(card_path)


def test_missing_pieces(tmp_path, allow_this_module):
    card_path = save(trained_net(), tmp_path)
    with pytest.raises(InputError, match="no such file"):
        load_model(tmp_path / "nothing.json")
    card = json.loads(card_path.read_text())
    card["weights_file"] = "../elsewhere.safetensors"
    card_path.write_text(json.dumps(card))
    with pytest.raises(InputError, match="file name beside the card"):
        read_card(card_path)
    (tmp_path / "small.json").unlink()
    with pytest.raises(InputError, match="no model card small.json beside it"):
        load_model(tmp_path / "small.safetensors")


def test_mrigan_networks_round_trip_without_any_allow_list_change(tmp_path):
    nn_package = pytest.importorskip("mrigan.nn")
    torch.manual_seed(0)
    net = nn_package.UNetGenerator(depth=2, base_channels=4, max_channels=8, residual_blocks=1).eval()
    card_path = save_model(net, tmp_path / "unet", name="unet", task="restore", config={}, training={}, metrics={})
    loaded, card = load_model(card_path)
    assert card["class"] == "mrigan.nn.unet.UNetGenerator" and card["kwargs"] == net.config
    x = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))
