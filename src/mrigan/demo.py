"""`make demo`: restore a real held-out scan with the shipped model and show it beside the classical methods.

1. Colin27 (never seen in training) gets 5% Rician noise (`mrigan degrade`, seed 0).
2. The shipped restoration model restores the whole volume (`mrigan enhance`, with an uncertainty map).
3. A figure: noisy / restored / clean, the difference map and the uncertainty map, on an axial slice.
4. `mrigan bench denoise --quick`: the shipped model beside NLM and BM3D on the same seeded noise.

    python -m mrigan.demo [--out out/demo]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

DEMO_MODEL = "umr-gan-small"


def triplet_figure(noisy, restored, clean, uncertainty, path: Path, *, title: str) -> None:
    """Noisy, restored, clean, restored - clean and the uncertainty map of the middle axial slice."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = clean.shape[-1] // 2
    view = lambda a: np.rot90(a[..., k])  # noqa: E731 - RAS axial slice, anterior up
    vmax = float(np.percentile(clean, 99.5))
    panels = [("noisy (Rician 5%)", noisy, "gray", 0, vmax), ("restored", restored, "gray", 0, vmax),
              ("clean", clean, "gray", 0, vmax),
              ("restored - clean", restored - clean, "seismic", -0.15 * vmax, 0.15 * vmax)]
    if uncertainty is not None:
        panels.append(("uncertainty (std)", uncertainty, "magma", 0, float(np.percentile(uncertainty, 99.5)) or 1))
    fig, axes = plt.subplots(1, len(panels), figsize=(3 * len(panels), 3.6))
    for ax, (name, data, cmap, low, high) in zip(axes, panels):
        shown = ax.imshow(view(data), cmap=cmap, vmin=low, vmax=high)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if cmap != "gray":
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    from mrigan import io
    from mrigan.commands import run_bench, run_degrade, run_enhance
    from mrigan.data.samples import MRICRON_TEMPLATES, missing_reason
    from mrigan.models_catalog import list_models

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("out/demo"))
    args = parser.parse_args(argv)
    reason = missing_reason("colin27")
    if reason:
        print(f"demo needs the held-out Colin27 scan: {reason}")
        return 2
    shipped = {entry["name"]: entry for entry in list_models()}
    have_model = shipped.get(DEMO_MODEL, {}).get("present", False)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    clean_path = MRICRON_TEMPLATES / "ch2.nii.gz"
    noisy_path, restored_path = out / "colin27_rician5.nii.gz", out / "colin27_restored.nii.gz"
    for path in (noisy_path, restored_path):
        for stale in (path, Path(f"{path}.json"), path.with_name(path.name.replace(".nii.gz", "_uncertainty.nii.gz"))):
            stale.unlink(missing_ok=True)
    print(f"1. degrade: {clean_path} + Rician 5% -> {noisy_path}")
    run_degrade(clean_path, noisy_path, noise="rician:0.05", hole=None, downsample=None, seed=0)
    uncertainty = None
    if have_model:
        print(f"2. enhance: {DEMO_MODEL} restores the whole volume (with a test-time-augmentation uncertainty map)")
        start = time.perf_counter()
        run_enhance(noisy_path, restored_path, model=DEMO_MODEL, mode="denoise", uncertainty="tta", samples=4,
                    progress=True)
        print(f"   {time.perf_counter() - start:.1f} s for {io.read(noisy_path).shape} voxels -> {restored_path}")
        restored = io.read(restored_path).data
        uncertainty_path = restored_path.with_name("colin27_restored_uncertainty.nii.gz")
        uncertainty = io.read(uncertainty_path).data if uncertainty_path.exists() else None
    else:
        print(f"2. enhance: skipped, the shipped model {DEMO_MODEL} is not in models/")
        restored = io.read(noisy_path).data
    figure = out / "demo_restore.png"
    triplet_figure(io.read(noisy_path).data, restored, io.read(clean_path).data, uncertainty, figure,
                   title=f"held-out Colin27, Rician 5%: {DEMO_MODEL if have_model else 'no model'}")
    print(f"3. figure: {figure}")
    print("4. side by side on the same seeded noise:\n")
    run_bench("denoise", quick=True, methods=None, slices=None, out=out / "bench")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
