"""Typed configs: YAML round trip and `--set` overrides checked against the dataclass field types."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import pytest

from mrigan.config import apply_overrides, config_from_dict, config_to_dict, dump_config, load_config
from mrigan.errors import InputError, UsageError


@dataclass
class Optim:
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)


@dataclass
class Data:
    root: Path = Path("data")
    sizes: list[int] = field(default_factory=lambda: [64, 64])
    classes: tuple[str, ...] = ("glioma", "meningioma")
    limit: Optional[int] = None  # noqa: UP045 (Optional is supported too)


@dataclass
class Run:
    name: str = "run"
    steps: int = 100
    amp: Literal["auto", "off", "bf16"] = "auto"
    ema: float | None = 0.999
    flip: bool = True
    optim: Optim = field(default_factory=Optim)
    data: Data = field(default_factory=Data)
    extra: Optional[Optim] = None  # noqa: UP045
    weights: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError("steps must be >= 0")


def test_yaml_round_trip(tmp_path):
    run = Run(name="x", steps=5, amp="off", ema=None, optim=Optim(lr=1e-3), data=Data(root=Path("/d"), limit=3))
    path = tmp_path / "run.yaml"
    path.write_text(dump_config(run))
    assert load_config(Run, path) == run
    assert config_to_dict(run)["data"] == {
        "root": "/d",
        "sizes": [64, 64],
        "classes": ["glioma", "meningioma"],
        "limit": 3,
    }


def test_defaults_without_a_file():
    assert load_config(Run) == Run()


def test_overrides_are_typed():
    run = apply_overrides(
        Run(),
        [
            "steps=7",
            "optim.lr=1e-4",
            "optim.betas=[0.9, 0.99]",
            "amp=bf16",
            "ema=null",
            "flip=false",
            "name=123",
            "data.sizes=[32, 16]",
            "data.classes=[a, b, c]",
            "data.limit=10",
            "data.root=/tmp/x",
            "weights={l1: 100, gan: 1}",
            "extra.lr=0.5",
        ],
    )
    assert run.steps == 7 and run.optim.lr == 1e-4 and run.optim.betas == (0.9, 0.99)
    assert run.amp == "bf16" and run.ema is None and run.flip is False
    assert run.name == "123"  # a str field keeps the text as written
    assert run.data.sizes == [32, 16] and run.data.classes == ("a", "b", "c") and run.data.limit == 10
    assert run.data.root == Path("/tmp/x")
    assert run.weights == {"l1": 100.0, "gan": 1.0}
    assert run.extra == Optim(lr=0.5)  # an unset optional sub-config is created from its defaults
    assert Run().steps == 100  # the original is untouched


def test_yaml_exponent_without_dot_is_a_float(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("optim:\n  lr: 1e-4\n")  # PyYAML reads this as the string '1e-4'
    assert load_config(Run, path).optim.lr == 1e-4


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("stepz=3", ["'stepz'", "allowed keys at the top level", "steps", "optim"]),
        ("optim.lrr=3", ["'optim.lrr'", "under 'optim'", "lr, betas"]),
        ("steps=many", ["'steps'", "int", "many"]),
        ("steps=1.5", ["'steps'"]),
        ("amp=fp32", ["'amp'", "one of 'auto', 'off', 'bf16'"]),
        ("flip=maybe", ["'flip'", "bool"]),
        ("optim.betas=[1, 2, 3]", ["'optim.betas'", "2 items"]),
        ("data.sizes=[a]", ["'data.sizes[0]'"]),
        ("steps", ["key=value"]),
        ("steps.x=1", ["'steps' has no sub-keys"]),
        ("steps=-1", ["steps must be >= 0"]),
        ("extra={lr: 1, momentum: 2}", ["'extra.momentum'", "under 'extra'"]),
        ("data.limit=ten", ["'data.limit'", "int"]),
    ],
)
def test_bad_overrides_name_the_key(override, words):
    with pytest.raises(UsageError) as caught:
        apply_overrides(Run(), [override])
    for word in words:
        assert word in str(caught.value)


def test_yaml_off_is_a_literal_word_not_false(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("amp: off\n")  # PyYAML reads `off` as False
    assert load_config(Run, path).amp == "off"


def test_bad_file_keys_and_values(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("optim:\n  lr: 0.1\n  momentum: 0.9\n")
    with pytest.raises(
        UsageError, match=r"run.yaml: unknown config key 'optim.momentum'; allowed keys under 'optim': lr, betas"
    ):
        load_config(Run, path)
    path.write_text("optim: 3\n")
    with pytest.raises(UsageError, match="'optim' must be a mapping of lr, betas"):
        load_config(Run, path)


def test_required_field_is_reported():
    @dataclass
    class Needs:
        path: str
        count: int = 1

    with pytest.raises(UsageError, match="'path' is required"):
        config_from_dict(Needs, {"count": 2})
    assert config_from_dict(Needs, {"path": "a"}) == Needs(path="a")


def test_file_errors(tmp_path):
    with pytest.raises(InputError, match="no such config file"):
        load_config(Run, tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_config(Run, bad)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="mapping"):
        load_config(Run, listing)


def test_trainer_config_overrides():
    from mrigan.engine import TrainerConfig

    config = load_config(
        TrainerConfig, None, ["early_stopping.metric=ssim", "early_stopping.mode=max", "amp=off", "grad_clip=null"]
    )
    assert config.early_stopping.metric == "ssim" and config.amp == "off" and config.grad_clip is None
    with pytest.raises(UsageError, match="'amp' must be one of"):
        load_config(TrainerConfig, None, ["amp=fp32"])
    with pytest.raises(UsageError, match="ema_decay must be in"):
        load_config(TrainerConfig, None, ["ema_decay=1.5"])
