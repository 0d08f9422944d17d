"""Seeding, random-generator state, and training checkpoints (`torch.save` / `torch.load(weights_only=True)`).

Everything in a training checkpoint is a tensor, dict, list, tuple, number, string, bool or None, so it loads
with `weights_only=True` (no arbitrary unpickling). The numpy generator state is stored as a tensor.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mrigan.errors import InputError

CHECKPOINT_FORMAT = "mrigan-training-state/1"
CHECKPOINT_PATTERN = re.compile(r"^step_(\d+)\.pt$")
LATEST_POINTER = "latest"


def seed_everything(seed: int) -> None:
    """Seed python's `random`, numpy's global generator and torch (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capture_rng_state() -> dict[str, Any]:
    """The state of python's, numpy's and torch's global generators, as weights_only-loadable values."""
    version, internal, gauss = random.getstate()
    numpy_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": {"version": version, "state": list(internal), "gauss": gauss},
        "numpy": {
            "bit_generator": numpy_state["bit_generator"],
            "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Set the global generators back to a state from `capture_rng_state`."""
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"]), python["gauss"]))
    numpy_state = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": numpy_state["bit_generator"],
            "state": {"key": numpy_state["key"].numpy().astype(np.uint32), "pos": numpy_state["pos"]},
            "has_gauss": numpy_state["has_gauss"],
            "gauss": numpy_state["gauss"],
        }
    )
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block (validation, figures) without changing the global random generators."""
    state = capture_rng_state()
    try:
        yield
    finally:
        restore_rng_state(state)


def checkpoint_name(step: int) -> str:
    return f"step_{step:07d}.pt"


def save_checkpoint(state: dict[str, Any], directory: Path, step: int) -> Path:
    """Write `directory/step_XXXXXXX.pt` atomically (temp file + os.replace), then the `latest` pointer."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / checkpoint_name(step)
    _replace_atomically(target, lambda tmp: torch.save(state, tmp))
    _replace_atomically(directory / LATEST_POINTER, lambda tmp: tmp.write_text(target.name + "\n"))
    return target


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a training checkpoint with `weights_only=True`.

    Raises:
        InputError: not a readable mrigan training checkpoint.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises many types here (pickle, zip, runtime)
        raise InputError(path, f"not a loadable training checkpoint: {error}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise InputError(path, f"not an mrigan training checkpoint (format {CHECKPOINT_FORMAT})")
    return state


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """(step, path) of every `step_*.pt` in `directory`, oldest first."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = CHECKPOINT_PATTERN.match(path.name)
        if match and path.is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def latest_checkpoint(directory: Path) -> Path | None:
    """The checkpoint that `latest` points to, or else the newest `step_*.pt`; None if there is none."""
    pointer = directory / LATEST_POINTER
    if pointer.is_file():
        candidate = directory / pointer.read_text().strip()
        if CHECKPOINT_PATTERN.match(candidate.name) and candidate.is_file():
            return candidate
    found = list_checkpoints(directory)
    return found[-1][1] if found else None


def prune_checkpoints(directory: Path, keep: int) -> None:
    """Delete all but the newest `keep` checkpoints (keep <= 0 keeps all)."""
    if keep <= 0:
        return
    for _, path in list_checkpoints(directory)[:-keep]:
        path.unlink(missing_ok=True)


def remove_stale_temporaries(directory: Path) -> None:
    """Remove temp files left by a process killed while writing."""
    if directory.is_dir():
        for path in directory.glob(".*.tmp"):
            path.unlink(missing_ok=True)


def _replace_atomically(target: Path, write) -> None:
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb") as stream:
            os.fsync(stream.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
