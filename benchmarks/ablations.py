"""Seed 000's ablations (Table III) at reduced size: train each variant, score it, print one table.

    .venv/bin/python benchmarks/ablations.py [--variants full,no_mask,...] [--steps N] [--out runs/ablations]

Each variant is configs/umr_gan.yaml + configs/ablations/base.yaml + configs/ablations/VARIANT.yaml. It is
trained on MNI152 + inia19, validated on their held-out slab, and scored on held-out Colin27 (denoising at
Rician 5% and inpainting of 32 px holes, a few slices each) through the same bench code as the baselines.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ABLATIONS = ROOT / "configs" / "ablations"


def overrides_of(name: str) -> list[str]:
    return list((yaml.safe_load((ABLATIONS / f"{name}.yaml").read_text()) or {}).get("overrides") or [])


def main() -> None:
    from mrigan.bench.runner import run_suite
    from mrigan.commands import _model_method
    from mrigan.training import model_of_run, run_train

    variants = sorted((p.stem for p in ABLATIONS.glob("*.yaml") if p.stem != "base"), key=lambda n: (n != "full", n))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=",".join(variants))
    parser.add_argument("--steps", type=int, default=None, help="override trainer.max_steps")
    parser.add_argument("--slices", type=int, default=4, help="held-out Colin27 slices scored per case")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "ablations")
    parser.add_argument("--readme", action="store_true", help="also write the table into the README")
    args = parser.parse_args()
    rows = []
    for name in args.variants.split(","):
        overrides = overrides_of("base") + overrides_of(name)
        if args.steps:
            overrides += [f"trainer.max_steps={args.steps}", f"trainer.val_every={args.steps}",
                          f"trainer.checkpoint_every={args.steps}"]
        run_dir = args.out / name
        start = time.perf_counter()
        resume = run_dir if (run_dir / "config.yaml").exists() else None
        run_train(ROOT / "configs" / "umr_gan.yaml", overrides=overrides, resume=resume, out=run_dir)
        minutes_file = run_dir / "train_minutes.txt"
        if resume is None or not minutes_file.exists():  # trained now, from scratch or from a checkpoint
            minutes_file.write_text(f"{(time.perf_counter() - start) / 60:.2f}\n")
        minutes = float(minutes_file.read_text())
        val = (run_dir / "metrics" / "val.csv").read_text().splitlines()
        header, last = val[0].split(","), val[-1].split(",")
        validation = dict(zip(header, last))
        model = model_of_run(run_dir)
        scores = {}
        for suite, column in (("denoise", "psnr_fg"), ("inpaint", "psnr_hole")):
            result = run_suite(suite, quick=True, methods=[], n_slices=args.slices, progress=False,
                               models=[_model_method(model, suite)])
            values = [r[column] for r in result.records]
            scores[suite] = sum(values) / len(values)
            ssim_values = [r["ssim_fg"] for r in result.records]
            scores[f"{suite}_ssim"] = sum(ssim_values) / len(ssim_values)
        rows.append((name, float(validation["ssim"]), float(validation["psnr_fg"]), scores, minutes,
                     " ".join(overrides_of(name)) or "-"))
        print(f"{name}: done in {minutes:.1f} min", flush=True)
    references = {}
    for suite, column, baseline in (("denoise", "psnr_fg", "noisy"), ("inpaint", "psnr_hole", "biharmonic")):
        result = run_suite(suite, quick=True, methods=[baseline], n_slices=args.slices, progress=False)
        references[suite] = sum(r[column] for r in result.records) / len(result.records)
        references[f"{suite}_ssim"] = sum(r["ssim_fg"] for r in result.records) / len(result.records)
    lines = [
        "| variant | change | val SSIM | val PSNR fg | Colin27 denoise 5% PSNR fg | SSIM fg | Colin27 hole 32px PSNR hole "
        "| train min |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, ssim, psnr, scores, minutes, change in rows:
        lines.append(f"| {name} | {change} | {ssim:.3f} | {psnr:.2f} | {scores['denoise']:.2f} | "
                     f"{scores['denoise_ssim']:.3f} | {scores['inpaint']:.2f} | {minutes:.1f} |")
    lines.append(f"| *reference* | noisy input / biharmonic, same cases | - | - | {references['denoise']:.2f} | "
                 f"{references['denoise_ssim']:.3f} | {references['inpaint']:.2f} | - |")
    table = "\n".join(lines)
    print(table)
    (args.out / "ablations.md").write_text(table + "\n")
    if args.readme:
        from README_tables import write_readme_section

        steps = f" --steps {args.steps}" if args.steps else ""
        write_readme_section("ablations", f"`python benchmarks/ablations.py{steps} --readme`:\n\n{table}\n")


if __name__ == "__main__":
    main()
