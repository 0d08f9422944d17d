"""Real MNI152 crops and hand-made `Degraded` records (numpy only, independent of mrigan.physics's operators)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from mrigan.baselines import BASELINES, HistogramMatch
from mrigan.physics.base import Degraded

NOISE = 0.05  # Rician, as a fraction of the image maximum (1.0)


@pytest.fixture(scope="session")
def mni_volume() -> np.ndarray:
    """The MNI152 2009a T1 template that ships with nilearn (197 x 233 x 189, 1 mm), float32 in [0, 1]."""
    nib = pytest.importorskip("nibabel")
    nilearn = pytest.importorskip("nilearn")
    path = Path(nilearn.__file__).parent / "datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
    if not path.exists():
        pytest.skip(f"nilearn's MNI152 template is missing: {path}")
    volume = np.asarray(nib.load(path).dataobj, dtype=np.float32)
    return volume / volume.max()


@pytest.fixture(scope="session")
def clean_2d(mni_volume: np.ndarray) -> np.ndarray:
    """A 97 x 91 crop of a mid-brain axial slice (odd sizes on purpose)."""
    return np.ascontiguousarray(mni_volume[50:147, 70:161, 95])


@pytest.fixture(scope="session")
def clean_3d(mni_volume: np.ndarray) -> np.ndarray:
    """A 49 x 45 x 2 block of two neighbouring axial slices (kept tiny: BM3D costs ~2 s a slice)."""
    return np.ascontiguousarray(mni_volume[74:123, 94:139, 95:97])


def rician(clean: np.ndarray, sigma: float = NOISE, seed: int = 0) -> Degraded:
    """Rician noise of std `sigma` per channel, with a "sigma" map and the operator recorded."""
    rng = np.random.default_rng(seed)
    noisy = np.sqrt((clean + rng.normal(0, sigma, clean.shape)) ** 2 + rng.normal(0, sigma, clean.shape) ** 2)
    return Degraded(
        image=noisy.astype(np.float32),
        maps={"sigma": np.full(clean.shape, sigma, np.float32)},
        params=[{"op": "rician_noise", "sigma": sigma, "seed": seed}],
        source_shape=clean.shape,
        zoom=(1.0,) * clean.ndim,
    )


def square_hole(clean: np.ndarray, size: int = 16) -> Degraded:
    """A zeroed square hole (all slices) in the middle of the image; "mask" is 1 known / 0 missing."""
    known = np.ones(clean.shape, np.float32)
    top, left = (clean.shape[0] - size) // 2, (clean.shape[1] - size) // 2
    known[top : top + size, left : left + size] = 0
    return Degraded(
        image=(clean * known).astype(np.float32),
        maps={"mask": known},
        params=[{"op": "square_hole", "size": size}],
        source_shape=clean.shape,
        zoom=(1.0,) * clean.ndim,
    )


def block_average(clean: np.ndarray, factor: int = 2, axes: tuple[int, ...] = (0, 1)) -> Degraded:
    """Average blocks of `factor` voxels along `axes`, dropping the trailing remainder (as `Decimate` does)."""
    from skimage.measure import block_reduce

    kept = tuple(slice(0, (n // factor) * factor) if a in axes else slice(None) for a, n in enumerate(clean.shape))
    block = tuple(factor if a in axes else 1 for a in range(clean.ndim))
    low = block_reduce(clean[kept], block, np.mean)
    return Degraded(
        image=low.astype(np.float32),
        params=[{"op": "decimate", "factor": factor, "axes": list(axes)}],
        source_shape=clean.shape,
        zoom=tuple(1.0 / factor if a in axes else 1.0 for a in range(clean.ndim)),
    )


def same_grid(clean: np.ndarray) -> Degraded:
    """An input for contrast translation: the T1 itself, on its own grid."""
    return Degraded(image=clean.astype(np.float32), source_shape=clean.shape, zoom=(1.0,) * clean.ndim)


DEGRADE_FOR_TASK: dict[str, Callable[[np.ndarray], Degraded]] = {
    "denoise": rician,
    "inpaint": square_hole,
    "sr": block_average,
    "translate": same_grid,
}


@pytest.fixture(scope="session")
def degrade() -> SimpleNamespace:
    """The degradations above, for tests: `degrade.rician(clean)`, `.square_hole`, `.block_average`."""
    return SimpleNamespace(rician=rician, square_hole=square_hole, block_average=block_average)


def make_method(name: str, reference: np.ndarray):
    """`BASELINES[name]()`, except histogram matching, which needs a reference of the target contrast."""
    if name == "histmatch":
        return HistogramMatch(reference)
    if name == "rfsr":  # the default 200-tree forest takes ~30 s to fit; the call shape needs no more than this
        from mrigan.baselines import RFSR

        return RFSR(n_estimators=8, max_depth=8, max_samples=5000)
    return BASELINES[name]()


@pytest.fixture(scope="session")
def t2_like(mni_volume: np.ndarray) -> np.ndarray:
    """A stand-in target contrast: another slice with a reshaped intensity curve (a different histogram)."""
    other = mni_volume[40:160, 50:170, 80]
    return (0.9 * other**2.5 + 0.05 * other).astype(np.float32)


@pytest.fixture(scope="session")
def run_method(clean_2d, clean_3d, t2_like):
    """Run a baseline on its task's degradation of the 2D or 3D crop, once per session.

    Returns:
        run(name, ndim) -> (clean, degraded, restored).
    """
    cache: dict[tuple[str, int], tuple[np.ndarray, Degraded, np.ndarray]] = {}

    def run(name: str, ndim: int) -> tuple[np.ndarray, Degraded, np.ndarray]:
        if (name, ndim) not in cache:
            method = make_method(name, t2_like)
            reason = method.available()
            if reason is not None:
                pytest.skip(f"{name}: {reason}")
            clean = clean_2d if ndim == 2 else clean_3d
            degraded = DEGRADE_FOR_TASK[method.task](clean)
            cache[name, ndim] = (clean, degraded, method(degraded))
        return cache[name, ndim]

    return run
