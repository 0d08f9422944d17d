"""Intensity pre-processing: percentile clipping, robust min-max, N4 bias correction, foreground masks."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _reference_voxels(data: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    values = data[mask.astype(bool)] if mask is not None else data[data != 0]
    if values.size == 0:
        raise ValueError("no non-zero (or masked) voxels to take intensity statistics from")
    return values


def clip_percentiles(
    data: np.ndarray, low: float = 0.1, high: float = 99.9, *, mask: np.ndarray | None = None
) -> np.ndarray:
    """Clip to the `low` / `high` percentiles of the non-zero (or masked) voxels."""
    lo, hi = np.percentile(_reference_voxels(data, mask), [low, high])
    return np.clip(data, lo, hi).astype(np.float32)


def robust_minmax(
    data: np.ndarray,
    *,
    low: float = 0.1,
    high: float = 99.9,
    mask: np.ndarray | None = None,
    keep_zero: bool = True,
) -> np.ndarray:
    """Map the `low` / `high` percentiles of the non-zero (or masked) voxels to 0 / 1, clipping outside.

    Args:
        data: image or volume in any units.
        low, high: percentiles that become 0 and 1.
        mask: voxels to take the percentiles from; default the non-zero voxels.
        keep_zero: background voxels that were exactly 0 stay 0 (the low percentile maps to 0 anyway
            when `low` is small; this keeps a skull-stripped background clean).

    Returns:
        float32 array in [0, 1] with the input's shape.
    """
    lo, hi = np.percentile(_reference_voxels(data, mask), [low, high])
    scaled = np.clip((data - lo) / max(hi - lo, np.finfo(np.float32).eps), 0.0, 1.0)
    if keep_zero:
        scaled = np.where(data == 0, 0.0, scaled)
    return scaled.astype(np.float32)


def foreground_mask(data: np.ndarray, *, threshold: float | None = None) -> np.ndarray:
    """Head / brain foreground: Otsu threshold (or `threshold`), holes filled, largest component kept.

    Works on 2D and 3D arrays alike; returns a boolean array of the input's shape.
    """
    from skimage.filters import threshold_otsu

    if threshold is None:
        nonzero = data[data > 0]
        threshold = float(threshold_otsu(nonzero)) * 0.5 if nonzero.size else 0.0
    mask = data > threshold
    labels, count = ndimage.label(mask)
    if count > 1:
        sizes = ndimage.sum(mask, labels, index=range(1, count + 1))
        mask = labels == (int(np.argmax(sizes)) + 1)
    mask = ndimage.binary_closing(mask, iterations=2)
    return fill_holes(mask)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill enclosed holes in 3D and then in every slice along the last axis (ventricles, sulci)."""
    mask = ndimage.binary_fill_holes(mask)
    if mask.ndim == 3:
        for k in range(mask.shape[-1]):
            mask[..., k] = ndimage.binary_fill_holes(mask[..., k])
    return mask.astype(bool)


def n4_bias_correction(
    data: np.ndarray,
    spacing: tuple[float, ...],
    *,
    mask: np.ndarray | None = None,
    shrink_factor: int = 2,
    iterations: tuple[int, ...] = (50, 50, 30),
) -> tuple[np.ndarray, np.ndarray]:
    """N4 bias-field correction with SimpleITK.

    Args:
        data: 2D or 3D image (positive intensities).
        spacing: voxel size per data axis, in mm.
        mask: voxels to fit the field on; default an Otsu foreground.
        shrink_factor: fit on a grid this many times coarser (much faster, same field).
        iterations: fitting iterations per resolution level.

    Returns:
        (corrected image, estimated multiplicative bias field), both float32 of the input's shape.
    """
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.ascontiguousarray(data.T, dtype=np.float32))
    image.SetSpacing(tuple(float(s) for s in spacing))
    fit_mask = foreground_mask(data) if mask is None else mask.astype(bool)
    mask_image = sitk.GetImageFromArray(np.ascontiguousarray(fit_mask.T, dtype=np.uint8))
    mask_image.CopyInformation(image)
    small = sitk.Shrink(image, [shrink_factor] * image.GetDimension())
    small_mask = sitk.Shrink(mask_image, [shrink_factor] * image.GetDimension())
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations(list(iterations))
    corrector.Execute(small, small_mask)
    log_field = corrector.GetLogBiasFieldAsImage(image)
    field = np.exp(sitk.GetArrayFromImage(log_field).T).astype(np.float32)
    return (data / field).astype(np.float32), field
