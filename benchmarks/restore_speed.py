"""Restoration speed on this machine: one 256x256 slice, a whole 1 mm brain, and BM4D on the same data.

    python benchmarks/restore_speed.py [-m umr-gan-small] [--threads 2] [--repeats 20] [--no-bm4d]

Prints the median and spread of one slice's latency (the network pass with its 2.5D context and sigma map,
after warm-up), the wall time of `Enhancer.restore` on the whole Colin27 volume (181 x 217 x 181 voxels at
1 mm) and of BM4D on the same noisy volume. BM4D on a whole volume takes many minutes on 2 cores; with
`--bm4d-slices N` it runs on a centred block of N slices and the whole-volume time is extrapolated linearly
(stated in the output).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def slice_latency(enhancer, repeats: int) -> list[float]:
    """Seconds per call on one 256 x 256 slice (2D input: its 2.5D neighbours repeat the slice), batch 1."""
    rng = np.random.default_rng(0)
    stack = rng.random((256, 256), dtype=np.float32)
    times = []
    for i in range(repeats + 3):
        start = time.perf_counter()
        enhancer.restore_normalised(stack, mode="denoise", noise_sigma=0.05, batch_size=1)
        if i >= 3:  # warm-up: allocator and oneDNN kernel selection
            times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> None:
    import torch

    from mrigan.baselines import BASELINES
    from mrigan.physics.base import Degraded
    from mrigan.data.samples import load_sample
    from mrigan.inference import Enhancer
    from mrigan.physics import RicianNoise
    from mrigan.preprocess import robust_minmax

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-m", "--model", default="umr-gan-small")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--no-bm4d", action="store_true")
    parser.add_argument("--bm4d-slices", type=int, default=0, help="0: the whole volume")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    enhancer = Enhancer.from_path(args.model, device="cpu")
    times = slice_latency(enhancer, args.repeats)
    print(f"model {enhancer.name} (sha256 {str(enhancer.sha256)[:12]}), {args.threads} threads, torch "
          f"{torch.__version__}")
    print(f"one 256x256 slice: median {1000 * statistics.median(times):.1f} ms "
          f"(min {1000 * min(times):.1f}, max {1000 * max(times):.1f}, n={len(times)})")

    sample = load_sample("colin27")
    clean = robust_minmax(sample.t1.data)
    degraded = RicianNoise(sigma=0.05, seed=0, reference=1.0)(clean)
    noisy = degraded.image.astype(np.float32)
    start = time.perf_counter()
    enhancer.restore_normalised(noisy, mode="denoise", noise_sigma=0.05)
    model_seconds = time.perf_counter() - start
    print(f"whole Colin27 volume {clean.shape}: model {model_seconds:.1f} s")
    if args.no_bm4d:
        return
    block = degraded
    if args.bm4d_slices:
        k = noisy.shape[-1] // 2 - args.bm4d_slices // 2
        cut = (..., slice(k, k + args.bm4d_slices))
        block = Degraded(image=noisy[cut], maps={"sigma": degraded.maps["sigma"][cut]}, params=degraded.params,
                         source_shape=noisy[cut].shape, zoom=degraded.zoom)
    start = time.perf_counter()
    BASELINES["bm4d"]()(block)
    bm4d_seconds = (time.perf_counter() - start) * noisy.shape[-1] / block.image.shape[-1]
    how = "measured" if block is degraded else f"extrapolated from {block.image.shape[-1]} slices"
    print(f"BM4D on the same volume: {bm4d_seconds:.1f} s ({how}); model is {bm4d_seconds / model_seconds:.0f}x faster")


if __name__ == "__main__":
    main()
