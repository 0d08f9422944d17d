"""Zoomed insets of super-resolution on held-out Colin27: low-resolution input, baselines, models and the target.

    .venv/bin/python benchmarks/sr_insets.py [--models sr-rrdb-x2 sr-rrdb-x4] [--rfsr] [--out docs/sr-insets.png]

One central axial slice of Colin27 is reduced 2x and 4x by the bench's anti-aliased decimation; each row is one
scale: the input (nearest-neighbour, to show its pixels), bicubic, Lanczos, RFSR (with `--rfsr`: it trains its
forest first, minutes), every model of that scale, and the 1 mm target. Each panel is the whole slice with the
zoom box drawn, and the box enlarged beneath it with the PSNR inside the brain of that slice.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from mrigan.baselines import BASELINES
    from mrigan.bench.heldout import held_out_block
    from mrigan.bench.sr_models import SRModelMethod
    from mrigan.io.atomic import write_atomic
    from mrigan.metrics.image import psnr
    from mrigan.models_catalog import resolve_model
    from mrigan.physics import Decimate

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=["sr-rrdb-x2", "sr-rrdb-x4"])
    parser.add_argument("--rfsr", action="store_true", help="include the random-forest baseline (slow)")
    parser.add_argument("--box", type=int, nargs=4, default=[70, 110, 60, 100], metavar=("X0", "X1", "Y0", "Y1"))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "sr-insets.png")
    args = parser.parse_args()

    block = held_out_block("colin27", n_slices=1)
    clean, brain = block.clean, block.brain
    models = [SRModelMethod(resolve_model(name)) for name in args.models]
    for model in models:
        model.name = model.card.get("name") or model.name
    baselines = ["bicubic", "lanczos", *(["rfsr"] if args.rfsr else [])]
    rows = []
    for factor in (2, 4):
        degraded = Decimate(factor=factor, axes=(0, 1))(clean)
        nearest = np.repeat(np.repeat(degraded.image, factor, 0), factor, 1)
        nearest = np.pad(nearest, [(0, max(0, n - m)) for n, m in zip(clean.shape, nearest.shape)], mode="edge")
        panels = [(f"input ({factor}x smaller)", nearest[: clean.shape[0], : clean.shape[1]])]
        panels += [(name, BASELINES[name]()(degraded)) for name in baselines]
        panels += [(model.name, model(degraded)) for model in models if model.supports(degraded)]
        panels.append(("target (1 mm)", clean))
        rows.append(panels)
    x0, x1, y0, y1 = args.box
    columns = max(len(panels) for panels in rows)
    figure, axes = plt.subplots(2 * len(rows), columns, figsize=(2.3 * columns, 4.8 * len(rows)),
                                gridspec_kw={"height_ratios": [1.2, 1] * len(rows)}, squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for r, panels in enumerate(rows):
        for c, (name, image) in enumerate(panels):
            image = np.asarray(image)[:, :, 0]
            value = psnr(image, clean[:, :, 0], data_range=1.0, mask=brain[:, :, 0])
            whole, zoom = axes[2 * r, c], axes[2 * r + 1, c]
            whole.imshow(np.rot90(image), cmap="gray", vmin=0, vmax=1)
            height = image.shape[1]
            whole.add_patch(Rectangle((x0, height - y1), x1 - x0, y1 - y0, fill=False, color="yellow", lw=1))
            whole.set_title(name if "target" in name or "input" in name else f"{name}\n{value:.2f} dB", fontsize=9)
            zoom.imshow(np.rot90(image[x0:x1, y0:y1]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    figure.suptitle("Held-out Colin27, central axial slice: 2x (top) and 4x (bottom); PSNR inside the brain",
                    fontsize=10)
    figure.tight_layout()
    write_atomic(args.out, lambda path: figure.savefig(path, dpi=110, format="png"), overwrite=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
