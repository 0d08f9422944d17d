"""Contrast translation by histogram matching: the floor any learned T1 -> T2 (or 7 T -> 9.4 T) model must beat."""

from __future__ import annotations

import numpy as np

from mrigan.baselines.base import Baseline, source_shape
from mrigan.physics.base import Degraded


class HistogramMatch(Baseline):
    """Map the input's intensities so that their histogram matches a reference image of the target contrast.

    Without a mask, the whole input is matched to the whole reference (`skimage.exposure.match_histograms`),
    which suits images with similar fields of view. With a mask (the reference's foreground), only the input's
    foreground is remapped onto the reference's masked histogram; the input's background (air is dark in every
    contrast) is left as it is. The input's foreground is `degraded.maps["fg"]` when given, else the voxels
    above its Otsu threshold.

    Args:
        reference: an image (any shape) in the target contrast, e.g. another subject's T2. None makes the
            method unavailable, so `BASELINES["histmatch"]()` can be listed without one.
        mask: boolean foreground of `reference`, same shape.
    """

    name = "histmatch"
    task = "translate"
    per = "volume"

    def __init__(self, reference: np.ndarray | None = None, mask: np.ndarray | None = None) -> None:
        self.reference = None if reference is None else np.asarray(reference, dtype=np.float32)
        self.mask = None
        if mask is not None:
            if self.reference is None or np.shape(mask) != self.reference.shape:
                raise ValueError("mask must have the reference's shape")
            self.mask = np.asarray(mask, dtype=bool)
            if not self.mask.any():
                raise ValueError("the reference mask is empty")

    def available(self) -> str | None:
        if self.reference is None:
            return "needs a reference image of the target contrast: HistogramMatch(reference=...)"
        return None

    def restore(self, image: np.ndarray, degraded: Degraded) -> np.ndarray:
        from skimage.exposure import match_histograms

        if image.shape != source_shape(degraded):
            raise ValueError(f"{self.name} keeps the grid: image {image.shape} vs source {source_shape(degraded)}")
        if self.mask is None:
            return match_histograms(image.ravel(), self.reference.ravel()).reshape(image.shape)
        foreground = degraded.maps.get("fg")
        if foreground is None:
            from skimage.filters import threshold_otsu

            foreground = image > threshold_otsu(image)
        foreground = np.asarray(foreground, dtype=bool)
        matched = image.copy()
        matched[foreground] = match_histograms(image[foreground], self.reference[self.mask])
        return matched
