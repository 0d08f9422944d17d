"""Train the tiny task (a separate process, for kill-and-resume and torchrun tests).

With --out, writes this rank's final module weights to OUT_rank{RANK}.safetensors and its initial ones to
OUT_rank{RANK}.initial.safetensors.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from safetensors.torch import save_file  # noqa: E402
from tiny_task import NoisyPatterns, TinyGanTask  # noqa: E402

from mrigan.engine import EarlyStoppingConfig, Trainer, TrainerConfig, make_loader, seed_everything  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds to sleep in each step after --sleep-after")
    parser.add_argument("--sleep-after", type=int, default=0)
    parser.add_argument("--fast", action="store_true", help="no deterministic algorithms (saves ~2 s of imports)")
    parser.add_argument("--no-figures", action="store_true")
    parser.add_argument("--out", default="")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--val", action="store_true")
    parser.add_argument("--seed-by-rank", action="store_true", help="build different initial weights on each rank")
    args = parser.parse_args()

    rank = int(os.environ.get("RANK", "0"))
    torch.set_num_threads(1)
    seed_everything(7 + rank if args.seed_by_rank else 7)
    task = TinyGanTask(step_sleep=args.sleep, sleep_after=args.sleep_after)
    train = make_loader(NoisyPatterns(count=20, seed=7), batch_size=args.batch, seed=7)
    val = (
        make_loader(NoisyPatterns(count=6, seed=99), batch_size=3, seed=0, shuffle=False, distributed=False)
        if args.val
        else None
    )
    config = TrainerConfig(
        max_steps=args.steps,
        log_every=2,
        val_every=4 if args.val else 0,
        checkpoint_every=3,
        keep_checkpoints=2,
        ema_decay=0.9,
        early_stopping=EarlyStoppingConfig(metric="psnr" if args.val else None, patience=100),
        seed=7,
        deterministic=not args.fast,
        figures=not args.no_figures,
        device="cpu",
        num_threads=1,
    )
    initial = {
        f"{name}.{key}": value.detach().clone().contiguous()
        for name, module in task.modules().items()
        for key, value in module.state_dict().items()
    }
    result = Trainer(config, args.run_dir).fit(task, train, val, resume=args.resume)
    if args.out:
        tensors = {
            f"{name}.{key}": value.detach().clone().contiguous()
            for name, module in task.modules().items()
            for key, value in module.state_dict().items()
        }
        save_file(tensors, f"{args.out}_rank{rank}.safetensors")
        save_file(initial, f"{args.out}_rank{rank}.initial.safetensors")
    print(f"rank {rank} done at step {result.steps}", flush=True)


if __name__ == "__main__":
    main()
