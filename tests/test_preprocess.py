"""Pre-processing on real scans: normalisation, N4, resampling, crop / pad, foreground masks."""

from __future__ import annotations

import numpy as np
import pytest

from mrigan.io.volume import Volume
from mrigan.preprocess import (
    center_crop_or_pad,
    clip_percentiles,
    foreground_mask,
    n4_bias_correction,
    resample_like,
    resample_to_spacing,
    resize,
    robust_minmax,
)


def test_robust_minmax_maps_percentiles_to_unit_range(mni_block):
    data, _ = mni_block
    scaled = robust_minmax(data)
    assert scaled.dtype == np.float32 and scaled.min() == 0.0 and scaled.max() == 1.0
    nonzero = data[data > 0]
    lo, hi = np.percentile(nonzero, [0.1, 99.9])
    inside = (data > lo) & (data < hi)
    np.testing.assert_allclose(scaled[inside], (data[inside] - lo) / (hi - lo), rtol=1e-5)
    assert np.all(scaled[data == 0] == 0)


def test_clip_percentiles(mni_block):
    data, _ = mni_block
    clipped = clip_percentiles(data, 1, 99)
    lo, hi = np.percentile(data[data != 0], [1, 99])
    assert clipped.min() >= lo - 1e-4 and clipped.max() <= hi + 1e-4


def test_n4_removes_a_smooth_bias_field(mni_block):
    data, _ = mni_block
    x, y = np.meshgrid(np.linspace(-1, 1, data.shape[0]), np.linspace(-1, 1, data.shape[1]), indexing="ij")
    bias = (1.0 + 0.3 * x + 0.2 * y)[..., None].astype(np.float32)
    biased = data * bias
    corrected, field = n4_bias_correction(biased, (1.0, 1.0, 1.0), mask=data > 30)
    brain = data > 30
    # the estimated field follows the true one (up to scale), and the correction undoes most of it
    assert np.corrcoef(field[brain], bias.repeat(data.shape[2], axis=2)[brain])[0, 1] > 0.9
    error_before = np.abs(biased / biased[brain].mean() - data / data[brain].mean())[brain].mean()
    error_after = np.abs(corrected / corrected[brain].mean() - data / data[brain].mean())[brain].mean()
    assert error_after < 0.5 * error_before


def test_resample_to_spacing_keeps_the_field_of_view(mni_block):
    data, affine = mni_block
    volume = Volume(data=data, affine=affine, source_format="nifti")
    coarse = resample_to_spacing(volume, 2.0)
    assert coarse.shape == (32, 32, 4)
    np.testing.assert_allclose(coarse.spacing, (2.0, 2.0, 2.0), atol=1e-6)
    corner = lambda v: v.affine[:3, :3] @ (-0.5 * np.ones(3)) + v.affine[:3, 3]  # noqa: E731
    np.testing.assert_allclose(corner(coarse), corner(volume), atol=1e-4)
    assert coarse.orientation == volume.orientation


def test_resample_like_on_the_same_grid_is_identity(mni_block):
    data, affine = mni_block
    volume = Volume(data=data, affine=affine, source_format="nifti")
    same = resample_like(volume, volume, interpolation="linear")
    np.testing.assert_allclose(same.data, data, atol=1e-3)


def test_crop_pad_and_resize():
    image = np.arange(35, dtype=np.float32).reshape(5, 7)
    padded = center_crop_or_pad(image, (8, 5))
    assert padded.shape == (8, 5)
    np.testing.assert_array_equal(padded[1:6], image[:, 1:6])
    np.testing.assert_array_equal(center_crop_or_pad(padded, (5, 5)), image[:, 1:6])
    assert resize(image, (10, 14)).shape == (10, 14)


@pytest.mark.mricron
def test_foreground_mask_covers_the_brain_of_a_head_scan():
    from mrigan.data.samples import load_sample

    colin = load_sample("colin27")
    head = foreground_mask(colin.t1.data)
    brain = colin.brain_mask
    assert (head & brain).sum() / brain.sum() > 0.99
    assert head.sum() > 1.3 * brain.sum()  # the scalp and skull are foreground too


def test_mni_sample_has_tissue_maps_and_mask():
    from mrigan.data.samples import load_sample

    mni = load_sample("mni152")
    assert set(mni.tissues) == {"gm", "wm", "csf"}
    total = mni.tissues["gm"] + mni.tissues["wm"] + mni.tissues["csf"]
    assert total.max() <= 1.0 + 1e-5
    assert np.all(total[~mni.brain_mask] < 1e-6)
    assert 0.15 < mni.brain_mask.mean() < 0.3
    assert mni.t1.spacing == pytest.approx((1.0, 1.0, 1.0))


@pytest.mark.mricron
@pytest.mark.parametrize("name", ["colin27", "colin27-hires", "inia19"])
def test_mricron_samples_load(name):
    from mrigan.data.samples import load_sample

    sample = load_sample(name)
    assert sample.brain_mask.shape == sample.t1.shape
    assert 0.05 < sample.brain_mask.mean() < 0.5
    assert sample.t1.orientation == ("R", "A", "S")
