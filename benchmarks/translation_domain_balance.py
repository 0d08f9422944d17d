"""Whether a CycleGAN config's two unpaired domains hold the same tissues: the true target contrast over each.

    .venv/bin/python benchmarks/translation_domain_balance.py [CONFIG] [--set KEY=VALUE ...]

CONFIG (default `configs/translation/cyclegan_t1_t2.yaml`) builds the training set as `mrigan train` does:
domain A's slices (even slabs) and domain B's (odd slabs). For each, the noise-free *target* contrast (T2w for
the default) inside the brain: its quantiles and the share of voxels in each intensity band. Histogram matching
between the domains (`loss.distribution`) assumes these agree; where they do not, it asks the translation for
tissues its own slices do not hold.
"""

from __future__ import annotations

import argparse

import numpy as np

QUANTILES = (0.5, 0.7, 0.8, 0.85, 0.9, 0.95)
BANDS = ((0.0, 0.3), (0.3, 0.6), (0.6, 0.9), (0.9, 1.01))


def main() -> None:
    from mrigan.tasks.translate import build_unpaired_datasets
    from mrigan.training import load_run_config

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", nargs="?", default="configs/translation/cyclegan_t1_t2.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    config = load_run_config(args.config, args.overrides)
    train, _ = build_unpaired_datasets(config)
    print(f"{args.config}: true {config.data.target.contrast} inside the brain, over each domain's training slices\n")
    print("| domain | slices | voxels | mean | " + " | ".join(f"q{q:g}" for q in QUANTILES) + " | "
          + " | ".join(f"[{low:g}, {min(high, 1):g})" for low, high in BANDS) + " |")
    print("|---|---|---|---|" + "---|" * (len(QUANTILES) + len(BANDS)))
    for name, volumes, index in (("A", train.volumes_a, train.index_a), ("B", train.volumes_b, train.index_b)):
        values = np.concatenate([volumes[v].target_true[..., k][volumes[v].brain[..., k] > 0.5] for v, k in index])
        shares = [np.mean((values >= low) & (values < high)) for low, high in BANDS]
        print(f"| {name} | {len(index)} | {len(values)} | {values.mean():.4f} | "
              + " | ".join(f"{v:.3f}" for v in np.quantile(values, QUANTILES)) + " | "
              + " | ".join(f"{s:.3f}" for s in shares) + " |")


if __name__ == "__main__":
    main()
