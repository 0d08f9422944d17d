"""Resolution loss: k-space truncation (blur on the same grid), anti-aliased decimation, thick slices.

Grid rules shared by `Decimate` and `ThickSlices`: along a reduced axis of n voxels the output has
floor(n / factor) voxels (the last n % factor input voxels are dropped), output voxel i stands for input
voxels [i * factor, (i + 1) * factor), so its centre lies at input index i * factor + (factor - 1) / 2, and
`state.zoom` is multiplied by 1 / factor there (zoom = old voxel size / new voxel size, the convention of
`mrigan.io.Volume.with_data`). Maps follow the image onto the new grid: "mask" by the block minimum (a coarse
voxel is known only if all of its fine voxels were), "sigma" by the block mean times the noise gain of the
filter (white noise is averaged down), any other map by the block mean.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mrigan.physics.base import IN_PLANE_AXES, Degraded, OperatorBase


def _axes(axes: Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    chosen = IN_PLANE_AXES if axes is None else tuple(axes)
    if any(not -ndim <= int(a) < ndim for a in chosen):
        raise ValueError(f"axes {tuple(chosen)} do not fit a {ndim}D image")
    return tuple(sorted({int(a) % ndim for a in chosen}))


def _integer_factor(factor: float) -> int:
    if float(factor) != int(factor) or int(factor) < 1:
        raise ValueError(f"the factor must be a whole number >= 1, got {factor}")
    return int(factor)


def _block_reduce(array: np.ndarray, axis: int, factor: int, reducer: Callable[..., np.ndarray]) -> np.ndarray:
    """Reduce consecutive groups of `factor` entries along `axis` (trailing remainder dropped)."""
    count = array.shape[axis] // factor
    if count == 0:
        raise ValueError(f"axis {axis} of size {array.shape[axis]} is smaller than the factor {factor}")
    cropped = np.take(array, np.arange(count * factor), axis=axis)
    grouped = cropped.reshape(array.shape[:axis] + (count, factor) + array.shape[axis + 1 :])
    return reducer(grouped, axis=axis + 1)


def _reduce_maps(maps: dict[str, np.ndarray], axis: int, factor: int, sigma_gain: float) -> dict[str, np.ndarray]:
    reduced = {}
    for key, value in maps.items():
        if key == "mask":
            reduced[key] = _block_reduce(value, axis, factor, np.min).astype(np.float32)
        elif key == "sigma":
            reduced[key] = (_block_reduce(value, axis, factor, np.mean) * sigma_gain).astype(np.float32)
        else:
            reduced[key] = _block_reduce(value, axis, factor, np.mean).astype(np.float32)
    return reduced


def _antialias_sigma(factor: float) -> float:
    """Gaussian pre-filter width in input voxels: (factor - 1) / 2, scikit-image's anti-aliasing default."""
    return max(0.0, (float(factor) - 1.0) / 2.0)


def _decimation_gain(factor: int, antialias: bool) -> float:
    """How much the std of white noise shrinks through one axis of `Decimate` (sqrt of sum of squared weights)."""
    if not antialias:
        return 1.0
    from scipy.ndimage import gaussian_filter1d

    sigma = _antialias_sigma(factor)
    half = int(4 * sigma + 1) + factor
    impulse = np.zeros(2 * half + 1)
    impulse[half] = 1.0
    weights = np.convolve(gaussian_filter1d(impulse, sigma, mode="constant"), np.ones(factor) / factor)
    return float(np.sqrt(np.sum(weights**2)))


@dataclass
class Decimate(OperatorBase):
    """Anti-aliased downsampling by a whole factor along some axes.

    With `antialias`, the image is smoothed with a Gaussian of sigma = (factor - 1) / 2 voxels and each block
    of `factor` voxels is averaged: the overall point-spread function has a FWHM of about `factor` input
    voxels, one output voxel. Without it, the voxel at offset factor // 2 of each block is kept (aliased).
    Output shape: floor(n / factor) along each reduced axis (see the module notes for the grid).

    Args:
        factor: whole reduction factor (2 or 4 in practice).
        axes: axes to reduce; None: the in-plane axes (0, 1), i.e. both axes of a 2D image.
        antialias: pre-filter and average (True) or subsample (False).
    """

    factor: int = 2
    axes: tuple[int, ...] | None = None
    antialias: bool = True
    name = "decimate"

    def __post_init__(self) -> None:
        self.factor = _integer_factor(self.factor)

    def apply(self, state: Degraded) -> Degraded:
        from scipy.ndimage import gaussian_filter

        image = state.image
        axes = _axes(self.axes, image.ndim)
        factor = self.factor
        if self.antialias and factor > 1:
            sigmas = [_antialias_sigma(factor) if axis in axes else 0.0 for axis in range(image.ndim)]
            image = gaussian_filter(image.astype(np.float64), sigmas, mode="nearest")
        maps = dict(state.maps)
        gain = _decimation_gain(factor, self.antialias)
        for axis in axes:
            if self.antialias:
                image = _block_reduce(image, axis, factor, np.mean)
            else:
                count = image.shape[axis] // factor
                image = np.take(image, np.arange(count) * factor + factor // 2, axis=axis)
            maps = _reduce_maps(maps, axis, factor, gain)
        zoom = tuple(1.0 / factor if axis in axes else 1.0 for axis in range(image.ndim))
        return self.advance(state, image, maps=maps, zoom=zoom)


@dataclass
class ThickSlices(OperatorBase):
    """Thick-slice (anisotropic) acquisition: average each group of `factor` slices along `axis`.

    Output has floor(n / factor) slices; zoom along `axis` is multiplied by 1 / factor.

    Args:
        factor: number of thin slices per thick slice.
        axis: slice axis (default: the last one).
    """

    factor: int = 2
    axis: int = -1
    name = "thick_slices"

    def __post_init__(self) -> None:
        self.factor = _integer_factor(self.factor)

    def apply(self, state: Degraded) -> Degraded:
        image = state.image
        axis = _axes((self.axis,), image.ndim)[0]
        thick = _block_reduce(image.astype(np.float64), axis, self.factor, np.mean)
        maps = _reduce_maps(state.maps, axis, self.factor, 1.0 / np.sqrt(self.factor))
        zoom = tuple(1.0 / self.factor if a == axis else 1.0 for a in range(image.ndim))
        return self.advance(state, thick, maps=maps, zoom=zoom)


@dataclass
class KSpaceTruncation(OperatorBase):
    """Keep only the central 1 / factor of k-space along `axes`, zero-fill the rest: blur on the same grid.

    Along an axis of n samples, the kept frequencies are the integer indices k with |k| <= n / (2 * factor)
    (a symmetric band, so a real image stays real before the magnitude is taken). Models a low-resolution
    acquisition reconstructed by zero-filling, as scanners do; Gibbs ringing included.

    Args:
        factor: k-space reduction factor (>= 1; 1 keeps everything).
        axes: axes to truncate; None: the in-plane axes (0, 1).
        magnitude: return |ifft| as a magnitude image would be (True) or the real part (False).
    """

    factor: float = 2.0
    axes: tuple[int, ...] | None = None
    magnitude: bool = True
    name = "kspace_truncation"

    def __post_init__(self) -> None:
        if not float(self.factor) >= 1.0:
            raise ValueError(f"the k-space factor must be >= 1, got {self.factor}")

    def apply(self, state: Degraded) -> Degraded:
        image = state.image
        axes = _axes(self.axes, image.ndim)
        spectrum = np.fft.fftn(image.astype(np.float64), axes=axes)
        kept_fraction = 1.0
        for axis in axes:
            n = image.shape[axis]
            keep = np.abs(np.fft.fftfreq(n) * n) <= n / (2.0 * self.factor)
            kept_fraction *= keep.sum() / n
            shape = [1] * image.ndim
            shape[axis] = n
            spectrum = spectrum * keep.reshape(shape)
        restored = np.fft.ifftn(spectrum, axes=axes)
        blurred = np.abs(restored) if self.magnitude else restored.real
        maps = dict(state.maps)
        if "sigma" in maps:  # white noise keeps only the retained share of its power
            maps["sigma"] = (maps["sigma"] * np.sqrt(kept_fraction)).astype(np.float32)
        return self.advance(state, blurred, maps=maps, kept_fraction=kept_fraction)


def resample_to_spacing(
    image: np.ndarray,
    spacing: Sequence[float],
    new_spacing: Sequence[float],
    *,
    order: int = 1,
    antialias: bool = True,
) -> np.ndarray:
    """Resample an image to another voxel size, keeping the corner of the field of view.

    Along an axis of n voxels of size s, the output has max(1, round(n * s / v)) voxels of size v; output
    voxel i is centred on input index (i + 0.5) * v / s - 0.5. When v > s and `antialias` is set, a Gaussian
    of sigma = (v / s - 1) / 2 input voxels is applied first.

    Args:
        image: 2D or 3D array.
        spacing: current voxel size per axis (mm).
        new_spacing: wanted voxel size per axis (mm).
        order: spline order of the interpolation (1: linear).
        antialias: smooth before reducing resolution.

    Returns:
        The resampled float32 array.
    """
    from scipy.ndimage import affine_transform, gaussian_filter

    data = np.asarray(image, dtype=np.float64)
    ratios = np.asarray(new_spacing, dtype=float) / np.asarray(spacing, dtype=float)
    if ratios.shape != (data.ndim,):
        raise ValueError(f"need one spacing per axis for shape {data.shape}")
    if np.allclose(ratios, 1.0):
        return data.astype(np.float32)
    if antialias and np.any(ratios > 1):
        data = gaussian_filter(data, [_antialias_sigma(r) for r in ratios], mode="nearest")
    shape = tuple(max(1, int(np.floor(n / r + 0.5))) for n, r in zip(data.shape, ratios, strict=True))
    resampled = affine_transform(
        data, ratios, offset=0.5 * ratios - 0.5, output_shape=shape, order=order, mode="nearest"
    )
    return resampled.astype(np.float32)
