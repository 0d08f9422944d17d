"""Ship a trained restoration model: copy a run's exported generator into models/ and score it on held-out Colin27.

    .venv/bin/python benchmarks/ship_restore_model.py RUN_DIR [--name umr-gan-small] [--slices 40]

The model is re-saved (safetensors + JSON card, new sha256) as models/NAME.*, then the bench scores it on
held-out Colin27 (denoise: Rician 3 / 5 / 9%; inpaint: 32 / 64 px) and the card's `metrics.heldout` gets those
numbers, and `models/NAME.md` the model card a person reads. Selection of the run happened on the validation
slab of the training volumes, never on Colin27.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readable_card(data: dict, module, tables: list[str], *, command: str) -> str:
    """The model card a person reads (models/NAME.md), from the JSON card and the held-out tables."""
    config, training = data["config"], data.get("training") or {}
    generator, loss, trainer = config["generator"], config["loss"], config["trainer"]
    parameters = sum(p.numel() for p in module.parameters())
    return f"""# `{data["name"]}`: UMR-GAN restoration model (denoising and inpainting of brain MRI)

**What it is.** `{data["class"]}`, {parameters:,} parameters, 2D slices with 2.5D context: input channels
[x, known-pixel mask, noise-sigma map, x(t-1), x(t+1)], output the restored slice in [0, 1] (residual on x).
Depth {generator["depth"]}, base width {generator["base_channels"]}, {generator["residual_blocks"]} residual
bottleneck blocks, {generator["attention"]} attention. Weights: `{data["weights_file"]}`, sha256
`{data["sha256"]}` (checked on every load). Research use only; not a medical device.

**How it was trained.** `mrigan train configs/umr_gan.yaml` (the resolved config is in the JSON card): MNI152
2009a and inia19 T1 slices (a central slab of each held out for validation), 128 px crops, on-the-fly Rician /
Gaussian noise {config["degradation"]["noise_sigma"]} of the maximum and square / box / brush holes, intensity
jitter {config["data"]["intensity_jitter"]}; L_G = {loss["l1"]} masked L1 + {loss["adversarial"]} cGAN +
{loss["perceptual"]} perceptual (`{loss["feature_net"]}`) + {loss["ssim"]} (1 - SSIM), the cGAN and perceptual
terms from step {loss["adversarial_start_step"]}; {trainer["max_steps"]} steps on a 2-core CPU, EMA of G; the
exported weights are the best validation SSIM. Training summary: {json.dumps(training)[:400]}

**Held-out scores** (Colin27, never seen in training or selection; `{command}`):

{chr(10).join(tables)}
**Use.** `mrigan enhance scan.nii.gz -m {data["name"]} -o restored.nii.gz [--mask holes.nii.gz] [--uncertainty tta]`.
Inputs are normalised with robust min-max (0.1 / 99.9 percentiles of the non-zero voxels) and mapped back.

**Limits.** Trained on two template brains (an average of many scans and a macaque), skull-stripped; whole-head
scans, other contrasts than T1, pathology and real scanner noise are outside what it saw. See the README for how
it compares with NLM, BM3D and BM4D on the same data.
"""


def main() -> None:
    from mrigan.bench.runner import run_suite
    from mrigan.checkpoint import load_model, save_model
    from mrigan.commands import _model_method
    from mrigan.io.atomic import write_atomic
    from mrigan.training import model_of_run

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--name", default="umr-gan-small")
    parser.add_argument("--slices", type=int, default=40)
    parser.add_argument("--readme", action="store_true", help="also write the tables into the README")
    args = parser.parse_args()
    module, card = load_model(model_of_run(args.run_dir))
    stem = ROOT / "models" / args.name.replace("-", "_")
    keep = {key: card[key] for key in ("intensity", "conditioning", "checkpoint_kind") if key in card}
    card_path = save_model(
        module, stem, name=args.name, task=card["task"], config=card["config"], training=card["training"],
        metrics={"validation": card["metrics"]}, extra={**keep, "source_run": str(args.run_dir)},
    )
    heldout: dict[str, float] = {}
    tables = []
    for suite, headline in (("denoise", "psnr_fg"), ("inpaint", "psnr_hole")):
        method = _model_method(card_path, suite)
        result = run_suite(suite, methods=[], n_slices=args.slices, progress=True, models=[method])
        tables.append(f"### {suite}\n\n{result.table}\n")
        for case in sorted({r["case"] for r in result.records}):
            rows = [r for r in result.records if r["case"] == case]
            key = case.replace(" ", "_").replace("%", "pct")
            heldout[f"{suite}_{key}_{headline}"] = round(sum(r[headline] for r in rows) / len(rows), 3)
            heldout[f"{suite}_{key}_ssim_fg"] = round(sum(r["ssim_fg"] for r in rows) / len(rows), 4)
    data = json.loads(card_path.read_text())
    data["metrics"]["heldout"] = {
        "data": f"Colin27 (held out), {args.slices} central axial slices, PSNR / SSIM inside the brain",
        "psnr": heldout.get("denoise_rician_5pct_psnr_fg"), "ssim": heldout.get("denoise_rician_5pct_ssim_fg"),
        **heldout,
    }
    write_atomic(card_path, lambda p: p.write_text(json.dumps(data, indent=2) + "\n"), overwrite=True)
    readable = readable_card(data, module, tables, command=f"benchmarks/ship_restore_model.py {args.run_dir}")
    write_atomic(stem.with_suffix(".md"), lambda p: p.write_text(readable), overwrite=True)
    print("\n".join(tables))
    print(f"shipped {card_path} (sha256 {data['sha256'][:12]}...)")
    if args.readme:
        from README_tables import write_readme_section  # benchmarks/ is on sys.path when a script runs

        write_readme_section(
            f"model:{args.name}",
            f"`python benchmarks/ship_restore_model.py {args.run_dir} --name {args.name} --readme`:\n\n"
            + "\n".join(tables),
        )


if __name__ == "__main__":
    main()
