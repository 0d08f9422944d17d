"""Through-plane super-resolution of thick-slice volumes: an in-plane SR model vs cubic B-spline along the slices.

    .venv/bin/python benchmarks/sr_through_plane.py [--model sr-rrdb-x2] [--slices 64]

Held-out Colin27 (a block of `--slices` central axial slices, normalised to [0, 1]) is acquired with slices
`scale` times thicker: ThickSlices (each thick slice the mean of `scale` thin ones) and Decimate along the slice
axis (Gaussian pre-filter, then the block mean). Each is brought back to the thin grid by the bench's bicubic
(cubic B-spline along the slice axis) and by the model (`mrigan.tasks.super_resolve.upscale_through_plane`:
coronal and sagittal planes, the same code as `mrigan enhance --through-plane`). Scores: PSNR / SSIM inside the
brain per axial slice, mean over the block, the outermost `scale` slices at each end left out (both methods
extrapolate there).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    import torch

    from mrigan.baselines.upsample import SplineUpsample
    from mrigan.bench.heldout import held_out_block
    from mrigan.checkpoint import load_model
    from mrigan.metrics.image import score
    from mrigan.models_catalog import resolve_model
    from mrigan.physics import Decimate
    from mrigan.physics.resolution import ThickSlices
    from mrigan.tasks.super_resolve import upscale_through_plane

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="sr-rrdb-x2", help="a shipped SR model name or a card")
    parser.add_argument("--slices", type=int, default=64)
    parser.add_argument("--readme", action="store_true", help="also write the table into the README")
    args = parser.parse_args()
    lines: list[str] = []
    torch.set_num_threads(2)
    generator, card = load_model(resolve_model(args.model))
    generator.eval()
    scale = int(card["super_resolution"]["scale"])
    block = held_out_block("colin27", n_slices=args.slices - args.slices % scale)
    clean, brain = block.clean, block.brain
    keep = range(scale, clean.shape[2] - scale)
    lines.append(f"held-out Colin27, {clean.shape[2]} axial slices, slices {scale}x thicker; model {card['name']} "
          f"(sha256 {card['sha256'][:12]}); PSNR / SSIM inside the brain, mean over slices {keep.start}-{keep.stop - 1}")
    lines.append("| acquisition | bicubic PSNR | model PSNR | bicubic SSIM | model SSIM | model seconds |")
    lines.append("|---|---|---|---|---|---|")
    for name, operator in (("thick slices", ThickSlices(factor=scale, axis=2)),
                           ("decimate (Gaussian + mean)", Decimate(factor=scale, axes=(2,)))):
        degraded = operator(clean)
        bicubic = SplineUpsample(order=3)(degraded)
        start = time.perf_counter()
        with torch.inference_mode():
            model = upscale_through_plane(generator, card, degraded.image)
        seconds = time.perf_counter() - start
        model = np.pad(model, [(0, 0), (0, 0), (0, clean.shape[2] - model.shape[2])], mode="edge")
        rows = {}
        for label, output in (("bicubic", bicubic), ("model", model)):
            scores = [score(output[:, :, k], clean[:, :, k], data_range=1.0, masks={"fg": brain[:, :, k]})
                      for k in keep]
            rows[label] = (np.mean([s["psnr_fg"] for s in scores]), np.mean([s["ssim_fg"] for s in scores]))
        lines.append(f"| {name} | {rows['bicubic'][0]:.2f} | {rows['model'][0]:.2f} | {rows['bicubic'][1]:.4f} | "
              f"{rows['model'][1]:.4f} | {seconds:.1f} |")

    print("\n".join(lines))
    if args.readme:
        from README_tables import write_readme_section  # benchmarks/ is on sys.path when a script runs

        write_readme_section("sr:through-plane", "`python benchmarks/sr_through_plane.py`:\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
