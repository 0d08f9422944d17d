"""Figures made by code: input / output / target / difference map for every method."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def comparison_figure(
    clean: np.ndarray, outputs: dict[str, np.ndarray], path: Path, *, title: str = "", slice_index: int | None = None
) -> None:
    """Two rows per figure: each method's output (first the degraded input), then its signed error map.

    Args:
        clean: (X, Y, Z) target; the middle axial slice is shown unless `slice_index`.
        outputs: method name -> output of the same shape (the "noisy"/"nearest" rows show the input).
        path: PNG to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = clean.shape[-1] // 2 if slice_index is None else slice_index
    names = list(outputs)
    columns = len(names) + 1
    fig, axes = plt.subplots(2, columns, figsize=(2.2 * columns, 4.6), squeeze=False)
    view = lambda a: np.rot90(a[..., k])  # noqa: E731 - RAS axial slice shown with anterior up
    axes[0, 0].imshow(view(clean), cmap="gray", vmin=0, vmax=1)
    axes[0, 0].set_title("target", fontsize=9)
    axes[1, 0].axis("off")
    for i, name in enumerate(names, start=1):
        axes[0, i].imshow(view(outputs[name]), cmap="gray", vmin=0, vmax=1)
        axes[0, i].set_title(name, fontsize=9)
        difference = view(outputs[name] - clean)
        axes[1, i].imshow(difference, cmap="seismic", vmin=-0.2, vmax=0.2)
        axes[1, i].set_title("output - target", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
