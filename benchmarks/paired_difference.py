"""Paired per-slice differences between two methods of one bench run, with bootstrap confidence intervals.

    .venv/bin/python benchmarks/paired_difference.py BENCH_CSV METHOD_A METHOD_B [--columns psnr_fg ssim_fg fdist_fg]

Two rows of a bench table can have overlapping intervals and still differ on every slice: the slices are the
same for both methods, so the difference A - B per slice (and its bootstrap interval) says more than the two
intervals side by side. BENCH_CSV is the per-slice CSV `mrigan bench` writes (e.g. bench-results/field.csv).
Slices of one volume are correlated, so the intervals are optimistic (see `mrigan.metrics.bootstrap_ci`).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from mrigan.metrics import bootstrap_ci


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv", type=Path)
    parser.add_argument("method_a")
    parser.add_argument("method_b")
    parser.add_argument("--columns", nargs="+", default=["psnr_fg", "ssim_fg", "mse_fg", "fdist_fg"])
    args = parser.parse_args()
    with args.csv.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_method: dict[str, dict[tuple[str, str], dict[str, str]]] = {}
    for row in rows:
        by_method.setdefault(row["method"], {})[(row["case"], row["slice"])] = row
    for method in (args.method_a, args.method_b):
        if method not in by_method:
            sys.exit(f"{args.csv}: no rows of method {method!r} (methods: {', '.join(by_method)})")
    a, b = by_method[args.method_a], by_method[args.method_b]
    keys = sorted(set(a) & set(b))
    if not keys:
        sys.exit(f"{args.csv}: {args.method_a!r} and {args.method_b!r} share no (case, slice)")
    print(f"{args.method_a} - {args.method_b}, {len(keys)} paired slices ({args.csv})\n")
    print("| column | A | B | A - B [95% CI] | slices where A > B |")
    print("|---|---|---|---|---|")
    for column in args.columns:
        if column not in rows[0]:
            sys.exit(f"{args.csv}: no column {column!r}")
        first = np.array([float(a[key][column]) for key in keys])
        second = np.array([float(b[key][column]) for key in keys])
        mean, low, high = bootstrap_ci(first - second)
        print(f"| {column} | {first.mean():.5g} | {second.mean():.5g} | {mean:+.3g} [{low:+.3g}, {high:+.3g}] | "
              f"{int(np.sum(first > second))} / {len(keys)} |")


if __name__ == "__main__":
    main()
