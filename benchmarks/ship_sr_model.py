"""Ship a trained super-resolution model: copy a run's exported generator into models/ and score it on Colin27.

    .venv/bin/python benchmarks/ship_sr_model.py RUN_DIR --name sr-rrdb-x2 [--slices 40] [--readme]

The model is re-saved (safetensors + JSON card, new sha256) as models/NAME.*; the `sr` bench scores it beside
bicubic and Lanczos on held-out Colin27 (the synthetic case of its scale, and for 2x models the real 1 mm ->
0.5 mm pair; RFSR takes minutes, `benchmarks/README_tables.py sr` puts every row together), the card's
`metrics.heldout` gets its numbers and `models/NAME.md` the model card a person reads. Which run to ship was
decided on the validation slab of the training volumes, never on Colin27.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readable_card(data: dict, module, table: str, *, command: str) -> str:
    """The model card a person reads (models/NAME.md)."""
    config, info = data["config"], data["super_resolution"]
    generator, trainer = config["generator"], config["trainer"]
    parameters = sum(p.numel() for p in module.parameters())
    return f"""# `{data["name"]}`: {info["scale"]}x super-resolution of brain MRI slices

**What it is.** `{data["class"]}` wrapping `{data["kwargs"]["network"]}` ({generator["kind"]}, kwargs
{json.dumps(data["kwargs"]["network_kwargs"])}), {parameters:,} parameters. Input: a low-resolution slice;
output: the slice on a {info["scale"]}x finer grid, the network's detail added to the bench's cubic B-spline
interpolation (a zero network is exactly the bicubic row). Weights: `{data["weights_file"]}`, sha256
`{data["sha256"]}` (checked on every load). Research use only; not a medical device.

**How it was trained.** `mrigan train {config.get("source_config", "configs/sr/rrdb_psnr.yaml")} --set scale={info["scale"]}`
(ESRGAN's PSNR-oriented stage: L1 loss, no discriminator): MNI152 2009a and inia19 T1 slices (a central slab of
each held out for validation), {config["data"]["crop"]} px target crops, batch {config["data"]["batch_size"]},
low-resolution inputs made on the fly by {", ".join(info["degradations"])}, seed-002 augmentation;
{trainer["max_steps"]} steps on a 2-core CPU, EMA of the weights; the exported weights are the best validation
PSNR inside the brain. Training summary: {json.dumps(data.get("training") or {})[:300]}

**Held-out scores** (Colin27, never seen in training or selection; `{command}`):

{table}
**Use.** `mrigan enhance scan.nii.gz -m {data["name"]} -o upscaled.nii.gz` upscales each axial slice in plane
and writes the voxel size divided by {info["scale"]}; `--through-plane` gives a thick-slice volume
{info["scale"]}x thinner slices instead (`benchmarks/sr_through_plane.py` scores that).

**Limits.** Trained on two template brains (an average of many scans and a macaque), skull-stripped T1; other
contrasts, pathology, real scanner noise and other blur kernels are outside what it saw.
"""


def main() -> None:
    from mrigan.bench.runner import run_suite
    from mrigan.bench.sr_models import SRModelMethod
    from mrigan.checkpoint import load_model, save_model
    from mrigan.io.atomic import write_atomic
    from mrigan.training import model_of_run

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--slices", type=int, default=40)
    parser.add_argument("--readme", action="store_true", help="also write the table into the README")
    args = parser.parse_args()
    module, card = load_model(model_of_run(args.run_dir))
    stem = ROOT / "models" / args.name.replace("-", "_")
    card_path = save_model(
        module, stem, name=args.name, task=card["task"], config=card["config"], training=card["training"],
        metrics={"validation": card["metrics"]},
        extra={"super_resolution": card["super_resolution"], "intensity": card.get("intensity"),
               "checkpoint_kind": card.get("checkpoint_kind"),
               "source_run": str(args.run_dir)},
    )
    result = run_suite("sr", methods=["bicubic", "lanczos"], n_slices=args.slices, progress=True,
                       models=[SRModelMethod(card_path, name=args.name)])
    heldout: dict[str, float] = {}
    for case in sorted({r["case"] for r in result.records if r["method"] == args.name}):
        rows = [r for r in result.records if r["case"] == case and r["method"] == args.name]
        key = case.replace(" ", "_").replace("->", "_to_").replace(".", "")
        heldout[f"sr_{key}_psnr_fg"] = round(sum(r["psnr_fg"] for r in rows) / len(rows), 3)
        heldout[f"sr_{key}_ssim_fg"] = round(sum(r["ssim_fg"] for r in rows) / len(rows), 4)
    data = json.loads(card_path.read_text())
    synthetic = f"sr_x{data['super_resolution']['scale']}"
    data["metrics"]["heldout"] = {
        "data": f"Colin27 (held out), {args.slices} central axial slices, PSNR / SSIM inside the brain",
        "psnr": heldout.get(f"{synthetic}_psnr_fg"), "ssim": heldout.get(f"{synthetic}_ssim_fg"), **heldout,
    }
    write_atomic(card_path, lambda p: p.write_text(json.dumps(data, indent=2) + "\n"), overwrite=True)
    command = f"python benchmarks/ship_sr_model.py {args.run_dir} --name {args.name}"
    readable = readable_card(data, module, result.table, command=command)
    write_atomic(stem.with_suffix(".md"), lambda p: p.write_text(readable), overwrite=True)
    print(result.table)
    print(f"shipped {card_path} (sha256 {data['sha256'][:12]}...)")
    if args.readme:
        from README_tables import write_readme_section  # benchmarks/ is on sys.path when a script runs

        write_readme_section(f"model:{args.name}", f"`{command} --readme`:\n\n{result.table}\n")


if __name__ == "__main__":
    main()
