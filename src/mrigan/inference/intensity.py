"""The intensity mapping between a scan's own units and the [0, 1] range a network was trained on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

#: What a model card without an "intensity" entry is taken to mean (the UMR-GAN training pre-processing).
DEFAULT_INTENSITY: dict[str, Any] = {"normalise": "robust_minmax", "low": 0.1, "high": 99.9}
NORMALISATIONS = ("robust_minmax",)


@dataclass(frozen=True)
class IntensityScaling:
    """Robust min-max: the `low` / `high` percentiles of the reference voxels become 0 / 1.

    `normalise` is `mrigan.preprocess.robust_minmax` (clipped to [0, 1], exact zeros kept at 0); `denormalise`
    is the inverse of its linear part, applied everywhere: values the normalisation clipped come back as
    the network gives them, mapped back to the input's units.

    Attributes:
        low_value: the input intensity that maps to 0.
        high_value: the input intensity that maps to 1.
        low: percentile of `low_value`.
        high: percentile of `high_value`.
    """

    low_value: float
    high_value: float
    low: float = 0.1
    high: float = 99.9

    @classmethod
    def fit(
        cls, data: np.ndarray, *, known: np.ndarray | None = None, low: float = 0.1, high: float = 99.9
    ) -> IntensityScaling:
        """Percentiles of the non-zero voxels (that are also `known`, when a mask is given).

        Raises:
            ValueError: there is no non-zero known voxel.
        """
        reference = data != 0
        if known is not None:
            reference &= np.asarray(known, dtype=bool)
        values = data[reference]
        if values.size == 0:
            raise ValueError("the image has no non-zero (known) voxels to take its intensity range from")
        low_value, high_value = (float(v) for v in np.percentile(values, [low, high]))
        return cls(low_value=low_value, high_value=high_value, low=low, high=high)

    @classmethod
    def from_card(cls, data: np.ndarray, intensity: Mapping[str, Any] | None, *, known: np.ndarray | None = None
                  ) -> IntensityScaling:
        """Fit the scaling a model card's "intensity" entry describes (default `DEFAULT_INTENSITY`)."""
        spec = {**DEFAULT_INTENSITY, **dict(intensity or {})}
        if spec["normalise"] not in NORMALISATIONS:
            raise ValueError(f"unknown intensity normalisation {spec['normalise']!r}; known: {NORMALISATIONS}")
        return cls.fit(data, known=known, low=float(spec["low"]), high=float(spec["high"]))

    @property
    def scale(self) -> float:
        """Input units per unit of the normalised range."""
        return max(self.high_value - self.low_value, float(np.finfo(np.float32).eps))

    def normalise(self, data: np.ndarray) -> np.ndarray:
        """Input units -> [0, 1] (clipped; exact zeros stay 0), float32."""
        scaled = np.clip((data - self.low_value) / self.scale, 0.0, 1.0)
        return np.where(data == 0, 0.0, scaled).astype(np.float32)

    def denormalise(self, data: np.ndarray, *, zero: np.ndarray | None = None) -> np.ndarray:
        """Normalised units -> input units (the linear inverse, no clipping), float32.

        Args:
            data: normalised values.
            zero: voxels that come back exactly 0 (the input's own zero background on the output's grid, see
                `zero_background`), as `normalise` kept them 0; without it, 0 comes back as `low_value`.
        """
        restored = self.low_value + np.asarray(data, dtype=np.float64) * self.scale
        if zero is not None:
            restored = np.where(zero, 0.0, restored)
        return restored.astype(np.float32)

    def describe(self) -> dict[str, Any]:
        """JSON-friendly record for provenance."""
        return {"normalise": "robust_minmax", "low": self.low, "high": self.high,
                "low_value": self.low_value, "high_value": self.high_value}


def zero_background(data: np.ndarray, *, known: np.ndarray | None = None, margin: int = 0) -> np.ndarray:
    """The voxels of an exactly-0 background (skull-stripped, masked or exported scans), to stay 0 in an output.

    Args:
        data: the input in its own units.
        known: 1 = known; unknown voxels (holes to fill) are never background.
        margin: keep only zeros this many voxels away from any non-zero voxel, for outputs on another grid
            whose edge voxels mix object and background.
    """
    zero = np.asarray(data) == 0
    if known is not None:
        zero &= np.asarray(known, dtype=bool)
    if margin > 0 and zero.any():
        from scipy.ndimage import binary_erosion

        zero = binary_erosion(zero, structure=np.ones((3,) * zero.ndim, dtype=bool), iterations=margin,
                              border_value=1)
    return zero
