"""Shared by the benchmark scripts that train: run `mrigan train` once per run folder, reuse it afterwards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def train(config: Path, out: Path, overrides: list[str]) -> Path:
    """`mrigan train CONFIG --set ... --out OUT`, skipped when OUT already holds an exported model; returns OUT."""
    if (out / "final" / "generator.json").exists():
        return out
    command = [str(Path(sys.executable).parent / "mrigan"), "train", str(config), "--out", str(out)]
    for override in overrides:
        command += ["--set", override]
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True)
    return out
