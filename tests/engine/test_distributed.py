"""Data-parallel training: two processes over gloo (CPU), launched by torchrun, end with identical weights."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

SCRIPT = Path(__file__).with_name("run_tiny.py")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def torchrun(run: Path, *args: str) -> str:
    """Train the tiny task in two CPU processes (gloo) under torchrun; returns their output."""
    command = [
        sys.executable, "-m", "torch.distributed.run",
        "--nnodes=1", "--nproc_per_node=2", "--master_addr=127.0.0.1", f"--master_port={free_port()}",
        str(SCRIPT), str(run), "--batch", "2", "--seed-by-rank", "--no-figures", *args,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_two_processes_over_gloo_stay_identical(tmp_path):
    run, out = tmp_path / "run", tmp_path / "weights"
    output = torchrun(run, "--steps", "4", "--out", str(out), "--fast")
    assert "rank 0 done at step 4" in output and "rank 1 done at step 4" in output

    initial = [load_file(f"{out}_rank{rank}.initial.safetensors") for rank in (0, 1)]
    final = [load_file(f"{out}_rank{rank}.safetensors") for rank in (0, 1)]
    weight = "generator.body.0.weight"
    assert not torch.equal(initial[0][weight], initial[1][weight])  # each rank built its own weights...
    for key in final[0]:  # ...and training started from rank 0's and kept every rank in step
        assert torch.equal(final[0][key], final[1][key]), key
    assert not torch.equal(final[0][weight], initial[0][weight])
    assert torch.equal(final[0]["generator.body.1.running_mean"], final[1]["generator.body.1.running_mean"])

    # only rank 0 wrote; the checkpoint holds both ranks' generator states
    state = torch.load(run / "checkpoints" / "step_0000004.pt", weights_only=True)
    assert state["world_size"] == 2 and len(state["rng"]) == 2
    assert not torch.equal(state["rng"][0]["torch"], state["rng"][1]["torch"])
    assert len(list((run / "tb").glob("events.out.tfevents.*"))) == (
        1 if importlib.util.find_spec("tensorboard") else 0
    )


@pytest.mark.slow
def test_distributed_resume_matches_an_uninterrupted_run(tmp_path):
    torchrun(tmp_path / "whole", "--steps", "7", "--val", "--out", str(tmp_path / "whole"))
    torchrun(tmp_path / "parts", "--steps", "4", "--val")
    torchrun(tmp_path / "parts", "--steps", "7", "--val", "--resume", "--out", str(tmp_path / "parts"))
    for rank in (0, 1):
        whole = load_file(tmp_path / f"whole_rank{rank}.safetensors")
        parts = load_file(tmp_path / f"parts_rank{rank}.safetensors")
        assert all(torch.equal(whole[key], parts[key]) for key in whole)
    for name in ("train.csv", "val.csv"):
        assert (tmp_path / "whole" / "metrics" / name).read_text() == (
            tmp_path / "parts" / "metrics" / name
        ).read_text()
