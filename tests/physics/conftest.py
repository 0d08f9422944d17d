"""Real anatomy for the physics tests: the MNI152 (2009a) T1 template and its GM / WM maps shipped with nilearn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def _load(kind: str) -> np.ndarray:
    import nibabel as nib
    import nilearn

    path = Path(nilearn.__file__).parent / "datasets" / "data" / f"mni_icbm152_{kind}_tal_nlin_sym_09a_converted.nii.gz"
    return np.asarray(nib.load(path).dataobj, dtype=np.float32) / 255.0


@pytest.fixture(scope="session")
def mni() -> dict[str, np.ndarray]:
    """Whole 1 mm MNI152 volumes (197, 233, 189) in [0, 1]: "t1", "gm", "wm", and a filled "brain" mask."""
    from scipy.ndimage import binary_fill_holes

    volumes = {kind: _load(kind) for kind in ("t1", "gm", "wm")}
    volumes["brain"] = binary_fill_holes((volumes["gm"] + volumes["wm"]) > 0.3)
    return volumes


@pytest.fixture(scope="session")
def axial_slice(mni: dict[str, np.ndarray]) -> np.ndarray:
    """A full 1 mm axial T1 slice (197, 233) with its air background (about half of it)."""
    return mni["t1"][:, :, 80].copy()


@pytest.fixture(scope="session")
def t1_block(mni: dict[str, np.ndarray]) -> np.ndarray:
    """A small 2 mm T1 block (64, 88, 16) through the middle of the brain."""
    return np.ascontiguousarray(mni["t1"][30:158:2, 30:206:2, 56:88:2])


@pytest.fixture(params=["2d", "3d"])
def image(request: pytest.FixtureRequest, t1_block: np.ndarray) -> np.ndarray:
    """The T1 block (3D) or its middle slice (2D)."""
    return t1_block if request.param == "3d" else t1_block[:, :, t1_block.shape[2] // 2].copy()


def _tissues(mni: dict[str, np.ndarray], region: tuple[slice, ...]) -> dict[str, np.ndarray]:
    gm = mni["gm"][region]
    wm = mni["wm"][region]
    scale = np.maximum(1.0, gm + wm)  # the template maps overlap slightly: keep the sum at most 1
    gm, wm = gm / scale, wm / scale
    csf = np.clip(mni["brain"][region] - gm - wm, 0.0, 1.0)
    return {"csf": csf.astype(np.float32), "gm": gm.astype(np.float32), "wm": wm.astype(np.float32)}


@pytest.fixture(params=["2d", "3d"])
def tissues(request: pytest.FixtureRequest, mni: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """1 mm tissue probability maps: a (96, 120) axial slice or a (64, 80, 24) block, both with ventricles."""
    if request.param == "2d":
        return _tissues(mni, np.s_[50:146, 60:180, 80])
    return _tissues(mni, np.s_[66:130, 80:160, 68:92])
