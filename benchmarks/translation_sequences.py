"""How a T1w -> T2w model copes with T1w scans of other sequences than the spin echo it trained on.

    .venv/bin/python benchmarks/translation_sequences.py MODEL [MODEL ...] [--sample mni152-tight] [--slices 12]
                                                         [--one-pass]

MODEL is a shipped model name or a model card of the T1w -> T2w direction. Each T1w input is the same anatomy
simulated with another sequence (spin echo at other TR / TE, spoiled gradient echo at 3 T, and the real Colin27's
own FLASH protocol at 1.5 T), all at the training scans' noise level, and the trained sequence with twice its
noise; every row is scored inside the brain against the same noise-free T2w spin echo. "CSF / WM" is the input's
mean where the true T2w is above 0.9 (CSF and its partial volumes) over its mean where the true T2w is below 0.45
(white matter): how dark the sequence renders CSF. The default anatomy is a training one whose central slices are
its validation slab, so this selects models without touching held-out Colin27.
"""

from __future__ import annotations

import dataclasses


def sequences(source):
    """(label, domain) pairs: `source`, T1w variants of other sequences at `source`'s noise level, and `source` with
    twice the noise."""
    from mrigan.bench.translation import COLIN27_T1W_PROTOCOL, with_sequence

    return [
        ("as trained", source),
        ("SE TR 400 TE 12", with_sequence(source, tr=400.0, te=12.0)),
        ("SE TR 700 TE 15", with_sequence(source, tr=700.0, te=15.0)),
        ("GRE 3 T (TR 20, TE 4, flip 25)", with_sequence(source, sequence="gre")),
        ("Colin27's FLASH (1.5 T, TR 18, TE 10, flip 30)", with_sequence(source, **COLIN27_T1W_PROTOCOL)),
        ("as trained, twice the noise",
         dataclasses.replace(source, snr=None if source.snr is None else source.snr / 2)),
    ]


def main() -> None:
    from mrigan.bench.translation import TranslationCase, simulated_block
    from mrigan.metrics import psnr, ssim
    from translation_case import model_method, translation_case  # benchmarks/ is on sys.path when a script runs

    args, _, case = translation_case(__doc__, slices=12, direction="ab", sample="mni152-tight")
    csf, wm = case.brain & (case.truth > 0.9), case.brain & (case.truth < 0.45)
    print(f"{args.sample}, {args.slices} central slices, T1w of each sequence -> {case.target.describe()}; "
          "inside the brain\n")
    print("| model | T1w input | CSF / WM | PSNR | SSIM |")
    print("|---|---|---|---|---|")
    for model in args.models:
        method = model_method(model, args)
        for label, domain in sequences(case.source):
            image = simulated_block(args.sample, domain, case.target, args.slices)[0]
            given = TranslationCase(case.name, image, case.truth, case.brain, domain, case.target,
                                    generators=((case.source, case.target),))
            output = method(given.degraded())
            ratio = image[csf].mean() / image[wm].mean()
            print(f"| {model} | {label} | {ratio:.2f} | {psnr(output, case.truth, data_range=1.0, mask=case.brain):.2f}"
                  f" | {ssim(output, case.truth, data_range=1.0, mask=case.brain):.3f} |")


if __name__ == "__main__":
    main()
