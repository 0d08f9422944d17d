"""Typed configs: nested dataclasses, YAML as their serialised form, and `--set a.b=value` overrides.

A config is a plain (possibly nested) dataclass with type hints. YAML files and `--set` overrides are checked
against those hints, so a typo or a wrong type fails at once with the key and the allowed keys named:

    >>> @dataclass
    ... class Optim:
    ...     lr: float = 2e-4
    ...     betas: tuple[float, float] = (0.5, 0.999)
    >>> @dataclass
    ... class Run:
    ...     optim: Optim = field(default_factory=Optim)
    ...     amp: Literal["auto", "off"] = "auto"
    >>> run = load_config(Run, "run.yaml", ["optim.lr=1e-4", "amp=off"])
    >>> print(dump_config(run))

Supported field types: bool, int, float, str, pathlib.Path, Literal[...], Optional / unions, tuple[X, ...],
tuple[X, Y], list[X], dict[str, X], Any and nested dataclasses.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from mrigan.errors import InputError, UsageError

T = TypeVar("T")

_NONE_WORDS = {"null", "none", "~", ""}
_YAML_TRUE = {"true", "yes", "on", "y"}
_YAML_FALSE = {"false", "no", "off", "n"}


def config_to_dict(config: Any) -> dict[str, Any]:
    """A nested dataclass as plain YAML/JSON-friendly data (tuples become lists, paths strings).

    Args:
        config: a dataclass instance.

    Returns:
        A dict of builtin types only.
    """
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"expected a dataclass instance, got {type(config).__name__}")
    return _plain(config)


def dump_config(config: Any) -> str:
    """The config as YAML text, fields in declaration order."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False, default_flow_style=None)


def config_from_dict(cls: type[T], data: Mapping[str, Any] | None, *, prefix: str = "") -> T:
    """Build `cls` from a mapping, checking every key and value against the field types.

    Args:
        cls: the dataclass type.
        data: values by field name; missing fields take their defaults.
        prefix: dotted path of this config inside its parent, used in error messages.

    Returns:
        An instance of `cls`.

    Raises:
        UsageError: an unknown key, a value of the wrong type, or a missing required field.
    """
    return _build_dataclass(cls, {} if data is None else data, prefix)


def apply_overrides(config: T, overrides: Iterable[str]) -> T:
    """Apply `a.b=value` overrides to a dataclass instance (a new instance is returned).

    Values are read as YAML (`true`, `1e-4`, `[1, 2]`, `null`); a str field takes the text as written.

    Raises:
        UsageError: malformed override, unknown key (the allowed keys are named) or a bad value.
    """
    for override in overrides:
        key, sep, text = override.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"override {override!r} is not of the form key=value (e.g. trainer.max_steps=1000)")
        config = _override(config, key.split("."), text.strip(), key)
    return config


def load_config(cls: type[T], path: str | Path | None = None, overrides: Iterable[str] = ()) -> T:
    """Read a YAML config into `cls`, then apply `--set` style overrides.

    Args:
        cls: the dataclass type.
        path: a YAML file; None starts from the defaults.
        overrides: `a.b=value` strings, applied in order.

    Raises:
        InputError: the file is missing or not valid YAML mapping.
        UsageError: an unknown key or a bad value (in the file or in an override).
    """
    data: Any = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise InputError(path, "no such config file")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise InputError(path, f"not valid YAML: {error}") from None
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise InputError(path, f"a config file must hold a mapping of keys, not {type(data).__name__}")
    try:
        config = config_from_dict(cls, data)
    except UsageError as error:
        raise UsageError(f"{path}: {error}" if path is not None else str(error)) from None
    return apply_overrides(config, overrides)


# ----------------------------------------------------------------------------------------------------------------
# internals


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (str, bytes)):
        return value.item()  # numpy / torch scalars
    return value


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {field.name: hints.get(field.name, Any) for field in dataclasses.fields(cls) if field.init}


def _key(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _allowed(cls: type) -> str:
    return ", ".join(_field_types(cls))


def _build_dataclass(cls: type[T], data: Any, prefix: str) -> T:
    if not isinstance(data, Mapping):
        raise UsageError(f"config key {prefix or '(top level)'!r} must be a mapping of {_allowed(cls)}")
    types_by_name = _field_types(cls)
    values = {}
    for name, value in data.items():
        if name not in types_by_name:
            where = f"under {prefix!r}" if prefix else "at the top level"
            raise UsageError(f"unknown config key {_key(prefix, str(name))!r}; allowed keys {where}: {_allowed(cls)}")
        values[name] = _coerce(value, types_by_name[name], _key(prefix, name), None)
    missing = [
        field.name
        for field in dataclasses.fields(cls)
        if field.init
        and field.name not in values
        and field.default is dataclasses.MISSING
        and field.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise UsageError(f"config key {_key(prefix, missing[0])!r} is required")
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise UsageError(f"config {prefix or cls.__name__}: {error}") from None


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(arg) for arg in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return f"a mapping of {_allowed(tp)}"
    if origin is not None:
        return str(tp).replace("typing.", "")
    return getattr(tp, "__name__", str(tp))


def _bad(key: str, tp: Any, value: Any) -> UsageError:
    return UsageError(f"config key {key!r} must be {_describe(tp)} (got {value!r})")


def _coerce(value: Any, tp: Any, key: str, text: str | None) -> Any:
    """Check `value` against `tp`; `text` is the raw override text, when the value came from one."""
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Literal:
        if any(type(value) is type(arg) and value == arg for arg in args):
            return value
        if text is not None and text in args:
            return text
        if isinstance(value, bool):  # YAML 1.1 reads `amp: off` as False
            words = _YAML_TRUE if value else _YAML_FALSE
            matches = [arg for arg in args if isinstance(arg, str) and arg.lower() in words]
            if len(matches) == 1:
                return matches[0]
        raise _bad(key, tp, value if text is None else text)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        arms = [arg for arg in args if arg is not type(None)]
        if len(arms) == 1:  # Optional[X]: X's own error is the clearest
            return _coerce(value, arms[0], key, text)
        # try str last, so that `5` becomes an int in Union[int, str]
        arms.sort(key=lambda arm: arm is str)
        for arm in arms:
            try:
                return _coerce(value, arm, key, text)
            except UsageError:
                continue
        raise _bad(key, tp, value if text is None else text)
    if dataclasses.is_dataclass(tp):
        return _build_dataclass(tp, value, key)
    if origin in (tuple, list, set, frozenset) or tp in (tuple, list):
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise _bad(key, tp, value if text is None else text)
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise UsageError(f"config key {key!r} must have {len(args)} items (got {len(value)})")
            return tuple(_coerce(item, arg, f"{key}[{i}]", None) for i, (item, arg) in enumerate(zip(value, args)))
        item_type = args[0] if args else Any
        items = [_coerce(item, item_type, f"{key}[{i}]", None) for i, item in enumerate(value)]
        return (origin or tp)(items)
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise _bad(key, tp, value if text is None else text)
        key_type, item_type = args if args else (Any, Any)
        return {
            _coerce(name, key_type, key, None): _coerce(item, item_type, f"{key}.{name}", None)
            for name, item in value.items()
        }
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _bad(key, tp, value if text is None else text)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _bad(key, tp, value if text is None else text)
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads `1e-4` (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise _bad(key, tp, value if text is None else text)
    if tp is str:
        if isinstance(value, str):
            return value
        if text is not None:
            return text
        raise _bad(key, tp, value)
    if tp is Path or (isinstance(tp, type) and issubclass(tp, Path)):
        if isinstance(value, (str, Path)):
            return Path(value)
        if text is not None:
            return Path(text)
        raise _bad(key, tp, value)
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise _bad(key, tp, value if text is None else text)
    return value


def _parse_text(text: str) -> Any:
    if text.lower() in _NONE_WORDS:
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _override(config: Any, parts: list[str], text: str, full_key: str) -> Any:
    name, rest = parts[0], parts[1:]
    prefix = full_key[: -len(".".join(parts))].rstrip(".")
    if not dataclasses.is_dataclass(config):
        raise UsageError(f"config key {prefix!r} has no sub-keys (cannot set {full_key!r})")
    types_by_name = _field_types(type(config))
    if name not in types_by_name:
        where = f"under {prefix!r}" if prefix else "at the top level"
        raise UsageError(f"unknown config key {full_key!r}; allowed keys {where}: {_allowed(type(config))}")
    tp = types_by_name[name]
    key = _key(prefix, name)
    if rest:
        current = getattr(config, name)
        if current is None:
            current = _default_instance(tp, key)
        new_value = _override(current, rest, text, full_key)
    else:
        new_value = _coerce(_parse_text(text), tp, key, text)
    try:
        return dataclasses.replace(config, **{name: new_value})
    except (TypeError, ValueError) as error:
        raise UsageError(f"config key {key!r}: {error}") from None


def _default_instance(tp: Any, key: str) -> Any:
    """A default instance of the dataclass inside an Optional[...] field that is currently None."""
    candidates = [tp, *typing.get_args(tp)]
    for candidate in candidates:
        if dataclasses.is_dataclass(candidate):
            try:
                return candidate()
            except TypeError:
                break
    raise UsageError(f"config key {key!r} is not set, so its sub-keys cannot be set one by one")
