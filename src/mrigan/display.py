"""Display images of scans: window / level, plane orientation, difference maps and uncertainty overlays.

Plain numpy (matplotlib's colormaps for colour); shared by the web UI (`mrigan.ui.render`) and the export packs
(`mrigan.export`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

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


def save_png(image: np.ndarray | None, path: Path) -> Path | None:
    """Write a display image as PNG (None stays None)."""
    from PIL import Image

    if image is None:
        return None
    Image.fromarray(np.ascontiguousarray(image)).save(path)
    return path
