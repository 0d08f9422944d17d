"""How much of a translation model's gap to the true image is grain: held-out Colin27, `translate` suite.

    .venv/bin/python benchmarks/translation_grain.py MODEL [MODEL ...] [--slices 40] [--direction ab|ba]
                                                     [--sample colin27]

MODEL is a shipped model name or a model card (e.g. `runs/tr/RUN/best/generator.json`). For each model (and the
noisy input beside it as the reference for plain acquisition noise) it prints, inside the brain:
SSIM against the true image as the bench scores it, SSIM after a Gaussian blur of 0.5 and 1 voxel (grain costs
SSIM that blurring gives back; wrong contrast does not come back), and the grain itself: the standard deviation
of the output in 3 x 3 windows where the true image is flat. A CycleGAN that passes its input's details through
a faint pattern in its output (see `loss.cycle_noise`) shows more grain than its input has noise. The next two
columns are `mrigan.losses.IntensityConsistencyLoss` of the output against the input, per slice inside the brain
(see `loss.consistency`): the part of the output that the input's intensity does not explain, as a variance and
as a share of the output's variance (1 - eta^2, `consistency_measure="correlation_ratio"`); the true image's own
values are printed as the reference. The last two show the output's contrast: its mean where the true image is
bright (>= 0.9: CSF in T2w) and dark (< 0.3), the true means in the header.
"""

from __future__ import annotations


import numpy as np


def flat_windows(truth: np.ndarray, brain: np.ndarray, tolerance: float = 1e-3) -> np.ndarray:
    """Voxels whose in-plane 3 x 3 window of the true image is flat (spread below `tolerance`), inside the brain."""
    from scipy.ndimage import binary_erosion, maximum_filter, minimum_filter

    size = (3, 3, 1)
    spread = maximum_filter(truth, size=size) - minimum_filter(truth, size=size)
    return (spread < tolerance) & binary_erosion(brain, structure=np.ones(size, bool))


def local_std(image: np.ndarray) -> np.ndarray:
    """In-plane 3 x 3 standard deviation of each voxel's window."""
    from scipy.ndimage import uniform_filter

    size = (3, 3, 1)
    mean = uniform_filter(image, size=size)
    return np.sqrt(np.maximum(uniform_filter(image * image, size=size) - mean * mean, 0.0))


def mean_ssim(output: np.ndarray, truth: np.ndarray, brain: np.ndarray) -> float:
    from mrigan.metrics import ssim

    return float(np.mean([ssim(output[..., k], truth[..., k], data_range=1.0, mask=brain[..., k])
                          for k in range(truth.shape[-1]) if brain[..., k].any()]))


def blurred(image: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(image, sigma=(sigma, sigma, 0))


def consistency(source: np.ndarray, output: np.ndarray, brain: np.ndarray, measure: str = "variance") -> float:
    """`IntensityConsistencyLoss` of (X, Y, Z) output against its source, each axial slice one image."""
    import torch

    from mrigan.losses import IntensityConsistencyLoss

    def as_batch(volume: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(np.moveaxis(volume, -1, 0)[:, None], dtype=np.float32))

    return float(IntensityConsistencyLoss(measure=measure)(as_batch(source), as_batch(output), as_batch(brain)))


def main() -> None:
    from translation_case import model_method, translation_case  # benchmarks/ is on sys.path when a script runs

    args, suite, case = translation_case(__doc__)
    flat = flat_windows(case.truth, case.brain)
    print(f"{suite.sample}, {case.name}, {args.slices} slices; inside the brain; grain = mean 3 x 3 std where the "
          f"true image is flat ({int(flat.sum())} voxels)\n")
    bright, dark = case.brain & (case.truth >= 0.9), case.brain & (case.truth < 0.3)
    print(f"| output | SSIM | SSIM, blur 0.5 | SSIM, blur 1 | grain | consistency | 1 - eta^2 | mean where true >= 0.9 "
          f"({case.truth[bright].mean():.3f}) | mean where true < 0.3 ({case.truth[dark].mean():.3f}) |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = [("input (as acquired, the source contrast)", case.image), ("the true image", case.truth)]
    rows += [(model, model_method(model, args)(case.degraded())) for model in args.models]
    for label, output in rows:
        scores = [mean_ssim(image, case.truth, case.brain) for image in
                  (output, blurred(output, 0.5), blurred(output, 1.0))]
        grain = float(local_std(output)[flat].mean())
        print(f"| {label} | " + " | ".join(f"{s:.3f}" for s in scores) +
              f" | {grain:.4f} | {consistency(case.image, output, case.brain):.4f}"
              f" | {consistency(case.image, output, case.brain, 'correlation_ratio'):.3f}"
              f" | {output[bright].mean():.3f} | {output[dark].mean():.3f} |")


if __name__ == "__main__":
    main()
