"""Why learned SR loses on Colin27's real 1 mm -> 0.5 mm pair: how the two scans relate.

    .venv/bin/python benchmarks/sr_real_pair.py [--slices 40] [--readme]

On the bench's pair (`mrigan.bench.heldout.real_sr_pair`, aligned by `pair_translation`), prints: the offset the
registration found; how well the real 1 mm input agrees (PSNR inside the brain, on the 1 mm grid) with the
0.5 mm target reduced to 1 mm in three ways (2x2x2 mean, block mean without pre-filter, the bench's anti-aliased
decimation, the degradation the SR models were trained on); and each image's sharpness (mean absolute difference
of neighbouring voxels along x inside the brain). If the real input were the target's low-resolution version,
one reduction would agree closely and be as sharp as it. A second table upsamples the real input to 0.5 mm with
bicubic interpolation after a Gaussian blur of a few widths: if blurring first scores higher against the
0.5 mm target, the pair rewards smoothing rather than recovered detail.
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    import dataclasses

    from scipy.ndimage import gaussian_filter

    from mrigan.baselines import BASELINES
    from mrigan.bench.heldout import pair_translation, real_sr_pair
    from mrigan.metrics.image import psnr
    from mrigan.physics import Decimate

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, default=40)
    parser.add_argument("--readme", action="store_true", help="also write the table into the README")
    args = parser.parse_args()
    target, brain, degraded = real_sr_pair(args.slices)
    real = degraded.image
    shape = real.shape
    brain_1mm = brain.reshape(shape[0], 2, shape[1], 2, shape[2], 2).mean(axis=(1, 3, 5)) > 0.5
    reductions = {
        "2x2x2 mean": target.reshape(shape[0], 2, shape[1], 2, shape[2], 2).mean(axis=(1, 3, 5)),
        "block mean, no pre-filter": Decimate(factor=2, axes=(0, 1, 2), antialias=False)(target).image,
        "anti-aliased decimation (training degradation)": Decimate(factor=2, axes=(0, 1, 2))(target).image,
    }

    def sharpness(image: np.ndarray) -> float:
        return float(np.mean(np.abs(np.diff(image, axis=0))[brain_1mm[:-1]]))

    offset = pair_translation().GetNthTransform(0).GetOffset()
    lines = [f"Colin27 real pair, {args.slices} slices at 0.5 mm; registration offset (LPS mm): "
             f"({offset[0]:.2f}, {offset[1]:.2f}, {offset[2]:.2f})", "",
             "| image on the 1 mm grid | PSNR vs the real 1 mm input (brain) | sharpness |", "|---|---|---|",
             f"| real 1 mm input | - | {sharpness(real):.4f} |"]
    for name, reduced in reductions.items():
        reduced = reduced[: shape[0], : shape[1], : shape[2]]
        lines.append(f"| 0.5 mm target, {name} | {psnr(reduced, real, data_range=1.0, mask=brain_1mm):.2f} | "
                     f"{sharpness(reduced):.4f} |")
    lines += ["", "| real 1 mm input upsampled to 0.5 mm | PSNR vs the 0.5 mm target (brain, whole block) |", "|---|---|"]
    bicubic = BASELINES["bicubic"]()
    for sigma in (0.0, 0.3, 0.5, 0.7):
        blurred = dataclasses.replace(degraded, image=gaussian_filter(real, sigma) if sigma else real)
        label = f"Gaussian blur {sigma} voxel, then bicubic" if sigma else "bicubic"
        lines.append(f"| {label} | {psnr(bicubic(blurred), target, data_range=1.0, mask=brain):.2f} |")
    print("\n".join(lines))
    if args.readme:
        from README_tables import write_readme_section  # benchmarks/ is on sys.path when a script runs

        write_readme_section("sr:real-pair", "`python benchmarks/sr_real_pair.py`:\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
