"""Pre-processing: intensity normalisation, N4 bias correction, resampling, crop / pad / resize, masks."""

from mrigan.preprocess.geometry import center_crop_or_pad, resample_like, resample_to_spacing, resize
from mrigan.preprocess.intensity import (
    clip_percentiles,
    foreground_mask,
    n4_bias_correction,
    robust_minmax,
)

__all__ = [
    "center_crop_or_pad",
    "clip_percentiles",
    "foreground_mask",
    "n4_bias_correction",
    "resample_like",
    "resample_to_spacing",
    "resize",
    "robust_minmax",
]
