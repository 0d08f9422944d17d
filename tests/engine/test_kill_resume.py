"""Exact resume: a run killed with SIGKILL and resumed ends bit-identical to an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

SCRIPT = Path(__file__).with_name("run_tiny.py")


def launch(run_dir: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        # figures off: they are drawn with the generators' states preserved (test_trainer checks that), and
        # matplotlib would double the time of this test
        [sys.executable, str(SCRIPT), str(run_dir), "--steps", "12", "--val", "--no-figures", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def finish(process: subprocess.Popen, timeout: float = 120) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    return output


def tensors(value, prefix: str = "") -> dict[str, object]:
    """Every leaf of a nested checkpoint, by path."""
    if isinstance(value, dict):
        leaves = {}
        for key, item in value.items():
            leaves.update(tensors(item, f"{prefix}/{key}"))
        return leaves
    if isinstance(value, (list, tuple)):
        leaves = {}
        for index, item in enumerate(value):
            leaves.update(tensors(item, f"{prefix}[{index}]"))
        return leaves
    return {prefix: value}


def assert_identical(first: Path, second: Path) -> None:
    a = tensors(torch.load(first, weights_only=True))
    b = tensors(torch.load(second, weights_only=True))
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path):
    uninterrupted, killed = tmp_path / "uninterrupted", tmp_path / "killed"
    reference = launch(uninterrupted)
    victim = launch(killed, "--sleep", "0.2", "--sleep-after", "6")
    marker = killed / "checkpoints" / "step_0000006.pt"
    deadline = time.monotonic() + 90
    while not marker.exists():
        assert victim.poll() is None, victim.communicate()[0]
        assert time.monotonic() < deadline, "no checkpoint at step 6"
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)  # mid-step 7: the checkpoint at 6 exists, nothing after it does
    victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    assert not (killed / "checkpoints" / "step_0000012.pt").exists() and not (killed / "final").exists()

    finish(launch(killed, "--resume"))
    finish(reference)

    final = Path("checkpoints") / "step_0000012.pt"
    assert_identical(uninterrupted / final, killed / final)  # weights, EMA, optimizers, RNG, loop state
    for name in ("train.csv", "val.csv"):
        assert (killed / "metrics" / name).read_text() == (uninterrupted / "metrics" / name).read_text()
    from safetensors.torch import load_file

    for kind in ("best", "final"):
        a = load_file(uninterrupted / kind / "generator.safetensors")
        b = load_file(killed / kind / "generator.safetensors")
        assert all(torch.equal(a[key], b[key]) for key in a)
