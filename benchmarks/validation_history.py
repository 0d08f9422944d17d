"""Print training runs' validation scores step by step (each run's `metrics/val.csv`, as its training logged it).

    .venv/bin/python benchmarks/validation_history.py RUN_DIR [RUN_DIR ...] [--metrics a2a_psnr_fg,b2a_psnr_fg]

The default columns are the CycleGAN's (T1w -> T2w, T2w -> T1w and seed 003's T1w -> T1w reconstruction, PSNR /
SSIM inside the brain) or, for a paired run, its own PSNR / SSIM inside the brain. These are the numbers models
are chosen on (validation slabs of the training anatomies, one pass); Colin27 never enters them.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

CYCLEGAN = ("a2b_psnr_fg", "a2b_ssim_fg", "b2a_psnr_fg", "b2a_ssim_fg", "a2a_psnr_fg", "a2a_ssim_fg")
PAIRED = ("psnr_fg", "ssim_fg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--metrics", help="comma-separated columns of val.csv (default: see above)")
    args = parser.parse_args()
    for run in args.runs:
        path = run / "metrics" / "val.csv"
        if not path.is_file():
            parser.error(f"{run}: no metrics/val.csv (not a run folder, or it has not validated yet)")
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        columns = args.metrics.split(",") if args.metrics else list(CYCLEGAN if "a2b_psnr_fg" in rows[0] else PAIRED)
        missing = [column for column in columns if column not in rows[0]]
        if missing:
            parser.error(f"{path}: no column {', '.join(missing)}")
        print(f"\n{run}\n\n| step | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns))
        for row in rows:
            print(f"| {row['step']} | " + " | ".join(f"{float(row[column]):.4f}" for column in columns) + " |")


if __name__ == "__main__":
    main()
