"""Random-forest super-resolution (RFSR, Shermeyer & Van Etten 2019), the non-deep baseline of seed 004.

The low-resolution image is interpolated onto the target grid with the bench's bicubic (B). Each pixel's
features are the differences B(p + d) - B(p) over the shifts d of a (2 r + 1)^2 neighbourhood ("shifted
stacks" minus the image itself; r = 2 as in seed 004), plus B(p); the target is the residual HR(p) - B(p).
A scikit-learn `RandomForestRegressor` (200 trees, depth 15 by default) learns the residual; the output is
B + the predicted residual.

Training pairs are made by the same physics as the bench's cases (`mrigan.data.sr_pairs.resolution_operator`,
anti-aliased decimation) from axial slices of the training anatomies (MNI152 and inia19, never Colin27). A
forest is fitted per in-plane scale, on first use (`fit` does it explicitly); a 3D input is interpolated in
3D, then corrected slice by slice along its last axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mrigan.baselines.base import Baseline
from mrigan.baselines.upsample import SplineUpsample, sampling_zoom
from mrigan.physics.base import Degraded

BACKGROUND_WEIGHT = 0.2
"""Chance of a background pixel to be drawn for training, relative to a head pixel."""

_FITTED: dict[tuple, Any] = {}
"""Forests fitted on the sample anatomies, by scale and settings (each is fitted once per process)."""


def shift_features(image: np.ndarray, radius: int = 2) -> np.ndarray:
    """Per-pixel features of a 2D image: B(p + d) - B(p) for every shift |d| <= radius (d != 0), and B(p).

    Returns:
        (H * W, (2 radius + 1)^2) float32; edges are extended by repetition.
    """
    height, width = image.shape
    padded = np.pad(image, radius, mode="edge")
    columns = [image]
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dy or dx:
                shifted = padded[radius + dy : radius + dy + height, radius + dx : radius + dx + width]
                columns.append(shifted - image)
    return np.stack(columns, axis=-1).reshape(height * width, -1).astype(np.float32)


def training_slices(samples: Sequence[str], per_subject: int, min_foreground: float = 0.2) -> list[np.ndarray]:
    """`per_subject` axial slices spread over the well-covered part of each sample anatomy, in [0, 1]."""
    from mrigan.data.subjects import subjects_from_samples

    slices = []
    for subject in subjects_from_samples(list(samples)):
        covered = np.nonzero(subject.brain.mean(axis=(0, 1)) >= min_foreground)[0]
        for k in covered[np.linspace(0, len(covered) - 1, per_subject).round().astype(int)]:
            slices.append(np.ascontiguousarray(subject.image[..., k]))
    return slices


class RFSR(Baseline):
    """Random-forest super-resolution on residuals of the bicubic image.

    Args:
        n_estimators: trees (seed 004: 200).
        max_depth: tree depth (seed 004: 15).
        radius: shift radius of the feature stack (seed 004: 2).
        max_features: features tried per split (scikit-learn meaning; 1/3 is the usual regression choice and
            keeps the default fit to well under a minute).
        max_samples: training pixels (drawn mostly from inside the heads, see `BACKGROUND_WEIGHT`).
        samples: anatomies to train on when the forest is fitted on first use.
        slices_per_subject: axial slices taken from each of them.
        n_jobs: scikit-learn workers (-1: all cores).
        seed: seeds the pixel draw and the forest.
    """

    name = "rfsr"
    task = "sr"
    per = "volume"
    slow = True

    def __init__(
        self, *, n_estimators: int = 200, max_depth: int = 15, radius: int = 2, max_features: float = 1 / 3,
        max_samples: int = 20_000, samples: Sequence[str] = ("mni152", "inia19"), slices_per_subject: int = 12,
        n_jobs: int = -1, seed: int = 0,
    ) -> None:
        self.n_estimators, self.max_depth, self.radius = n_estimators, max_depth, radius
        self.max_features, self.max_samples = max_features, max_samples
        self.samples, self.slices_per_subject = tuple(samples), slices_per_subject
        self.n_jobs, self.seed = n_jobs, seed
        self.forests: dict[int, Any] = {}

    def available(self) -> str | None:
        import importlib.util

        return None if importlib.util.find_spec("sklearn") else "scikit-learn not installed"

    def fit(self, slices: Sequence[np.ndarray], scale: int) -> RFSR:
        """Fit the forest of `scale` on clean 2D slices in [0, 1] (their low-resolution pairs are made here)."""
        from sklearn.ensemble import RandomForestRegressor

        from mrigan.data.sr_pairs import bicubic, resolution_operator

        operator = resolution_operator("decimate", scale)
        features, residuals, weights = [], [], []
        for clean in slices:
            upsampled = bicubic(operator(clean))
            features.append(shift_features(upsampled, self.radius))
            residuals.append((clean - upsampled).ravel())
            # mostly head pixels, some background, so that the forest leaves empty regions alone
            weights.append(np.where((clean > 0) | (upsampled > 0.01), 1.0, BACKGROUND_WEIGHT).ravel())
        x, y, p = np.concatenate(features), np.concatenate(residuals), np.concatenate(weights)
        rng = np.random.default_rng(self.seed)
        if len(y) > self.max_samples:
            keep = rng.choice(len(y), self.max_samples, replace=False, p=p / p.sum())
            x, y = x[keep], y[keep]
        forest = RandomForestRegressor(n_estimators=self.n_estimators, max_depth=self.max_depth,
                                       max_features=self.max_features, n_jobs=self.n_jobs, random_state=self.seed)
        self.forests[scale] = forest.fit(x, y)
        return self

    def restore(self, image: np.ndarray, degraded: Degraded) -> np.ndarray:
        zoom = sampling_zoom(degraded)[:2]
        scale = int(round(1.0 / zoom[0]))
        if not np.allclose(zoom, 1.0 / scale, atol=1e-3):
            raise ValueError(f"{self.name} needs the same whole in-plane factor on both axes, got zoom {zoom}")
        upsampled = SplineUpsample(order=3)(degraded)
        if scale == 1:
            return upsampled
        if scale not in self.forests:
            key = (scale, self.n_estimators, self.max_depth, self.radius, self.max_features, self.max_samples,
                   self.samples, self.slices_per_subject, self.seed)
            if key not in _FITTED:  # fitted once per process for the same settings
                _FITTED[key] = self.fit(training_slices(self.samples, self.slices_per_subject), scale).forests[scale]
            self.forests[scale] = _FITTED[key]
        forest = self.forests[scale]

        def correct(plane: np.ndarray) -> np.ndarray:
            return plane + forest.predict(shift_features(plane, self.radius)).reshape(plane.shape)

        return self.each_slice(correct, upsampled)
