"""Self-describing model files: weights in safetensors plus a JSON card that says how to rebuild the network.

`save_model` writes two files side by side:

* `NAME.safetensors`: the state dict (contiguous CPU tensors, no pickle);
* `NAME.json`: the card: class path, constructor kwargs, config, training data, metrics, package version,
  creation time, the sha256 of the weights file and the research-only notice.

`load_model` needs nothing but one of those two paths: it checks the sha256, imports the class only from the
allow-list `MODEL_MODULES`, builds it from the card's kwargs and loads the weights strictly. It never unpickles:
a `.pt` / `.pth` / `.ckpt` file, or any file without a safetensors header, is refused before it is read.

Networks record their constructor kwargs with the `remember_kwargs` class decorator:

    @remember_kwargs
    class UNetGenerator(nn.Module):
        def __init__(self, *, in_channels: int = 1, base_channels: int = 32) -> None: ...

`save_model(module, ...)` takes the kwargs from, in order: its `kwargs=` argument, `module.init_kwargs` (set by
`remember_kwargs`), or `module.config` when it is a dict (the `mrigan.nn` convention: `json_kwargs(locals())`).
Kwargs must be JSON values (numbers, strings, booleans, None, lists, dicts); a list read back from a card is
turned into a tuple where the constructor's default for that argument is a tuple.
"""

from __future__ import annotations

import datetime as _dt
import functools
import importlib
import inspect
import json
import os
import struct
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import mrigan
from mrigan.errors import InputError, UsageError
from mrigan.io import sha256_file

if TYPE_CHECKING:  # torch is imported where it is used, so that reading cards (`mrigan models`) stays fast
    import torch
    from torch import nn

__all__ = [
    "MODEL_MODULES",
    "class_path",
    "constructor_kwargs",
    "load_model",
    "read_card",
    "remember_kwargs",
    "save_model",
    "sha256_file",
]

CARD_FORMAT = "mrigan-model/1"

#: Packages a card may name its class from (the module path must be one of these or inside one).
MODEL_MODULES: tuple[str, ...] = ("mrigan.nn", "mrigan.tasks", "mrigan.baselines", "mrigan.inference")

#: Suffixes of pickle-based files that are refused without being opened.
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin", ".tar")

_NOT_SAFETENSORS = "not a safetensors file; mrigan never unpickles model files"
_MAX_HEADER_BYTES = 100 * 1024 * 1024

ModuleType = TypeVar("ModuleType", bound=type)


def remember_kwargs(cls: ModuleType) -> ModuleType:
    """Class decorator: after `__init__`, store the constructor arguments as `self.init_kwargs` (a dict).

    Positional arguments are stored by name and defaults are filled in, so the dict alone rebuilds the module.
    Only the class that was instantiated records (a decorated base does not overwrite its subclass's kwargs,
    and an undecorated subclass of a decorated base records nothing, since the base's kwargs would be wrong).
    """
    original_init = cls.__init__
    signature = inspect.signature(original_init)

    @functools.wraps(original_init)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if type(self) is not cls:
            return
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        recorded: dict[str, Any] = {}
        for index, (name, value) in enumerate(bound.arguments.items()):
            kind = signature.parameters[name].kind
            if index == 0:
                continue  # self
            if kind is inspect.Parameter.VAR_POSITIONAL:
                if value:
                    raise TypeError(f"{cls.__name__}: *args cannot be remembered; pass them by keyword")
            elif kind is inspect.Parameter.VAR_KEYWORD:
                recorded.update(value)
            else:
                recorded[name] = value
        self.init_kwargs = recorded

    cls.__init__ = __init__
    return cls


def constructor_kwargs(module: nn.Module) -> dict[str, Any] | None:
    """The kwargs that rebuild `module`: `module.init_kwargs`, else `module.config` if it is a dict, else None."""
    for attribute in ("init_kwargs", "config"):
        value = getattr(module, attribute, None)
        if isinstance(value, Mapping):
            return dict(value)
    return None


def class_path(module: nn.Module) -> str:
    """`package.module.ClassName` of a module instance."""
    return f"{type(module).__module__}.{type(module).__qualname__}"


def save_model(
    module: nn.Module,
    path_dir_or_stem: str | Path,
    *,
    name: str,
    task: str,
    config: Mapping[str, Any],
    training: Mapping[str, Any],
    metrics: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
) -> Path:
    """Write `STEM.safetensors` and its card `STEM.json`.

    Args:
        module: the network (a DDP / EMA wrapper is unwrapped to its `.module`).
        path_dir_or_stem: an existing folder (files are named NAME.*) or a path stem such as `runs/a/best/generator`
            (a `.safetensors` / `.json` suffix is dropped).
        name: the model's name, stored in the card.
        task: the task it was trained for (restore, super_resolve, ...).
        config: the full training config as plain data.
        training: what it was trained on and how (data, steps, seed, ...).
        metrics: validation metrics.
        extra: more card fields (e.g. spatial_dims, intensity range expected by the model).
        kwargs: constructor kwargs; default `constructor_kwargs(module)`.

    Returns:
        The path of the card (`.json`); the weights are beside it.

    Raises:
        UsageError: no constructor kwargs known, or they are not JSON values.
    """
    import torch
    from safetensors.torch import save_file
    from torch import nn

    while hasattr(module, "module") and isinstance(module.module, nn.Module):
        module = module.module
    if kwargs is None:
        kwargs = constructor_kwargs(module)
        if kwargs is None:
            raise UsageError(
                f"{class_path(module)} does not remember its constructor kwargs: store them as `self.config` "
                "(mrigan.nn.layers.json_kwargs), decorate the class with mrigan.checkpoint.remember_kwargs, "
                "or pass kwargs= to save_model"
            )
    kwargs = dict(kwargs)
    try:
        json.dumps(kwargs)
    except TypeError as error:
        raise UsageError(f"constructor kwargs of {class_path(module)} must be JSON values: {error}") from None

    stem = Path(path_dir_or_stem)
    if stem.is_dir():
        stem = stem / name
    elif stem.suffix in (".safetensors", ".json"):
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    weights_path = stem.with_name(stem.name + ".safetensors")
    card_path = stem.with_name(stem.name + ".json")

    # clone: breaks shared storage (tied weights), which safetensors refuses
    state = {key: value.detach().to("cpu").contiguous().clone() for key, value in module.state_dict().items()}
    _write_atomic(weights_path, lambda tmp: save_file(state, str(tmp), metadata={"format": "pt"}))
    card = {
        "format": CARD_FORMAT,
        "name": name,
        "task": task,
        "class": class_path(module),
        "kwargs": kwargs,
        "config": dict(config),
        "training": dict(training),
        "metrics": dict(metrics),
        "mrigan_version": mrigan.__version__,
        "torch_version": torch.__version__.split("+")[0],
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "weights_file": weights_path.name,
        "sha256": sha256_file(weights_path),
        "notice": mrigan.RESEARCH_NOTICE,
        **dict(extra or {}),
    }
    text = json.dumps(card, indent=2, default=_json_default, allow_nan=True) + "\n"
    _write_atomic(card_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return card_path


def read_card(card_or_weights_path: str | Path) -> tuple[dict[str, Any], Path]:
    """Read and check a model card; returns (card, weights path). Weights are not read.

    Raises:
        InputError: a pickle file, a missing card or weights file, or a card that is not valid JSON.
    """
    path = Path(card_or_weights_path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise InputError(path, _NOT_SAFETENSORS)
    if not path.exists():
        raise InputError(path, "no such file")
    if path.suffix.lower() == ".json":
        card_path = path
    else:
        _check_safetensors_header(path)
        card_path = path.with_suffix(".json")
        if not card_path.is_file():
            raise InputError(
                path, f"no model card {card_path.name} beside it (save models with mrigan.checkpoint.save_model)"
            )
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(card_path, f"not a readable model card: {error}") from None
    if not isinstance(card, dict):
        raise InputError(card_path, "not a model card (expected a JSON object)")
    for key in ("class", "kwargs", "weights_file", "sha256"):
        if key not in card:
            raise InputError(card_path, f"model card has no {key!r} field")
    weights_name = str(card["weights_file"])
    if Path(weights_name).name != weights_name:
        raise InputError(card_path, f"weights_file {weights_name!r} must be a file name beside the card")
    weights_path = card_path.with_name(weights_name)
    if path.suffix.lower() != ".json" and weights_path.resolve() != path.resolve():
        raise InputError(path, f"its card {card_path.name} describes another weights file ({weights_name})")
    if weights_path.suffix.lower() in PICKLE_SUFFIXES:
        raise InputError(weights_path, _NOT_SAFETENSORS)
    if not weights_path.is_file():
        raise InputError(card_path, f"weights file {weights_name} is missing")
    return card, weights_path


def weights_size(path: str | Path) -> int:
    """Number of values stored in a safetensors file (parameters and any buffers), read from its header only.

    Raises:
        InputError: not a safetensors file.
    """
    import math

    header = _check_safetensors_header(Path(path))
    return sum(math.prod(entry["shape"]) for key, entry in header.items()
               if key != "__metadata__" and isinstance(entry, dict) and "shape" in entry)


def load_model(
    card_or_weights_path: str | Path, *, device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a model saved by `save_model`, in eval mode.

    Args:
        card_or_weights_path: the `.json` card or the `.safetensors` weights (the card is found beside them).
        device: where to put the model.

    Returns:
        (module, card).

    Raises:
        InputError: not safetensors, sha256 mismatch, a class outside `MODEL_MODULES`, or weights that do not
            fit the class.
    """
    from safetensors.torch import load_file

    card, weights_path = read_card(card_or_weights_path)
    _check_safetensors_header(weights_path)
    actual = sha256_file(weights_path)
    if actual != card["sha256"]:
        raise InputError(
            weights_path,
            f"weights sha256 {actual[:16]}... does not match its card ({str(card['sha256'])[:16]}...): "
            "the file was changed or corrupted",
        )
    cls = _import_model_class(str(card["class"]), weights_path)
    kwargs = card["kwargs"]
    if not isinstance(kwargs, dict):
        raise InputError(weights_path, "the card's kwargs must be a JSON object")
    kwargs = _restore_tuples(cls, kwargs)
    try:
        module = cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise InputError(weights_path, f"cannot build {card['class']} from the card's kwargs: {error}") from None
    try:
        state = load_file(str(weights_path), device="cpu")
    except Exception as error:  # safetensors raises its own error types
        raise InputError(weights_path, f"{_NOT_SAFETENSORS} ({error})") from None
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise InputError(weights_path, f"weights do not fit {card['class']}: {error}") from None
    return module.to(device).eval(), card


# ----------------------------------------------------------------------------------------------------------------
# internals


def _check_safetensors_header(path: Path) -> dict[str, Any]:
    """Refuse a file that does not start with a safetensors header (8-byte length, then a JSON object).

    Returns:
        The parsed header (tensor name -> dtype, shape, offsets; "__metadata__").
    """
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise InputError(path, _NOT_SAFETENSORS)
    try:
        size = path.stat().st_size
        with open(path, "rb") as stream:
            head = stream.read(8)
            if len(head) < 8:
                raise InputError(path, _NOT_SAFETENSORS)
            (header_length,) = struct.unpack("<Q", head)
            if header_length < 2 or header_length > _MAX_HEADER_BYTES or 8 + header_length > size:
                raise InputError(path, _NOT_SAFETENSORS)
            header = stream.read(header_length)
    except OSError as error:
        raise InputError(path, f"cannot read: {error}") from None
    try:
        parsed = json.loads(header.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(path, _NOT_SAFETENSORS) from None
    if not isinstance(parsed, dict):
        raise InputError(path, _NOT_SAFETENSORS)
    return parsed


def _import_model_class(path: str, where: Path) -> type[nn.Module]:
    from torch import nn

    module_name, _, class_name = path.rpartition(".")
    allowed = any(module_name == root or module_name.startswith(root + ".") for root in MODEL_MODULES)
    if not allowed or not class_name.isidentifier():
        raise InputError(
            where,
            f"the card names class {path!r}, which is not an mrigan network "
            f"(allowed modules: {', '.join(root + '.*' for root in MODEL_MODULES)})",
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise InputError(where, f"cannot import {module_name}: {error}") from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise InputError(where, f"{path} is not a torch.nn.Module class")
    return cls


def _restore_tuples(cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    """JSON has no tuples: give back a tuple where the constructor's default is one."""
    try:
        parameters = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return kwargs
    restored = dict(kwargs)
    for name, value in kwargs.items():
        parameter = parameters.get(name)
        if parameter is not None and isinstance(parameter.default, tuple) and isinstance(value, list):
            restored[name] = tuple(value)
    return restored


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()  # numpy / torch arrays and scalars
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _write_atomic(target: Path, write: Callable[[Path], Any]) -> None:
    """Write to a temporary sibling, then rename it over `target`."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
