"""The command line the translation diagnostics share: models, and one case of the `translate` suite to run them on."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def translation_case(doc: str, *, slices: int = 40, direction: str = "ab", sample: str | None = None,
                     add_arguments: Callable[[argparse.ArgumentParser], None] | None = None):
    """Parse `MODEL [MODEL ...] [--slices] [--direction ab|ba] [--sample] [--one-pass]` (and `add_arguments`').

    Returns (args, suite, case): the parsed arguments, the `translate` suite simulated on `--sample` (default the
    held-out colin27) and its T1w -> T2w (ab) or T2w -> T1w (ba) case.
    """
    import torch

    from mrigan.bench.translation import make_translation_suite

    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--slices", type=int, default=slices)
    parser.add_argument("--direction", choices=["ab", "ba"], default=direction, help="T1w -> T2w (ab) or T2w -> T1w")
    parser.add_argument("--sample", default=sample, help=f"anatomy (default: {sample or 'the held-out colin27'})")
    parser.add_argument("--one-pass", action="store_true",
                        help="run each model once per slice, even where its card asks for flip averaging")
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    suite = make_translation_suite("translate", n_slices=args.slices, sample=args.sample)
    return args, suite, suite.cases[0 if args.direction == "ab" else 1]


def model_method(model: str, args: argparse.Namespace):
    """A `TranslationModelMethod` for MODEL (a shipped name or a card), in one pass if `--one-pass` was given."""
    from mrigan.bench.translation_models import TranslationModelMethod

    return TranslationModelMethod.from_path(model, flip_average=False if args.one_pass else None)
