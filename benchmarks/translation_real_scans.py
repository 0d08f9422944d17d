"""T1w -> T2w on real T1w scans: the tissue levels a model gives them against the levels a T2w would have.

    .venv/bin/python benchmarks/translation_real_scans.py MODEL [MODEL ...] [--scans inia19,colin27] [--one-pass]
                                                          [--figure real.png]

MODEL is a shipped model name or a model card of the T1w -> T2w direction. Each scan is the real T1w of a sample
(inia19: the macaque template, a training anatomy whose T1w the models never saw, only simulations of its tissue
maps; colin27: the held-out human scan, `ch2.nii.gz` multiplied by `ch2bet.nii.gz`), scaled to [0, 1] as
training scans are (0.1 / 99.9 percentiles of the brain). Real scans have no true T2w, so the table compares
the translation's mean over each tissue's voxels (probability above 0.75 in the sample's own segmentation, which
the simulations use too) with the T2w spin echo simulated from those maps, noise-free ("expected"), and with the
model's translation of the simulated T1w spin echo ("from the simulated T1w"). "Ventricles" are CSF voxels more
than 15 mm inside the brain mask. The T1w levels of each scan are printed as well: how its sequence renders CSF.
"""

from __future__ import annotations

import argparse

import numpy as np


def tissue_masks(tissues: dict[str, np.ndarray], brain: np.ndarray, spacing) -> dict[str, np.ndarray]:
    """Voxels of CSF / GM / WM (probability above 0.75) and deep CSF (more than 15 mm inside the brain)."""
    from scipy.ndimage import distance_transform_edt

    masks = {name: brain & (tissues[name] > 0.75) for name in ("csf", "gm", "wm")}
    depth = distance_transform_edt(brain, sampling=spacing)
    masks["ventricles"] = masks["csf"] & (depth > 15.0)
    return masks


def short_name(model: str) -> str:
    """A model's name for a figure title: a shipped name as it is, a run's card as the run folder's name."""
    from pathlib import Path

    path = Path(model)
    return model if len(path.parts) == 1 else (path.parent.parent.name if path.parent.name in ("best", "final")
                                               else path.stem)


def main() -> None:
    import torch

    from mrigan.bench.translation import TranslationCase
    from mrigan.bench.translation_models import TranslationModelMethod
    from mrigan.commands import load_tissues
    from mrigan.data.samples import load_sample
    from mrigan.data.translation import DomainConfig, simulate_domain
    from mrigan.preprocess import robust_minmax

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--scans", default="inia19,colin27")
    parser.add_argument("--one-pass", action="store_true", help="no flip averaging, whatever the card asks")
    parser.add_argument("--figure", help="PNG of each scan's central axial slice and its translations")
    args = parser.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    source, target = DomainConfig(contrast="t1w"), DomainConfig(contrast="t2w")
    methods = {model: TranslationModelMethod.from_path(model, flip_average=False if args.one_pass else None)
               for model in args.models}
    print("| scan | image | " + " | ".join(("CSF", "GM", "WM", "ventricles")) + " |")
    print("|---|---|---|---|---|---|")
    panels = []
    for scan in args.scans.split(","):
        sample = load_sample(scan)
        reference, tissues = load_tissues(scan)
        brain = sample.brain_mask
        spacing = tuple(float(s) for s in reference.spacing)
        real = robust_minmax(np.where(brain, sample.t1.data, 0.0))
        simulated, _ = simulate_domain(tissues, spacing, source, seed=0)
        _, expected = simulate_domain(tissues, spacing, target, seed=1)
        masks = tissue_masks(tissues, brain, spacing)

        def row(label: str, image: np.ndarray) -> None:
            print(f"| {scan} | {label} | " + " | ".join(f"{image[mask].mean():.3f}" for mask in masks.values()) + " |")

        row("real T1w", real)
        row("simulated T1w SE", simulated)
        row("expected T2w (simulated, noise-free)", expected)
        slice_index = int(np.nonzero(masks["ventricles"].any(axis=(0, 1)))[0].mean())
        panels.append((f"{scan}: real T1w", real[..., slice_index]))
        panels.append((f"{scan}: expected T2w", expected[..., slice_index]))
        for model, method in methods.items():
            for label, image in (("real", real), ("simulated", simulated)):
                case = TranslationCase("T1w -> T2w", image, expected, brain, source, target)
                output = method(case.degraded())
                row(f"{model}, from the {label} T1w", output)
                if label == "real":
                    panels.append((f"{scan}: {short_name(model)}", output[..., slice_index]))
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        per_scan = 2 + len(methods)
        rows = len(panels) // per_scan
        figure, axes = plt.subplots(rows, per_scan, figsize=(3 * per_scan, 3.3 * rows), squeeze=False)
        for axis, (title, image) in zip(axes.ravel(), panels, strict=True):
            axis.imshow(np.rot90(image), cmap="gray", vmin=0, vmax=1)
            axis.set_title(title, fontsize=8)
            axis.axis("off")
        figure.tight_layout()
        figure.savefig(args.figure, dpi=100)
        print(f"\nwrote {args.figure}")


if __name__ == "__main__":
    main()
