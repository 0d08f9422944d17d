"""Provenance sidecars: what was done to which input, by which version, when."""

from __future__ import annotations

import datetime as _dt
import json
import platform
from pathlib import Path
from typing import Any

import mrigan


def sidecar_path(output: str | Path) -> Path:
    """`OUTPUT.json` beside OUTPUT (a DICOM series folder gets `FOLDER.json`)."""
    output = Path(output)
    return output.with_name(output.name.rstrip("/") + ".json")


def provenance(*, command: str, inputs: dict[str, Path], options: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A JSON-friendly record: mrigan version, time, command, input sha256s, options and extras."""
    from mrigan.io import sha256_file

    return {
        "mrigan_version": mrigan.__version__,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "inputs": {role: {"path": str(path), "sha256": sha256_file(path)} for role, path in inputs.items()},
        "options": options,
        "python": platform.python_version(),
        "notice": mrigan.RESEARCH_NOTICE,
        **extra,
    }


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, indent=2, default=_default) + "\n"


def _default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
