"""Full-reference image quality metrics with an explicit data range and an optional mask.

Every metric takes `(pred, target)`: the restored image first, the clean reference second. 2D and 3D
arrays work everywhere except `ms_ssim` (2D only). `data_range` (the span of values the images may take,
1.0 for images scaled to [0, 1]) is keyword-only and has no default for PSNR and the SSIMs: guessing it from
the dtype or from the data is the most common way published PSNRs end up incomparable.

Masks are boolean arrays (or 0/1 numbers) of the images' shape; True marks the voxels that count. An empty
mask is an error rather than a NaN, so a bad brain mask cannot pass silently.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

NRMSE_NORMALIZATIONS = ("euclidean", "min-max", "mean")
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
"""Wang, Simoncelli & Bovik (2003), the five-scale weights pytorch-msssim uses too."""

_GAUSSIAN_SIGMA = 1.5
_GAUSSIAN_TRUNCATE = 3.5  # with sigma 1.5: an 11-tap window, as in Wang et al. (2004) and scikit-image


def _pair(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target differ in shape: {pred.shape} vs {target.shape}")
    return pred, target


def _check_range(data_range: float) -> float:
    data_range = float(data_range)
    if not np.isfinite(data_range) or data_range <= 0:
        raise ValueError(f"data_range must be a positive finite number, got {data_range}")
    return data_range


def as_mask(mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """Check a mask and return it as a boolean array (None stays None).

    Args:
        mask: boolean array, or numbers that are all 0 or 1, of the images' shape.
        shape: the images' shape.

    Returns:
        The mask as booleans.

    Raises:
        ValueError: wrong shape, values other than 0/1, or no True voxel at all.
    """
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != tuple(shape):
        raise ValueError(f"mask shape {mask.shape} differs from the image shape {tuple(shape)}")
    if mask.dtype != bool:
        if not np.isin(mask, (0, 1)).all():
            raise ValueError("a numeric mask must hold only 0 and 1")
        mask = mask.astype(bool)
    if not mask.any():
        raise ValueError("the mask is empty: no voxel to score")
    return mask


def _squared_error(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    pred, target = _pair(pred, target)
    mask = as_mask(mask, target.shape)
    error = (pred - target) ** 2
    return error if mask is None else error[mask]


def mse(pred: np.ndarray, target: np.ndarray, *, mask: np.ndarray | None = None) -> float:
    """Mean squared error, over the whole image or inside `mask`."""
    return float(np.mean(_squared_error(pred, target, mask)))


def mae(pred: np.ndarray, target: np.ndarray, *, mask: np.ndarray | None = None) -> float:
    """Mean absolute error, over the whole image or inside `mask`."""
    pred, target = _pair(pred, target)
    mask = as_mask(mask, target.shape)
    error = np.abs(pred - target)
    return float(np.mean(error if mask is None else error[mask]))


def psnr(
    pred: np.ndarray, target: np.ndarray, *, data_range: float, mask: np.ndarray | None = None
) -> float:
    """Peak signal-to-noise ratio in dB: `10 log10(data_range^2 / MSE)`.

    Args:
        pred: restored image.
        target: clean reference, same shape.
        data_range: span of possible values (1.0 for [0, 1] images). Required.
        mask: where to measure; the MSE is taken over the True voxels only.

    Returns:
        PSNR in dB; `inf` when the images are identical (inside the mask).
    """
    data_range = _check_range(data_range)
    error = mse(pred, target, mask=mask)
    if error == 0:
        return float("inf")
    return float(10 * np.log10(data_range**2 / error))


def nrmse(
    pred: np.ndarray,
    target: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    normalization: str = "euclidean",
) -> float:
    """Root mean squared error divided by a norm of the target, as `skimage.metrics.normalized_root_mse`.

    Args:
        pred: restored image.
        target: clean reference, same shape.
        mask: where to measure; both the error and the normaliser use the True voxels only.
        normalization: "euclidean" (RMS of the target), "min-max" (its range) or "mean" (its mean).

    Returns:
        The normalised RMSE (0 for identical images; inf if the normaliser is 0 and the images differ).
    """
    if normalization not in NRMSE_NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NRMSE_NORMALIZATIONS}, got {normalization!r}")
    pred, target = _pair(pred, target)
    mask = as_mask(mask, target.shape)
    if mask is not None:
        pred, target = pred[mask], target[mask]
    if normalization == "euclidean":
        denominator = np.sqrt(np.mean(target * target))
    elif normalization == "min-max":
        denominator = target.max() - target.min()
    else:
        denominator = target.mean()
    rmse = np.sqrt(np.mean((pred - target) ** 2))
    if rmse == 0:
        return 0.0
    with np.errstate(divide="ignore"):
        return float(rmse / denominator)


def ssim_map(
    pred: np.ndarray, target: np.ndarray, *, data_range: float, gaussian: bool = True
) -> tuple[np.ndarray, int]:
    """The local SSIM map and the width of the border scikit-image leaves out of its mean.

    Args:
        pred: restored image, 2D or 3D.
        target: clean reference, same shape.
        data_range: span of possible values. Required.
        gaussian: Wang et al. (2004) settings (11-tap Gaussian window, sigma 1.5, population covariance);
            False gives scikit-image's defaults (7-wide uniform window, sample covariance).

    Returns:
        (map, border): the SSIM map (float64, the images' shape) and the number of voxels at each edge
        whose filter window reaches past the image.
    """
    from skimage.metrics import structural_similarity

    data_range = _check_range(data_range)
    pred, target = _pair(pred, target)
    if gaussian:
        options = {"gaussian_weights": True, "sigma": _GAUSSIAN_SIGMA, "use_sample_covariance": False}
        win_size = 2 * int(_GAUSSIAN_TRUNCATE * _GAUSSIAN_SIGMA + 0.5) + 1
    else:
        options = {"gaussian_weights": False}
        win_size = 7
    if min(target.shape) < win_size:
        raise ValueError(f"SSIM needs at least {win_size} voxels along every axis, got shape {target.shape}")
    _, full_map = structural_similarity(pred, target, data_range=data_range, full=True, **options)
    return full_map, (win_size - 1) // 2


def ssim(
    pred: np.ndarray,
    target: np.ndarray,
    *,
    data_range: float,
    mask: np.ndarray | None = None,
    gaussian: bool = True,
) -> float:
    """Structural similarity (Wang et al. 2004) of 2D or 3D images, optionally inside a mask.

    Without a mask this is exactly `skimage.metrics.structural_similarity` with
    `gaussian_weights=True, sigma=1.5, use_sample_covariance=False` (or its defaults when `gaussian=False`).
    A masked SSIM is the mean of the same SSIM map over the mask's voxels. Like the unmasked mean, it
    leaves out the border (5 voxels for the Gaussian window) where the window reaches past the image, so an
    all-True mask gives the unmasked value.

    Args:
        pred: restored image.
        target: clean reference, same shape.
        data_range: span of possible values (1.0 for [0, 1] images). Required.
        mask: where to average the SSIM map.
        gaussian: Gaussian 11-tap window (True) or scikit-image's uniform 7-wide window (False).

    Returns:
        Mean SSIM, 1.0 for identical images.

    Raises:
        ValueError: an empty mask, or a mask that lies entirely inside the left-out border.
    """
    full_map, border = ssim_map(pred, target, data_range=data_range, gaussian=gaussian)
    return _mean_inside(full_map, border, as_mask(mask, full_map.shape))


def _mean_inside(full_map: np.ndarray, border: int, mask: np.ndarray | None) -> float:
    """Mean of an SSIM map without its border, over the mask's voxels when given."""
    inner = tuple(slice(border, size - border) for size in full_map.shape)
    if mask is None:
        return float(full_map[inner].mean(dtype=np.float64))
    if not mask[inner].any():
        raise ValueError(f"the mask lies entirely within the {border}-voxel image border SSIM leaves out")
    return float(full_map[inner][mask[inner]].mean(dtype=np.float64))


def ms_ssim(pred: np.ndarray, target: np.ndarray, *, data_range: float) -> float:
    """Multi-scale SSIM (Wang, Simoncelli & Bovik 2003) of 2D images, via pytorch-msssim.

    Five scales with the standard weights, an 11-tap Gaussian window (sigma 1.5), in float64. The four
    halvings need the shorter side to exceed 160 pixels; smaller images raise a ValueError instead of being
    scored with fewer, renormalised scales, since such numbers are not comparable with published MS-SSIM.

    Args:
        pred: restored 2D image.
        target: clean reference, same shape.
        data_range: span of possible values. Required.

    Returns:
        MS-SSIM in [0, 1]; 1.0 for identical images.
    """
    import torch
    from pytorch_msssim import ms_ssim as torch_ms_ssim

    data_range = _check_range(data_range)
    pred, target = _pair(pred, target)
    if target.ndim != 2:
        raise ValueError(f"ms_ssim takes 2D images, got shape {target.shape}; score 3D volumes slice by slice")
    smallest = 10 * 2 ** (len(MS_SSIM_WEIGHTS) - 1)
    if min(target.shape) <= smallest:
        raise ValueError(
            f"MS-SSIM with 5 scales needs both sides > {smallest} pixels, got shape {target.shape}; "
            "use ssim for smaller images"
        )
    as_tensor = lambda image: torch.from_numpy(np.ascontiguousarray(image))[None, None]  # noqa: E731
    # One thread: for a single slice, waking torch's thread pool costs more than it saves (0.01 s against
    # 1 s per call measured on a busy 2-core machine, e.g. under `pytest -n 2`).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        value = torch_ms_ssim(
            as_tensor(pred), as_tensor(target), data_range=data_range, weights=list(MS_SSIM_WEIGHTS)
        )
    finally:
        torch.set_num_threads(threads)
    return float(value)


def score(
    pred: np.ndarray,
    target: np.ndarray,
    *,
    data_range: float,
    masks: Mapping[str, np.ndarray | None],
) -> dict[str, float]:
    """PSNR, SSIM, NRMSE and MAE over the whole image and inside each named mask.

    Args:
        pred: restored image, 2D or 3D.
        target: clean reference, same shape.
        data_range: span of possible values. Required.
        masks: name -> mask; a None mask scores the whole image. The name "" gives plain keys ("psnr",
            ...), any other name suffixes them ("psnr_fg", "ssim_hole", ...). For example
            `{"": None, "fg": brain, "hole": 1 - known}`.

    Returns:
        A flat dict such as {"psnr": .., "ssim": .., "nrmse": .., "mae": .., "psnr_fg": .., ...}.
    """
    full_map, border = ssim_map(pred, target, data_range=data_range)  # computed once, averaged per mask
    scores: dict[str, float] = {}
    for name, mask in masks.items():
        suffix = f"_{name}" if name else ""
        mask = as_mask(mask, full_map.shape)
        scores[f"psnr{suffix}"] = psnr(pred, target, data_range=data_range, mask=mask)
        scores[f"ssim{suffix}"] = _mean_inside(full_map, border, mask)
        scores[f"nrmse{suffix}"] = nrmse(pred, target, mask=mask)
        scores[f"mae{suffix}"] = mae(pred, target, mask=mask)
    return scores
