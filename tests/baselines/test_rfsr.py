"""Random-forest super-resolution: residual learning on shifted stacks, fitted on training slices."""

from __future__ import annotations

import numpy as np
import pytest

from mrigan.baselines import BASELINES, RFSR
from mrigan.baselines.rfsr import shift_features
from mrigan.data.sr_pairs import bicubic, resolution_operator


@pytest.fixture(scope="module")
def forest(mni_volume) -> RFSR:
    """A tiny forest fitted at 2x on three axial MNI152 slices (seed 004's settings: 200 trees, depth 15)."""
    slices = [np.ascontiguousarray(mni_volume[..., k]) for k in (60, 75, 90)]
    return RFSR(n_estimators=8, max_depth=8, max_samples=5000, n_jobs=1).fit(slices, scale=2)


def _psnr_in(output: np.ndarray, clean: np.ndarray, inside: np.ndarray) -> float:
    return float(-10 * np.log10(np.mean((output - clean)[inside] ** 2)))


def test_rfsr_beats_bicubic_on_another_real_slice_at_2x(forest, mni_volume):
    clean = np.ascontiguousarray(mni_volume[..., 105])
    degraded = resolution_operator("decimate", 2)(clean)
    output = forest(degraded)
    inside = clean > 0.05
    assert output.shape == clean.shape
    assert _psnr_in(output, clean, inside) > _psnr_in(bicubic(degraded), clean, inside) + 1.0


def test_volumes_are_corrected_slice_by_slice(forest, clean_3d, degrade):
    degraded = degrade.block_average(clean_3d)
    output = forest(degraded)
    assert output.shape == clean_3d.shape and np.isfinite(output).all()
    single = forest(degrade.block_average(np.ascontiguousarray(clean_3d[..., 1])))
    np.testing.assert_allclose(output[..., 1], single, atol=1e-5)


def test_features_are_shift_differences_and_the_image():
    image = np.arange(30, dtype=np.float32).reshape(5, 6)
    features = shift_features(image, radius=1)
    assert features.shape == (30, 9)
    centre = 2 * 6 + 3  # pixel (2, 3)
    assert features[centre, 0] == image[2, 3]
    # shifts in row-major order: (-1, -1) first: the pixel up-left minus the pixel
    assert features[centre, 1] == image[1, 2] - image[2, 3]


def test_registered_with_the_seed_settings_and_left_out_of_quick_benches():
    method = BASELINES["rfsr"]()
    assert (method.n_estimators, method.max_depth, method.radius) == (200, 15, 2)
    assert method.task == "sr" and method.slow and "colin27" not in method.samples


def test_unequal_in_plane_factors_are_refused(forest, clean_2d, degrade):
    degraded = degrade.block_average(clean_2d, factor=2, axes=(0,))
    with pytest.raises(ValueError, match="same whole in-plane factor"):
        forest(degraded)
