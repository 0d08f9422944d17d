"""Ship a trained translation model: copy a run's generator into models/ and score it on held-out Colin27.

    .venv/bin/python benchmarks/ship_translation_model.py RUN_DIR --name pix2pix-7t-9t4 --suite field
        [--compare OTHER_RUN ...] [--slices 40] [--whole-slices] [--readme]
    .venv/bin/python benchmarks/ship_translation_model.py RUN_DIR --name cyclegan-t2-t1 --suite translate --direction ba

The generator is re-saved (safetensors + JSON card, new sha256) as models/NAME.*; the bench suite (`field`:
7 T -> 9.4 T, `translate`: T1w <-> T2w) scores it beside its baselines and any `--compare` runs (e.g. the
DCSRN run the issue asks it to beat), the card's `metrics.heldout` gets its numbers and `models/NAME.md` the
model card a person reads. A CycleGAN run holds two generators: `--direction ab` (default) ships A -> B
(generator.json), `--direction ba` ships B -> A (generator_ba.json). Which checkpoint to ship was decided on
the validation slab of the training volumes (the run's best/), never on Colin27.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readable_card(data: dict, module, tables: str, *, command: str, config_file: str | None = None,
                  history: str | None = None) -> str:
    """The model card a person reads (models/NAME.md)."""
    config = data["config"]
    config_file = config_file or f"configs/translation/{config['name'].replace('-', '_')}.yaml"
    history = f"\nHow this run went: {history}" if history else ""
    flips = ("; averaged over in-plane flips, four passes (`--no-flip-average`: one)"
             if data["inference"].get("flip_average") else "")
    how = ("each axial slice is translated whole" if data["inference"].get("mode") == "slices"
           else "patches are stitched with Hann-weighted overlaps")
    parameters = sum(p.numel() for p in module.parameters())
    names = {"mni152": "MNI152 2009a", "mni152-gmm": "MNI152 2009a segmented by a Gaussian mixture",
             "inia19": "inia19", "mni152-tight": "MNI152 2009a with the CSF around the brain stripped off",
             "inia19-tight": "inia19 with the CSF around the brain stripped off"}
    samples = [names.get(s, s) for s in config["data"].get("samples", [])]
    zooms = [z for z in config["data"].get("zooms", [1.0]) if z != 1]
    anatomies = ", ".join(samples[:-1]) + f" and {samples[-1]}" if len(samples) > 1 else "".join(samples)
    anatomies += f" (each also on grids {', '.join(f'{z:g}x' for z in zooms)} finer)" if zooms else ""
    origin = (data.get("training") or {}).get("initialised_from")
    tuned = (f" (a fine-tuning run: `--init-from` {origin['checkpoint']}, step {origin['step']}, sha256 "
             f"{origin['sha256'][:12]}...)" if origin else "")
    return f"""# `{data["name"]}`: {data["translation"]}

**What it is.** `{data["class"]}`, {parameters:,} parameters, generator kind `{config["generator"]["kind"]}`
trained by the `{config["task"]}` recipe; it runs on {data["inference"]["mode"]} ({json.dumps(data["inference"])}).
Weights: `{data["weights_file"]}`, sha256 `{data["sha256"]}` (checked on every load). Research use only; not a
medical device.

**How it was trained.** `mrigan train {config_file}`{tuned} (the resolved
config is in the JSON card): source and target simulated from the tissue maps of {anatomies} with the
MR signal equations ({data["translation"]}; a central slab of each held out for validation), on this 2-core CPU.
Training summary: {json.dumps(data.get("training") or {})[:400]}{history}

**Held-out scores** (Colin27 simulated the same way, never seen in training or selection; `{command}`):

{tables}

**Use.** `mrigan enhance scan.nii.gz -m {data["name"]} -o translated.nii.gz` (the grid is kept; {how}{flips}).

**Limits.** Trained and scored on simulated contrasts of template anatomy; real scanner data at these field
strengths, pathology and other sequences are outside what it saw.
"""


def main() -> None:
    from mrigan.bench.runner import run_suite
    from mrigan.bench.translation import make_translation_suite
    from mrigan.bench.translation_models import translation_methods
    from mrigan.checkpoint import load_model, save_model
    from mrigan.io.atomic import write_atomic
    from mrigan.training import model_of_run

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--suite", choices=["field", "translate"], default="field")
    parser.add_argument("--direction", choices=["ab", "ba"], default="ab",
                        help="a CycleGAN run's generator to ship: ab (generator.json) or ba (generator_ba.json)")
    parser.add_argument("--compare", type=Path, nargs="*", default=[], help="other runs scored beside it")
    parser.add_argument("--slices", type=int, default=40)
    parser.add_argument("--sample", help="held-out anatomy (default the suite's: colin27-hires for field)")
    parser.add_argument("--readme", action="store_true", help="also write the tables into the README")
    parser.add_argument("--config", help="the config file the run was trained from (default: from its name)")
    parser.add_argument("--history", help="a sentence for the card on how the run went (e.g. a resumed fork)")
    parser.add_argument("--flip-average", action="store_true",
                        help="the card asks for the generator averaged over in-plane flips (mrigan.nn.FlipAverage); "
                             "the bench scores it so, and in one pass beside it")
    parser.add_argument("--whole-slices", action="store_true",
                        help="run the shipped model on whole axial slices instead of stitched patches (a fully "
                             "convolutional 2D network: the bench scores it as it ships)")
    args = parser.parse_args()
    chosen = Path(model_of_run(args.run_dir))
    if args.direction == "ba":
        chosen = chosen.with_name("generator_ba.json")
    module, card = load_model(chosen)
    stem = ROOT / "models" / args.name.replace("-", "_")
    keep = ("intensity", "source", "target", "translation", "spatial_dims", "inference", "checkpoint_kind")
    extra = {**{key: card[key] for key in keep if key in card}, "source_run": str(args.run_dir)}
    if args.whole_slices:
        if card.get("spatial_dims", 2) != 2:
            parser.error(f"--whole-slices: {chosen} is not a 2D network")
        extra["inference"] = {"mode": "slices", "multiple": (card.get("inference") or {}).get("multiple", 1)}
    if args.flip_average:
        extra["inference"] = {**(extra.get("inference") or {"mode": "slices", "multiple": 1}), "flip_average": True}
    card_path = save_model(
        module, stem, name=args.name, task=card["task"], config=card["config"], training=card["training"],
        metrics={"validation": card["metrics"]}, extra=extra,
    )
    methods = translation_methods([card_path, *[model_of_run(run) for run in args.compare]])
    result = run_suite(args.suite, n_slices=args.slices, progress=True, models=methods, sample=args.sample)
    tables = result.table
    # its own translation only: not the round trips nor seed 003's reconstructions (cases with `via` / `generators`)
    suite = make_translation_suite(args.suite, n_slices=args.slices, sample=args.sample)  # cached simulation
    translations = {case.name for case in suite.cases if not case.via and not case.generators}
    def mean_scores(method: str) -> dict[str, float]:
        rows = [r for r in result.records if r["method"] == method and r["case"] in translations]
        return {"psnr": round(sum(r["psnr_fg"] for r in rows) / len(rows), 3),
                "ssim": round(sum(r["ssim_fg"] for r in rows) / len(rows), 4)}

    data = json.loads(card_path.read_text())
    data["metrics"]["heldout"] = {
        "data": f"{args.sample or 'Colin27'} (held out), {args.suite} suite, {args.slices} central axial slices, "
                "inside the brain" + (", averaged over in-plane flips" if args.flip_average else ""),
        **mean_scores(methods[0].name),
        **({"one_pass": mean_scores(methods[1].name)} if args.flip_average else {}),
    }
    write_atomic(card_path, lambda p: p.write_text(json.dumps(data, indent=2) + "\n"), overwrite=True)
    command = f"python benchmarks/ship_translation_model.py {args.run_dir} --name {args.name} --suite {args.suite}"
    command += " --direction ba" if args.direction == "ba" else ""
    command += " --whole-slices" if args.whole_slices else ""
    command += " --flip-average" if args.flip_average else ""
    command += f" --config {args.config}" if args.config else ""
    command += "".join(f" --compare {run}" for run in args.compare) + (f" --sample {args.sample}" if args.sample else "")
    text = readable_card(data, module, tables, command=command, config_file=args.config, history=args.history)
    write_atomic(stem.with_suffix(".md"), lambda p: p.write_text(text), overwrite=True)
    print(tables)
    print(f"shipped {card_path} (sha256 {data['sha256'][:12]}...)")
    if args.readme:
        from README_tables import write_readme_section  # benchmarks/ is on sys.path when a script runs

        write_readme_section(f"model:{args.name}", f"`{command} --readme`:\n\n{tables}\n")


if __name__ == "__main__":
    main()
