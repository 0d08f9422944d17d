"""Helpers shared by the web UI's tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import importlib.util
import socket
import sys
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
#: The request the end-to-end tests send: denoise the slice with the tiny model after 5 % Rician noise.
E2E_REQUEST = {"task": "denoise", "method": "model:tiny-restore", "degrade": True, "noise_percent": 5.0}


def require(module: str, why: str) -> None:
    """Skip, saying how to get it, when `module` is not installed."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed ({why}): `make setup` or pip install -e '.[ui-test]' installs it")


def free_port() -> int:
    """A TCP port free on localhost right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def mrigan_command() -> list[str]:
    """The installed console script (the real entry point), or the module as a fallback."""
    script = Path(sys.executable).parent / "mrigan"
    return [str(script)] if script.exists() else [sys.executable, "-m", "mrigan.cli"]
