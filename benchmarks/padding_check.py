"""Why inference pads by mirroring: the shipped model with mirrored vs zero padding on the validation slab.

    python benchmarks/padding_check.py [-m umr-gan-small] [--sigma 0.03 0.05 0.09]

The slab is the central band of MNI152 that `mrigan train` holds out for validation (never Colin27). Rician
noise is added at each level; the table gives PSNR inside the brain for the noisy input and for the model with
slices padded by mirroring (what `Enhancer` does) and with zeros (what it did before).
"""

from __future__ import annotations

import argparse
import numpy as np


def main(argv: list[str] | None = None) -> None:
    from mrigan.data.samples import load_sample
    from mrigan.inference import Enhancer
    from mrigan.metrics import psnr
    from mrigan.physics import RicianNoise
    from mrigan.preprocess import robust_minmax

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-m", "--model", default="umr-gan-small")
    parser.add_argument("--sigma", type=float, nargs="+", default=[0.03, 0.05, 0.09])
    args = parser.parse_args(argv)
    model = Enhancer.from_path(args.model, device="cpu")
    sample = load_sample("mni152")
    brain_mask = sample.brain_mask > 0
    covered = np.nonzero(brain_mask.mean(axis=(0, 1)) >= 0.05)[0]
    centre = int(covered.mean())
    block = slice(centre - 4, centre + 4)
    clean, brain = robust_minmax(sample.t1.data)[..., block].astype(np.float32), brain_mask[..., block]
    print(f"model {model.name} (sha256 {str(model.sha256)[:12]}), MNI152 validation slab, PSNR inside the brain\n")
    print("| Rician sigma | noisy | mirrored padding | zero padding |\n|---|---|---|---|")
    for sigma in args.sigma:
        noisy = RicianNoise(sigma=sigma, seed=0, reference=1.0)(clean).image.astype(np.float32)
        outputs = {}
        for padding in ("reflect", "constant"):
            model.padding = padding
            outputs[padding] = model.restore_normalised(noisy, noise_sigma=sigma)[0]
        mirrored, zeros = outputs["reflect"], outputs["constant"]
        scores = [psnr(image, clean, data_range=1.0, mask=brain) for image in (noisy, mirrored, zeros)]
        print(f"| {sigma:.2f} | " + " | ".join(f"{score:.2f}" for score in scores) + " |")


if __name__ == "__main__":
    main()
