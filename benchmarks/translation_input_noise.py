"""Whether a translation model is calibrated for the noise of real scans: the same slices with more noise added.

    .venv/bin/python benchmarks/translation_input_noise.py MODEL [MODEL ...] [--direction ab|ba]
                                                           [--sample mni152-tight] [--slices 12] [--extra 0,0.05,0.1]

MODEL is a shipped model name or a model card. Each input (simulated at SNR 40: noise about 0.025 on the [0, 1]
scale) is translated as it is and with Gaussian noise of each `--extra` standard deviation added; the table gives
PSNR inside the brain and the output's mean where the true image is dark / middling / bright, beside the true
means. A CycleGAN trained with `loss.cycle_noise` learns to translate back translations carrying that much noise;
if its outputs get closer to the truth when noise is added, it is calibrated for the cycle's noise, not for scans.
The default anatomy is a training one (its central slices), so this diagnoses without touching held-out Colin27.
"""

from __future__ import annotations

import dataclasses

import numpy as np

LEVELS = ((0.0, 0.6), (0.6, 0.9), (0.9, 1.01))


def main() -> None:
    from mrigan.metrics import psnr
    from translation_case import model_method, translation_case  # benchmarks/ is on sys.path when a script runs

    args, _, case = translation_case(__doc__, slices=12, direction="ba", sample="mni152-tight", add_arguments=(
        lambda parser: parser.add_argument("--extra", default="0,0.05,0.1",
                                           help="comma-separated standard deviations of added noise")))
    brain, truth = case.brain, case.truth
    levels = [brain & (truth >= low) & (truth < high) for low, high in LEVELS]
    print(f"{args.sample}, {case.name}, {args.slices} central slices; inside the brain\n")
    print("| model | added noise | PSNR | " + " | ".join(
        f"mean where true in [{low:g}, {high:g}) ({truth[level].mean():.3f})"
        for (low, high), level in zip(LEVELS, levels, strict=True)) + " |")
    print("|---|---|---|" + "---|" * len(LEVELS))
    for model in args.models:
        method = model_method(model, args)
        for extra in (float(value) for value in args.extra.split(",")):
            rng = np.random.default_rng(0)
            noisy = (case.image + extra * rng.standard_normal(case.image.shape)).astype(np.float32)
            output = method(dataclasses.replace(case, image=noisy).degraded())
            score = psnr(output, truth, data_range=1.0, mask=brain)
            print(f"| {model} | {extra:g} | {score:.2f} | " + " | ".join(f"{output[level].mean():.3f}" for level in levels)
                  + " |")


if __name__ == "__main__":
    main()
