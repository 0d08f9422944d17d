"""Score exported translation models on one run's validation slabs, so models trained on other data compare fairly.

    .venv/bin/python benchmarks/translation_validation.py RUN_DIR MODEL [MODEL ...] [--flip-average]

RUN_DIR's `config.yaml` builds the validation set (its anatomies, zooms and slabs, exactly as its training
validated); each MODEL is a shipped name, a card, or a run folder (its best/ model). Paired models are scored
as the pix2pix recipe validates (stitched patches, inside-brain PSNR / SSIM); for a CycleGAN run give a run
folder or a folder holding generator.json and generator_ba.json, scored in both directions as the CycleGAN
recipe validates. MODEL `identity` is the input itself (for A -> A, a scan against its noise-free truth: the
bar a reconstruction has to clear). Models are chosen on these numbers, never on Colin27. `--flip-average` runs
every generator averaged over in-plane flips (`mrigan.nn.FlipAverage`, as a card with "flip_average" runs in
`mrigan enhance`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    import torch

    from mrigan.checkpoint import load_model
    from mrigan.engine import make_loader
    from mrigan.models_catalog import resolve_model
    from mrigan.nn import FlipAverage
    from mrigan.training import load_run_config, model_of_run, recipes

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--flip-average", action="store_true", help="average each generator over in-plane flips")
    args = parser.parse_args()
    wrap = FlipAverage if args.flip_average else (lambda network: network)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    config = load_run_config(args.run / "config.yaml", [])
    _, task_class, build_datasets = recipes()[config.task]
    _, validation = build_datasets(config)
    task = task_class(config)
    cyclegan = config.task == "cyclegan"
    keys = ("a2b_ssim_fg", "b2a_ssim_fg", "ssim_fg", "a2b_psnr_fg", "b2a_psnr_fg", "a2a_ssim_fg", "a2a_psnr_fg",
            "b2b_ssim_fg", "b2b_psnr_fg", "a2b_bright_bias_fg") if cyclegan else ("psnr_fg", "ssim_fg")
    flips = ", averaged over in-plane flips" if args.flip_average else ""
    print(f"validation slabs of {args.run} ({', '.join(config.data.samples)}; zooms {config.data.zooms}){flips}\n")
    print("| model | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for model in args.models:
        if model == "identity":
            models = {name: torch.nn.Identity() for name in (("generator", "generator_ba") if cyclegan else
                                                                ("generator",))}
        elif cyclegan:
            folder = Path(model) / "best" if (Path(model) / "best").is_dir() else Path(model)
            models = {name: wrap(load_model(folder / f"{name}.json")[0].eval())
                      for name in ("generator", "generator_ba")}
        else:
            models = {"generator": wrap(load_model(resolve_model(model_of_run(model)))[0].eval())}
        rows = []
        with torch.no_grad():
            for batch in make_loader(validation, 4, config.trainer.seed, shuffle=False):
                rows.append(task.validation_step(batch, models))
        print(f"| {model} | " + " | ".join(f"{np.nanmean([row[k] for row in rows]):.4f}" for k in keys) + " |")


if __name__ == "__main__":
    main()
