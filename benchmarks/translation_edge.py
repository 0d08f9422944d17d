"""Where a translation's error lies: by distance to the brain's edge, held-out Colin27, `translate` suite.

    .venv/bin/python benchmarks/translation_edge.py MODEL [MODEL ...] [--slices 40] [--direction ab|ba]
                                                    [--sample colin27]

MODEL is a shipped model name or a model card. Inside the brain, each axial slice's voxels are banded by their
in-plane distance to the brain mask's edge (1: the outermost voxels). For each band the table prints its share of
the brain, the true image's and the input's mean, and per model the output's mean and RMSE; then each model's
PSNR inside the brain, without the outermost band, and that band's share of the squared error. Colin27's mask is
BET's (tight: the edge is mostly grey matter) while the training anatomies' masks keep a layer of CSF; a model
that learnt "the edge is CSF" shows it in band 1. `--sample mni152-tight` checks the same on a training anatomy.
"""

from __future__ import annotations

import numpy as np

BANDS = ((0, 1), (1, 2), (2, 3), (3, 5), (5, 10), (10, np.inf))


def edge_distance(brain: np.ndarray) -> np.ndarray:
    """In-plane Euclidean distance of each brain voxel to the nearest voxel outside (1 at the edge), per slice."""
    from scipy.ndimage import distance_transform_edt

    return np.stack([distance_transform_edt(brain[..., k]) for k in range(brain.shape[-1])], axis=-1)


def main() -> None:
    from mrigan.metrics import psnr
    from translation_case import model_method, translation_case  # benchmarks/ is on sys.path when a script runs

    args, suite, case = translation_case(__doc__)
    brain, truth = case.brain, case.truth
    distance = edge_distance(brain)
    outputs = {model: model_method(model, args)(case.degraded()) for model in args.models}
    print(f"{suite.sample}, {case.name}, {args.slices} slices; inside the brain, by in-plane distance to its edge\n")
    print("| distance (voxels) | share | true mean | input mean | " +
          " | ".join(f"{m}: mean | RMSE" for m in outputs) + " |")
    print("|---|---|---|---|" + "---|---|" * len(outputs))
    for low, high in BANDS:
        band = brain & (distance > low) & (distance <= high)
        cells = [f"{band.sum() / brain.sum():.3f}", f"{truth[band].mean():.3f}", f"{case.image[band].mean():.3f}"]
        for output in outputs.values():
            error = (output - truth)[band]
            cells += [f"{output[band].mean():.3f}", f"{np.sqrt(np.mean(error * error)):.3f}"]
        label = f"{low:g}-{high:g}" if np.isfinite(high) else f"> {low:g}"
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("\n| model | PSNR inside the brain | without the outermost band | outermost band's share of squared error |")
    print("|---|---|---|---|")
    edge = brain & (distance <= 1)
    for model, output in outputs.items():
        error = output - truth
        share = float(np.sum(error[edge] ** 2) / np.sum(error[brain] ** 2))
        print(f"| {model} | {psnr(output, truth, data_range=1.0, mask=brain):.2f} | "
              f"{psnr(output, truth, data_range=1.0, mask=brain & ~edge):.2f} | {share:.2f} |")


if __name__ == "__main__":
    main()
