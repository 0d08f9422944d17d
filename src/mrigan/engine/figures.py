"""Training figures: sample triplets (input / output / target) and loss curves, drawn with matplotlib."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

MAX_ROWS = 4
MAX_CURVES = 16


def as_display_slices(images: Any) -> np.ndarray:
    """A batch of images as (N, H, W) for display.

    Shape:
        (H, W) -> one image; (N, H, W) as is; (N, C, H, W) -> first channel; (N, C, D, H, W) -> first channel,
        middle slice.
    """
    array = np.asarray(images.detach().float().cpu() if hasattr(images, "detach") else images, dtype=np.float32)
    if array.ndim == 2:
        return array[None]
    if array.ndim == 3:
        return array
    if array.ndim == 4:
        return array[:, 0]
    if array.ndim == 5:
        return array[:, 0, array.shape[2] // 2]
    raise ValueError(f"cannot display an array of shape {array.shape}")


def triplet_figure(images: Mapping[str, Any], title: str = "") -> Any:
    """A figure with one column per entry of `images` (e.g. input, output, target) and one row per sample.

    Each row shares one grey-level range across its columns, so output and target are comparable.
    """
    from matplotlib.figure import Figure

    columns = {name: as_display_slices(value) for name, value in images.items()}
    rows = min(MAX_ROWS, min(len(value) for value in columns.values()))
    header = 0.3 + (0.35 if title else 0.0)
    height = 2.0 * rows + header
    figure = Figure(figsize=(2.0 * len(columns), height))
    figure.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - header / height, wspace=0.05, hspace=0.05)
    axes = figure.subplots(rows, len(columns), squeeze=False)
    for row in range(rows):
        values = np.concatenate([column[row].ravel() for column in columns.values()])
        finite = values[np.isfinite(values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        for col, (name, column) in enumerate(columns.items()):
            axis = axes[row, col]
            axis.imshow(
                column[row], cmap="gray", vmin=low, vmax=high if high > low else low + 1, interpolation="nearest"
            )
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(name)
    if title:
        figure.suptitle(title)
    return figure


def loss_curves_figure(
    train: Mapping[str, tuple[Sequence[int], Sequence[float]]],
    validation: Mapping[str, tuple[Sequence[int], Sequence[float]]],
) -> Any:
    """One panel per metric: training values (and validation values of the same name) against step."""
    from matplotlib.figure import Figure

    names = list(dict.fromkeys([*train, *validation]))[:MAX_CURVES]
    count = max(1, len(names))
    columns = min(4, count)
    rows = (count + columns - 1) // columns
    figure = Figure(figsize=(3.4 * columns, 2.6 * rows))
    # a fixed layout: matplotlib's layout engines triple the drawing time, and this is drawn at every checkpoint
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.12 / rows, top=1 - 0.1 / rows, wspace=0.3, hspace=0.45)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for axis, name in zip(axes, names):
        for label, source, style in (("train", train, "-"), ("val", validation, "o-")):
            if name in source and len(source[name][0]):
                steps, values = source[name]
                axis.plot(steps, values, style, label=label, markersize=3, linewidth=1)
        axis.set_title(name, fontsize=9)
        axis.set_xlabel("step", fontsize=8)
        axis.tick_params(labelsize=7)
        if name in train and name in validation:
            axis.legend(fontsize=7)
    for axis in axes[len(names) :]:
        axis.set_visible(False)
    return figure


def save_figure(figure: Any, path: Path, dpi: int = 100) -> Path:
    """Save a matplotlib figure atomically as PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp.png", dir=path.parent)
    os.close(fd)
    try:
        figure.savefig(name, dpi=dpi, format="png")
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return path
