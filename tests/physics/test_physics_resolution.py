from __future__ import annotations

import json

import numpy as np
import pytest

from mrigan.physics import (
    Compose,
    Decimate,
    GaussianNoise,
    KSpaceTruncation,
    SquareHole,
    ThickSlices,
    resample_to_spacing,
)


@pytest.mark.parametrize("factor", [2, 4])
def test_decimate_shape_and_zoom(factor, image):
    result = Decimate(factor=factor)(image)
    expected = [n // factor for n in image.shape[:2]] + list(image.shape[2:])
    assert list(result.image.shape) == expected  # 3D: in-plane only
    assert result.zoom == (1 / factor, 1 / factor) + (1.0,) * (image.ndim - 2)
    assert result.source_shape == image.shape
    json.dumps(result.params)


def test_decimate_floors_odd_sizes_and_zoom_multiplies():
    odd = np.ones((33, 35, 9), np.float32)
    result = Compose(Decimate(factor=2, axes=(0, 1, 2)), Decimate(factor=2))(odd)
    assert result.image.shape == (8, 8, 4)
    assert result.zoom == (0.25, 0.25, 0.5)


def test_decimate_antialias_suppresses_aliasing():
    stripes = np.tile(np.array([0.0, 1.0], np.float32), (64, 32))  # the highest frequency along axis 1
    filtered = Decimate(factor=2)(stripes).image
    aliased = Decimate(factor=2, antialias=False)(stripes).image
    interior = filtered[:, 2:-2]  # away from the borders, where the filter replicates the edge
    assert np.ptp(interior) < 1e-6 and interior.mean() == pytest.approx(0.5, abs=1e-6)
    assert np.all(aliased == 1.0)


def test_decimate_resamples_maps(image):
    chain = Compose(
        GaussianNoise(sigma=0.05, seed=0, reference=1.0), SquareHole(size=9, center=(20, 20)), Decimate(factor=2)
    )
    result = chain(np.full(image.shape, 0.5, np.float32))
    mask = result.maps["mask"]
    assert mask.shape == result.image.shape and set(np.unique(mask)) == {0.0, 1.0}
    assert (mask == 0).sum() == 25 * (image.shape[2] if image.ndim == 3 else 1)  # any missing voxel -> missing
    known = result.image[mask == 1]
    assert np.std(known) == pytest.approx(float(result.maps["sigma"].mean()), rel=0.1)  # the map follows the noise


def test_kspace_truncation_keeps_shape_and_removes_high_frequencies(image):
    factor = 2.0
    result = KSpaceTruncation(factor=factor, magnitude=False)(image)
    assert result.image.shape == image.shape and result.zoom == (1.0,) * image.ndim
    power = np.abs(np.fft.fftn(result.image.astype(np.float64), axes=(0, 1))) ** 2
    high = np.zeros(image.shape[:2], bool)
    for axis in (0, 1):
        n = image.shape[axis]
        outside = np.abs(np.fft.fftfreq(n) * n) > n / (2 * factor)
        high |= outside[:, None] if axis == 0 else outside[None, :]
    high = high.reshape(high.shape + (1,) * (image.ndim - 2))
    assert power[np.broadcast_to(high, power.shape)].sum() < 1e-9 * power.sum()
    original = np.abs(np.fft.fftn(image.astype(np.float64), axes=(0, 1))) ** 2
    assert original[np.broadcast_to(high, power.shape)].sum() > 1e-3 * original.sum()


def test_kspace_truncation_magnitude_and_identity(image):
    blurred = KSpaceTruncation(factor=4)(image).image
    assert blurred.min() >= 0 and not np.allclose(blurred, image, atol=1e-2)
    np.testing.assert_allclose(KSpaceTruncation(factor=1)(image).image, image, atol=1e-5)


def test_kspace_truncation_scales_the_sigma_map():
    flat = GaussianNoise(sigma=0.05, seed=0, reference=1.0)(np.zeros((128, 128), np.float32))
    result = KSpaceTruncation(factor=2, magnitude=False).apply(flat)
    assert np.std(result.image) == pytest.approx(float(result.maps["sigma"].mean()), rel=0.05)


def test_thick_slices_average_groups(t1_block):
    result = ThickSlices(factor=3)(t1_block)
    groups = t1_block.shape[2] // 3
    assert result.image.shape == t1_block.shape[:2] + (groups,)
    np.testing.assert_allclose(result.image[:, :, 1], t1_block[:, :, 3:6].mean(axis=2), atol=1e-6)
    assert result.zoom == (1.0, 1.0, 1 / 3)


def test_thick_slices_on_2d_reduce_the_last_axis():
    rows = np.arange(12, dtype=np.float32)[None, :].repeat(4, axis=0)
    result = ThickSlices(factor=2)(rows)
    np.testing.assert_allclose(result.image[0], [0.5, 2.5, 4.5, 6.5, 8.5, 10.5])


def test_resample_to_spacing_halves_the_shape(image):
    spacing = (1.0,) * image.ndim
    half = resample_to_spacing(image, spacing, (2.0,) * image.ndim)
    assert half.shape == tuple(n // 2 for n in image.shape)
    assert half.mean() == pytest.approx(image.mean(), rel=0.05)


def test_bad_factors_are_refused():
    with pytest.raises(ValueError):
        Decimate(factor=1.5)
    with pytest.raises(ValueError):
        KSpaceTruncation(factor=0.5)
    with pytest.raises(ValueError):
        Decimate(factor=2, axes=(3,))(np.ones((8, 8), np.float32))
