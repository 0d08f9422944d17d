"""Additive Gaussian and Rician (magnitude) noise, a sampler for both, and a noise-level estimator.

Noise levels are given as a fraction of a reference intensity, so one setting means the same thing for images
in [0, 1] and in scanner units: the absolute standard deviation is `sigma * reference`, where `reference`
defaults to the maximum of the image the operator is applied to (1.0 if that maximum is not positive). The
absolute value is recorded in the params as `sigma_abs` and in `maps["sigma"]`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mrigan.physics.base import Degraded, OperatorBase, seed_of

NOISE_KINDS = ("gaussian", "rician")


def reference_intensity(image: np.ndarray, reference: float | None) -> float:
    """The intensity a relative noise level refers to: `reference`, else the image maximum, else 1.0."""
    if reference is not None:
        return float(reference)
    peak = float(np.max(image)) if np.size(image) else 0.0
    return peak if np.isfinite(peak) and peak > 0 else 1.0


@dataclass
class _Noise(OperatorBase):
    sigma: float = 0.05
    seed: int = 0
    reference: float | None = None

    def __post_init__(self) -> None:
        if not np.isfinite(self.sigma) or self.sigma < 0:
            raise ValueError(f"noise sigma must be a finite fraction >= 0, got {self.sigma}")

    def _noisy(self, image: np.ndarray, sigma_abs: float, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def apply(self, state: Degraded) -> Degraded:
        image = state.image
        sigma_abs = self.sigma * reference_intensity(image, self.reference)
        if sigma_abs == 0:
            noisy = image.copy()
        else:
            noisy = self._noisy(image.astype(np.float64), sigma_abs, np.random.default_rng(self.seed))
        maps = dict(state.maps)
        previous = maps.get("sigma")
        if previous is None:
            maps["sigma"] = np.full(image.shape, sigma_abs, dtype=np.float32)
        else:  # independent noise: variances add
            maps["sigma"] = np.sqrt(previous.astype(np.float64) ** 2 + sigma_abs**2).astype(np.float32)
        return self.advance(state, noisy, maps=maps, sigma_abs=sigma_abs)


@dataclass
class GaussianNoise(_Noise):
    """Add zero-mean Gaussian noise.

    Args:
        sigma: standard deviation as a fraction of `reference`; 0 returns the image unchanged.
        seed: seed of the noise realisation.
        reference: intensity that `sigma` is a fraction of; None: the input image's maximum (1.0 if <= 0).
    """

    name = "gaussian_noise"

    def _noisy(self, image: np.ndarray, sigma_abs: float, rng: np.random.Generator) -> np.ndarray:
        return image + rng.normal(0.0, sigma_abs, size=image.shape)


@dataclass
class RicianNoise(_Noise):
    """Rician noise: the magnitude of the image plus complex Gaussian noise, |x + n_re + i n_im|.

    The output is non-negative; in the background (x = 0) it is Rayleigh distributed with mean
    sigma_abs * sqrt(pi / 2). `maps["sigma"]` holds the std of each Gaussian channel.

    Args:
        sigma: std of each channel as a fraction of `reference`; 0 returns the image unchanged.
        seed: seed of the noise realisation.
        reference: intensity that `sigma` is a fraction of; None: the input image's maximum (1.0 if <= 0).
    """

    name = "rician_noise"

    def _noisy(self, image: np.ndarray, sigma_abs: float, rng: np.random.Generator) -> np.ndarray:
        real = image + rng.normal(0.0, sigma_abs, size=image.shape)
        imaginary = rng.normal(0.0, sigma_abs, size=image.shape)
        return np.hypot(real, imaginary)


def make_noise(kind: str, sigma: float, seed: int = 0, reference: float | None = None) -> GaussianNoise | RicianNoise:
    """A noise operator by kind name ("gaussian" or "rician")."""
    if kind == "gaussian":
        return GaussianNoise(sigma=sigma, seed=seed, reference=reference)
    if kind == "rician":
        return RicianNoise(sigma=sigma, seed=seed, reference=reference)
    raise ValueError(f"unknown noise kind {kind!r}; expected one of {NOISE_KINDS}")


@dataclass
class RandomNoise:
    """Sampler: a noise kind drawn uniformly from `kind`, a level uniformly from the `sigma` range.

    Args:
        kind: kinds to choose from.
        sigma: (low, high) range of the relative noise level.
        reference: passed to the operator (None: the image maximum).
    """

    kind: tuple[str, ...] = NOISE_KINDS
    sigma: tuple[float, float] = (0.02, 0.08)
    reference: float | None = None

    def sample(self, rng: np.random.Generator) -> GaussianNoise | RicianNoise:
        """Draw one deterministic noise operator."""
        kind = str(self.kind[int(rng.integers(len(self.kind)))])
        level = float(rng.uniform(*self.sigma))
        return make_noise(kind, level, seed=seed_of(rng), reference=self.reference)


def estimate_noise_sigma(image: np.ndarray, mask: np.ndarray | None = None, *, kind: str = "rician") -> float:
    """Estimate the absolute noise standard deviation of an image.

    Args:
        image: 2D or 3D image.
        mask: optional background mask (True where there is no signal, only noise). With it, "gaussian" gives
            the std of those voxels and "rician" the Rayleigh estimate sqrt(mean(m^2) / 2).
        kind: "gaussian": without a mask, scikit-image's wavelet MAD estimate (`estimate_sigma`);
            "rician" (magnitude data): without a mask, dipy's PIESNO (N=1, Koay et al. 2009) finds the
            noise-only background itself, each 4x4 in-plane patch giving 16 samples; it needs a background
            that was not masked to zero. If PIESNO disagrees with the wavelet estimate by more than a factor
            of 2 (no usable background), the wavelet estimate is returned.

    Returns:
        The estimated sigma in the image's units (for Rician data: the std of each Gaussian channel).
    """
    data = np.asarray(image, dtype=np.float64)
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}; expected one of {NOISE_KINDS}")
    if mask is not None:
        values = data[np.asarray(mask, dtype=bool)]
        if values.size < 2:
            raise ValueError("the background mask selects fewer than 2 voxels")
        if kind == "gaussian":
            return float(values.std(ddof=1))
        return float(np.sqrt(np.mean(values**2) / 2.0))
    from skimage.restoration import estimate_sigma

    wavelet_sigma = float(estimate_sigma(data, channel_axis=None))
    if kind == "gaussian":
        return wavelet_sigma
    background_sigma = _piesno_on_patches(data)
    # PIESNO assumes a noise-only background; without one it locks onto a flat tissue and returns a level
    # far above the wavelet estimate, which is then the better answer.
    if wavelet_sigma > 0 and 0.5 <= background_sigma / wavelet_sigma <= 2.0:
        return background_sigma
    return wavelet_sigma


def _piesno_on_patches(data: np.ndarray, patch: int = 4) -> float:
    """dipy's PIESNO (N=1) with the voxels of each in-plane `patch` x `patch` block as its repetitions."""
    from dipy.denoise.noise_estimate import piesno

    volume = data[..., None] if data.ndim == 2 else data.reshape(data.shape[0], data.shape[1], -1)
    rows, columns = (volume.shape[0] // patch) * patch, (volume.shape[1] // patch) * patch
    if rows == 0 or columns == 0:
        return float("nan")
    slices = volume.shape[2]
    blocks = volume[:rows, :columns].reshape(rows // patch, patch, columns // patch, patch, slices)
    blocks = blocks.transpose(0, 2, 4, 1, 3).reshape(rows // patch, (columns // patch) * slices, patch * patch)
    return float(piesno(blocks, N=1, return_mask=False))
