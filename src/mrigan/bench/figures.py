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


def translation_figure(
    image: np.ndarray, outputs: dict[str, np.ndarray], truth: np.ndarray, path: Path, *, title: str = "",
    slice_index: int | None = None,
) -> None:
    """Input, each method's output and the target, and below them the difference generated - input (blue-red).

    As seed 004's figures: red where a method made the image brighter than its input, blue where darker; the
    last column's difference is the target's own (target - input), what a perfect translation would add. All
    difference maps share its symmetric colour scale (99.5th percentile of |target - input|; a method that changes
    more saturates), shown by a colour bar.

    Args:
        image: (X, Y, Z) input; the middle axial slice is shown unless `slice_index`.
        outputs: method name -> output of the same shape.
        truth: (X, Y, Z) noise-free target.
        path: PNG to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = image.shape[-1] // 2 if slice_index is None else slice_index
    view = lambda a: np.rot90(a[..., k])  # noqa: E731 - RAS axial slice shown with anterior up
    panels = [("input", image), *outputs.items(), ("target", truth)]
    scale = max(0.05, float(np.percentile(np.abs(view(truth) - view(image)), 99.5)))
    columns = len(panels)
    fig, axes = plt.subplots(2, columns, figsize=(2.2 * columns + 0.6, 4.8), squeeze=False)
    shown = None
    for i, (name, array) in enumerate(panels):
        axes[0, i].imshow(view(array), cmap="gray", vmin=0, vmax=1)
        axes[0, i].set_title(name, fontsize=9)
        if i > 0:
            shown = axes[1, i].imshow(view(array) - view(image), cmap="bwr", vmin=-scale, vmax=scale)
            axes[1, i].set_title(f"{'target' if i == columns - 1 else 'output'} - input", fontsize=8)
        else:
            axes[1, i].axis("off")
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.91, 1))
    if shown is not None:  # a colour bar of its own beside the difference row, so the columns stay aligned
        bottom, top = axes[1, -1].get_position().y0, axes[1, -1].get_position().y1
        fig.colorbar(shown, cax=fig.add_axes((0.92, bottom, 0.012, top - bottom)))
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
