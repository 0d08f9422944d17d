"""Interpolation back to the clean grid: nearest, cubic spline ("bicubic") and Lanczos-3.

Grid convention (that of `mrigan.physics.Decimate`): a low-resolution voxel is the average of a block of
1 / zoom source voxels, so its centre lies between theirs. Source voxel j is therefore sampled at
low-resolution coordinate (j + 0.5) * zoom - 0.5 along each axis ("pixel areas aligned", as
`skimage.transform.resize(..., anti_aliasing=False)` does when the sizes divide), and the output has exactly
`degraded.source_shape`. Using the recorded zoom rather than the ratio of sizes keeps the grid right when the
decimation dropped trailing voxels (197 -> 98 at factor 2); those last source voxels are extrapolated by
mirroring. An axis without a zoom record uses the ratio of sizes. Where nothing was reduced the input comes
back unchanged (k-space truncation keeps the grid, so there "zero-filled" input is the identity row).
"""

from __future__ import annotations

import numpy as np

from mrigan.baselines.base import Baseline, source_shape
from mrigan.physics.base import Degraded


def sampling_zoom(degraded: Degraded) -> tuple[float, ...]:
    """Per-axis zoom (low-resolution size / source size) to sample with: the recorded one, else the size ratio."""
    low, high = np.shape(degraded.image), source_shape(degraded)
    if len(low) != len(high):
        raise ValueError(f"image shape {low} and source shape {high} differ in dimension")
    if degraded.zoom is not None and len(degraded.zoom) == len(low):
        return tuple(float(z) for z in degraded.zoom)
    return tuple(n / m for n, m in zip(low, high))


class Upsampler(Baseline):
    """Shared plumbing: the target shape and zoom; identity when nothing was reduced."""

    task = "sr"
    per = "volume"

    def restore(self, image: np.ndarray, degraded: Degraded) -> np.ndarray:
        target = source_shape(degraded)
        if image.shape == target:
            return image
        return self.upsample(image, target, sampling_zoom(degraded))

    def upsample(
        self, image: np.ndarray, shape: tuple[int, ...], zoom: tuple[float, ...]
    ) -> np.ndarray:  # pragma: no cover - abstract
        """Resample `image` onto `shape`, source voxel j sitting at (j + 0.5) * zoom - 0.5."""
        raise NotImplementedError


class SplineUpsample(Upsampler):
    """Spline interpolation (`scipy.ndimage.affine_transform`) of order 0 ("nearest") or 3 ("bicubic").

    Order 3 is the cubic B-spline interpolant (with its prefilter) that `skimage.transform.resize(order=3)`
    uses, not Keys' cubic convolution. Edges are mirrored (scipy's "reflect": d c b a | a b c d).

    Args:
        order: spline order, 0 to 5.
        name: row name; default "nearest" for order 0, "bicubic" for 3, else "spline<order>".
    """

    def __init__(self, order: int = 3, name: str | None = None) -> None:
        self.order = order
        self.name = name or {0: "nearest", 3: "bicubic"}.get(order, f"spline{order}")

    def upsample(self, image: np.ndarray, shape: tuple[int, ...], zoom: tuple[float, ...]) -> np.ndarray:
        from scipy.ndimage import affine_transform

        scale = np.asarray(zoom, dtype=np.float64)
        return affine_transform(
            image.astype(np.float64), scale, offset=0.5 * scale - 0.5, output_shape=shape, order=self.order,
            mode="reflect",
        )


class Lanczos(Upsampler):
    """Lanczos-3 interpolation with Pillow (`Image.resize(LANCZOS)` on 32-bit float images), separably per axis.

    Pillow aligns pixel areas too; its `box` argument carries the exact zoom. A 3D volume is resized in plane
    slice by slice, then along the last axis plane by plane. Near the edges Pillow renormalises the clipped
    kernel.
    """

    name = "lanczos"

    def upsample(self, image: np.ndarray, shape: tuple[int, ...], zoom: tuple[float, ...]) -> np.ndarray:
        result = self.each_slice(lambda plane: _lanczos_2d(plane, shape[:2], zoom[:2]), image)
        if image.ndim == 3 and result.shape[2] != shape[2]:
            result = np.stack(
                [_lanczos_2d(result[i], (shape[1], shape[2]), (1.0, zoom[2])) for i in range(shape[0])]
            )
        return result


def _lanczos_2d(plane: np.ndarray, shape: tuple[int, ...], zoom: tuple[float, ...]) -> np.ndarray:
    """Resize a 2D float image to `shape` with Pillow's Lanczos filter; source extent = shape * zoom pixels."""
    from PIL import Image

    extent = [n * z for n, z in zip(shape, zoom)]
    # Pillow refuses a box past the image: mirror enough pixels to cover the extent first.
    pad = [max(0, int(np.ceil(e - n))) for e, n in zip(extent, plane.shape)]
    padded = np.pad(plane, [(0, p) for p in pad], mode="symmetric") if any(pad) else plane
    picture = Image.fromarray(np.ascontiguousarray(padded, dtype=np.float32))  # mode "F"
    if padded.shape == tuple(shape) and extent == list(padded.shape):
        return np.asarray(picture, dtype=np.float32)
    resized = picture.resize(
        (shape[1], shape[0]), Image.Resampling.LANCZOS, box=(0.0, 0.0, extent[1], extent[0])
    )
    return np.asarray(resized, dtype=np.float32)
