"""Real slices for the metric tests: the MNI152 T1 template that ships with nilearn, scaled to [0, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def mni_volume() -> np.ndarray:
    """The MNI152 2009a T1 template (197 x 233 x 189, 1 mm), float64 in [0, 1]."""
    nib = pytest.importorskip("nibabel")
    nilearn = pytest.importorskip("nilearn")
    path = Path(nilearn.__file__).parent / "datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
    if not path.exists():
        pytest.skip(f"nilearn's MNI152 template is missing: {path}")
    volume = np.asarray(nib.load(path).dataobj, dtype=np.float64)
    return volume / volume.max()


@pytest.fixture(scope="session")
def mni_slice(mni_volume: np.ndarray) -> np.ndarray:
    """A mid-brain axial slice (197 x 233)."""
    return mni_volume[:, :, 95]


@pytest.fixture(scope="session")
def noisy_slice(mni_slice: np.ndarray) -> np.ndarray:
    """The slice with additive Gaussian noise of std 0.05 (seeded)."""
    return mni_slice + np.random.default_rng(0).normal(0.0, 0.05, mni_slice.shape)
