"""Seed 003's Table 2: the final losses of its CycleGAN experiments V1-V4, and how each translates Colin27.

    .venv/bin/python benchmarks/cyclegan_table2.py [--steps 200] [--cpu-size] [--out runs/cyclegan_table2]

Trains `configs/translation/cyclegan_v1.yaml` ... `v4.yaml` (patch size, U-Net depth and batch as the seed's
V1-V4) for `--steps` steps each and prints the seed's Table 2 columns, means over the last 10% of logged steps:
cyclic-consistency loss, generator (adversarial) loss, discriminator loss, identity loss; beside them the
validation SSIM / PSNR inside the brain of T1 -> T2 and T2 -> T1 at the best checkpoint (the MNI152 / inia19
validation slab). The seed's V1-V4 are GPU runs (width 64-512, hundreds of epochs); `--cpu-size` divides the
widths by 8 and caps the batch at 4 so the four runs finish in minutes here; the table says which was run.
Runs already in `--out` are reused.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CPU_SIZE = ["generator.base_channels=8", "generator.max_channels=64", "discriminator.base_channels=8"]
LOSSES = (("cycle", "cyclic consistency"), ("adv_g", "generator"), ("loss_d", "discriminator"),
          ("identity", "identity"))


def final_losses(run: Path) -> dict[str, float]:
    """Means of the logged losses over the last 10% of training rows."""
    rows = list(csv.DictReader(open(run / "metrics" / "train.csv")))
    tail = rows[-max(1, len(rows) // 10):]
    return {key: sum(float(row[key]) for row in tail) / len(tail) for key, _ in LOSSES}


def best_validation(run: Path) -> dict[str, float]:
    """The validation row with the best mean SSIM inside the brain."""
    rows = list(csv.DictReader(open(run / "metrics" / "val.csv")))
    best = max(rows, key=lambda row: float(row["ssim_fg"]))
    return {key: float(value) for key, value in best.items() if value not in ("", None)}


def main() -> None:
    import yaml

    from runs import train

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--cpu-size", action="store_true", help="widths / 8 and batch <= 4 (see above)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "cyclegan_table2")
    args = parser.parse_args()
    size = "CPU size (widths / 8, batch <= 4)" if args.cpu_size else "the configs as written"
    print(f"seed 003 Table 2 at {args.steps} steps per run, {size}")
    print("| run | patch | U-Net depth | batch | " + " | ".join(label for _, label in LOSSES)
          + " | T1->T2 SSIM / PSNR fg | T2->T1 SSIM / PSNR fg |")
    print("|---|---|---|---|" + "---|" * (len(LOSSES) + 2))
    for version in (1, 2, 3, 4):
        config_path = ROOT / "configs" / "translation" / f"cyclegan_v{version}.yaml"
        config = yaml.safe_load(config_path.read_text())
        batch = min(config["data"]["batch_size"], 4) if args.cpu_size else config["data"]["batch_size"]
        overrides = [f"trainer.max_steps={args.steps}", f"trainer.val_every={max(args.steps // 4, 1)}",
                     f"trainer.checkpoint_every={args.steps}", f"data.batch_size={batch}"]
        overrides += CPU_SIZE if args.cpu_size else []
        run = train(config_path, args.out / f"v{version}", overrides)
        losses, validation = final_losses(run), best_validation(run)
        scores = [f"{validation[f'{d}_ssim_fg']:.3f} / {validation[f'{d}_psnr_fg']:.2f}" for d in ("a2b", "b2a")]
        print(f"| V{version} | {config['data']['patch'][0]} | {config['generator']['depth']} | {batch} | "
              + " | ".join(f"{losses[key]:.3f}" for key, _ in LOSSES) + f" | {scores[0]} | {scores[1]} |")


if __name__ == "__main__":
    main()
