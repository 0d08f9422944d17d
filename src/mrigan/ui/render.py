"""Display images: window / level, plane orientation, difference maps, the uncertainty overlay, the figure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mrigan.ui.pipeline import Outcome

#: Opacity of the uncertainty colour where the std reaches the top of its scale.
OVERLAY_ALPHA = 0.75


def auto_window(image: np.ndarray) -> tuple[float, float]:
    """(level, width) spanning the 0.5-99.5 percentiles of the non-zero pixels (all pixels when none is)."""
    values = np.asarray(image, np.float64)
    values = values[values != 0] if np.any(values != 0) else values.ravel()
    low, high = np.percentile(values, [0.5, 99.5]) if values.size else (0.0, 1.0)
    width = float(high - low) if high > low else 1.0
    return float(low + width / 2), width


def orient(plane: np.ndarray, orientation: str) -> np.ndarray:
    """Turn a plane for display: a volume's (x, y) plane with y up, a DICOM (columns, rows) plane as rows.

    Returns a C-contiguous array (image encoders refuse negative strides).
    """
    if orientation == "volume":
        return np.ascontiguousarray(np.rot90(plane))
    if orientation == "dicom":
        return np.ascontiguousarray(np.asarray(plane).T)
    return np.asarray(plane)


def unorient(shown: np.ndarray, orientation: str) -> np.ndarray:
    """The inverse of `orient`: a displayed plane (e.g. a painted mask) back on the data's grid."""
    if orientation == "volume":
        return np.rot90(shown, -1)
    if orientation == "dicom":
        return np.asarray(shown).T
    return np.asarray(shown)


def grey(plane: np.ndarray, level: float, width: float) -> np.ndarray:
    """uint8 display of a plane through the window (level, width)."""
    from mrigan.io.images import window_level

    return window_level(plane, level, max(float(width), 1e-6))


def colour(values: np.ndarray, colormap: str, low: float, high: float) -> np.ndarray:
    """(H, W, 3) uint8: `values` mapped onto a matplotlib colormap between `low` and `high`."""
    from matplotlib import colormaps

    scaled = np.clip((np.asarray(values, np.float64) - low) / max(high - low, 1e-12), 0.0, 1.0)
    return (colormaps[colormap](scaled)[..., :3] * 255).round().astype(np.uint8)


def symmetric_limit(values: np.ndarray) -> float:
    """The 99.5th percentile of |values| (a tiny positive number for an all-zero map)."""
    return max(float(np.percentile(np.abs(values), 99.5)), 1e-6)


def difference_rgb(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a - b on a blue (negative) - white - red (positive) scale, symmetric about 0."""
    difference = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    limit = symmetric_limit(difference)
    return colour(difference, "RdBu_r", -limit, limit)


def overlay_rgb(base: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """A uint8 grey image with `heat` (>= 0) laid over it in the "inferno" colours, more opaque where hotter."""
    limit = symmetric_limit(heat)
    alpha = (np.clip(np.asarray(heat, np.float64) / limit, 0.0, 1.0) * OVERLAY_ALPHA)[..., None]
    grey_rgb = np.repeat(np.asarray(base, np.float64)[..., None], 3, axis=-1)
    return ((1 - alpha) * grey_rgb + alpha * colour(heat, "inferno", 0.0, limit)).round().astype(np.uint8)


def resize_nearest(plane: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`plane` repeated onto `shape` (nearest neighbour), to compare a low-resolution input with its output."""
    plane = np.asarray(plane)
    rows = np.minimum((np.arange(shape[0]) * plane.shape[0] / shape[0]).astype(int), plane.shape[0] - 1)
    cols = np.minimum((np.arange(shape[1]) * plane.shape[1] / shape[1]).astype(int), plane.shape[1] - 1)
    return plane[np.ix_(rows, cols)]


@dataclass
class Panels:
    """The images of one result, as displayed (uint8 grey or RGB)."""

    input: np.ndarray
    output: np.ndarray
    difference: np.ndarray
    uncertainty: np.ndarray | None
    target: np.ndarray | None
    error: np.ndarray | None


def save_png(image: np.ndarray | None, path: Path) -> Path | None:
    """Write a display image as PNG (None stays None)."""
    from PIL import Image

    if image is None:
        return None
    Image.fromarray(np.ascontiguousarray(image)).save(path)
    return path


@dataclass
class Planes:
    """The shown plane of each map of a result, turned for display, in working units (what the page keeps)."""

    input: np.ndarray
    output: np.ndarray
    uncertainty: np.ndarray | None
    target: np.ndarray | None

    @classmethod
    def of(cls, outcome: Outcome) -> Planes:
        region = outcome.region

        def shown(array: np.ndarray | None) -> np.ndarray | None:
            return None if array is None else orient(region.plane(array), region.orientation)

        return cls(shown(outcome.shown_input), shown(outcome.output), shown(outcome.uncertainty),
                   shown(outcome.target))


def panels(planes: Planes, level: float, width: float) -> Panels:
    """The display images of a result through the window (level, width).

    The difference is output - input (what the method changed; for SR, against the input repeated onto the
    output's grid), the error output - target; the uncertainty is laid over the output.
    """
    output = grey(planes.output, level, width)
    target = planes.target
    return Panels(
        input=grey(planes.input, level, width), output=output,
        difference=difference_rgb(planes.output, resize_nearest(planes.input, planes.output.shape)),
        uncertainty=None if planes.uncertainty is None else overlay_rgb(output, planes.uncertainty),
        target=None if target is None else grey(target, level, width),
        error=None if target is None else difference_rgb(planes.output, target),
    )


def save_figure(outcome: Outcome, path: Path, level: float, width: float) -> Path:
    """A PNG figure of the result: input, output, difference, uncertainty and error, with metrics and notice."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import mrigan

    images = panels(Planes.of(outcome), level, width)
    shown = [("input (method's view)", images.input), ("output", images.output),
             ("output - input", images.difference)]
    shown += [(title, image) for title, image in (("uncertainty (std)", images.uncertainty),
                                                  ("target", images.target), ("output - target", images.error))
              if image is not None]
    figure, axes = plt.subplots(1, len(shown), figsize=(3.2 * len(shown), 3.8), squeeze=False)
    for axis, (title, image) in zip(axes[0], shown, strict=True):
        axis.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
        axis.set_title(title, fontsize=9)
        axis.axis("off")
    figure.suptitle(f"{outcome.scan.name} - {outcome.request.task} with {outcome.method['name']}: "
                    f"{format_metrics(outcome.metrics) or 'no target'}", fontsize=10)
    figure.text(0.5, 0.02, mrigan.RESEARCH_NOTICE, ha="center", fontsize=8, color="#a00")
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


def format_metrics(metrics: dict[str, float]) -> str:
    """"PSNR 31.20 dB, SSIM 0.912 (input: PSNR 26.02 dB, SSIM 0.601)", or "" without a target."""
    if not metrics:
        return ""
    text = f"PSNR {metrics['psnr']:.2f} dB, SSIM {metrics['ssim']:.3f}"
    if "input_psnr" in metrics:
        text += f" (input: PSNR {metrics['input_psnr']:.2f} dB, SSIM {metrics['input_ssim']:.3f})"
    return text
