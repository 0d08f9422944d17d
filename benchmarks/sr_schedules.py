"""Seed 001's question: does "SSIM then MSE" beat MSE, SSIM and 0.6 SSIM + 0.4 MSE for the same CNN?

    .venv/bin/python benchmarks/sr_schedules.py [--steps 600] [--out runs/sr/schedules] [--slices 40] [--readme]

Trains the seed-001 CNN (`configs/sr/cnn_*.yaml`, fully convolutional, 2x) once per loss schedule with the same
seed, data and number of steps (SSIM-then-MSE switches to MSE half way at the latest, earlier if its validation
SSIM plateaus), picks each run's best validation checkpoint (validation slab of MNI152 + inia19), and scores all
four side by side with bicubic on held-out Colin27: the synthetic 2x case and the real 1 mm -> 0.5 mm pair (the
CNNs upscale in plane, bicubic refines the slice axis, to keep this minutes long).
Runs already in `--out` are reused, so the table can be re-printed without training.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCHEDULES = ("mse", "ssim", "ssim_mse", "ssim_then_mse")


def train_schedule(schedule: str, steps: int, out: Path) -> Path:
    """Train one schedule's run (reused when its folder already has a model); returns the run folder."""
    from runs import train

    overrides = [f"trainer.max_steps={steps}", f"trainer.val_every={max(steps // 12, 1)}",
                 f"trainer.checkpoint_every={steps}"]
    if schedule == "ssim_then_mse":
        overrides.append(f"loss.switch_step={steps // 2}")
    return train(ROOT / "configs" / "sr" / f"cnn_{schedule}.yaml", out / f"cnn_{schedule}", overrides)


def main() -> None:
    from mrigan.bench.runner import run_suite
    from mrigan.bench.sr_models import SRModelMethod
    from mrigan.training import model_of_run

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "sr" / "schedules")
    parser.add_argument("--slices", type=int, default=40)
    parser.add_argument("--readme", action="store_true", help="also write the table into the README")
    args = parser.parse_args()
    runs = {schedule: train_schedule(schedule, args.steps, args.out) for schedule in SCHEDULES}
    models = [SRModelMethod(model_of_run(run), name=f"cnn {schedule}", through_plane="bicubic")
              for schedule, run in runs.items()]
    result = run_suite("sr", quick=False, methods=["bicubic"], n_slices=args.slices, progress=True, models=models)
    command = f"python benchmarks/sr_schedules.py --steps {args.steps}"
    block = (f"`{command}` (the seed-001 CNN, {args.steps} steps per schedule, best validation checkpoint; "
             f"held-out Colin27, {args.slices} slices):\n\n{result.table}\n")
    print(block)
    if args.readme:
        from README_tables import write_readme_section

        write_readme_section("sr:schedules", block)


if __name__ == "__main__":
    main()
