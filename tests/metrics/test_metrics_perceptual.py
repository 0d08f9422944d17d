"""The LPIPS-style feature distance on a real slice: zero for the same image, growing with blur and noise,
blind to changes outside its mask, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from mrigan.metrics.perceptual import FeatureDistance


@pytest.fixture(scope="module")
def distance() -> FeatureDistance:
    return FeatureDistance()


def test_distance_grows_with_blur_and_noise(distance, mni_slice):
    rng = np.random.default_rng(0)
    assert distance(mni_slice, mni_slice) == 0.0
    blurred = [distance(ndimage.gaussian_filter(mni_slice, sigma), mni_slice) for sigma in (0.5, 1.0, 2.0)]
    noisy = [distance(mni_slice + rng.normal(0, std, mni_slice.shape), mni_slice) for std in (0.01, 0.03, 0.1)]
    assert 0 < blurred[0] < blurred[1] < blurred[2] <= 4
    assert 0 < noisy[0] < noisy[1] < noisy[2] <= 4
    assert distance.describe().startswith("mri_features.safetensors (sha256 ")


def test_mask_ignores_what_lies_far_outside_it(distance, mni_slice):
    mask = np.zeros(mni_slice.shape, dtype=bool)
    mask[60:140, 60:170] = True
    changed = mni_slice.copy()
    changed[:10] = 1.0  # rows 50+ voxels away from the mask: beyond the deepest stage's reach
    noisy = mni_slice + np.random.default_rng(1).normal(0, 0.03, mni_slice.shape)
    inside = distance(noisy, mni_slice, mask=mask)
    assert distance(np.where(np.arange(mni_slice.shape[0])[:, None] < 10, 1.0, noisy), mni_slice,
                    mask=mask) == pytest.approx(inside, rel=0.02)
    assert distance(changed, mni_slice, mask=mask) == pytest.approx(0.0, abs=1e-3)
    assert distance(changed, mni_slice) > 1e-3


def test_bad_shapes_and_empty_masks_are_refused(distance, mni_slice):
    with pytest.raises(ValueError, match="two 2D images of one shape"):
        distance(mni_slice, mni_slice[:-1])
    with pytest.raises(ValueError, match="mask shape"):
        distance(mni_slice, mni_slice, mask=np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="the mask is empty"):
        distance(mni_slice, mni_slice, mask=np.zeros(mni_slice.shape, bool))
