"""Super-resolution speed on this CPU: one slice through a model, median over repeats.

    .venv/bin/python benchmarks/sr_speed.py [--models sr-rrdb-x2 sr-rrdb-x4] [--threads 2] [--repeats 20]

For each model, two sizes: the slice that comes out at 256 x 256 (the input 256 / scale on a side: the bench's
protocol and the issue's "4x on a 256x256 slice"), and a 256 x 256 input (output 256 * scale). A real Colin27
slice, normalised; `mrigan.tasks.super_resolve.upscale` as `mrigan enhance` runs it, fp32, after two warm-up runs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def main() -> None:
    import torch
    from skimage.transform import resize

    from mrigan.bench.heldout import held_out_block
    from mrigan.checkpoint import load_model
    from mrigan.models_catalog import resolve_model
    from mrigan.tasks.super_resolve import upscale

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=["sr-rrdb-x2", "sr-rrdb-x4"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--readme", action="store_true", help="also write the table into the README")
    args = parser.parse_args()
    lines: list[str] = []
    torch.set_num_threads(args.threads)
    slice_ = held_out_block("colin27", n_slices=1).clean[:, :, 0]
    lines.append(f"torch {torch.__version__}, {args.threads} threads, fp32, median of {args.repeats} runs")
    lines.append("| model | parameters | input | output | median ms | p90 ms |")
    lines.append("|---|---|---|---|---|---|")
    for name in args.models:
        generator, card = load_model(resolve_model(name))
        generator.eval()
        scale = int(card["super_resolution"]["scale"])
        parameters = sum(p.numel() for p in generator.parameters())
        for side in (256 // scale, 256):
            image = resize(slice_, (side, side), order=1, anti_aliasing=True).astype(np.float32)
            times = []
            with torch.inference_mode():
                for repeat in range(args.repeats + 2):
                    start = time.perf_counter()
                    upscale(generator, card, image, batch_size=1)
                    if repeat >= 2:
                        times.append(1000 * (time.perf_counter() - start))
            p90 = sorted(times)[int(0.9 * (len(times) - 1))]
            lines.append(f"| {card.get('name', name)} | {parameters:,} | {side}x{side} | {side * scale}x{side * scale} | "
                  f"{statistics.median(times):.0f} | {p90:.0f} |")

    print("\n".join(lines))
    if args.readme:
        from README_tables import write_readme_section  # benchmarks/ is on sys.path when a script runs

        write_readme_section("sr:speed", "`python benchmarks/sr_speed.py`:\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
