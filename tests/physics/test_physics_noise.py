from __future__ import annotations

import json

import numpy as np
import pytest

from mrigan.physics import Compose, GaussianNoise, RandomNoise, RicianNoise, estimate_noise_sigma

NOISE = [GaussianNoise, RicianNoise]


@pytest.mark.parametrize("operator", NOISE)
def test_zero_sigma_is_identity(operator, image):
    result = operator(sigma=0.0, seed=3)(image)
    np.testing.assert_array_equal(result.image, image)
    assert result.image.dtype == np.float32
    np.testing.assert_array_equal(result.maps["sigma"], 0.0)


@pytest.mark.parametrize("operator", NOISE)
def test_same_seed_same_noise_other_seed_other_noise(operator, image):
    first = operator(sigma=0.05, seed=1)(image).image
    np.testing.assert_array_equal(first, operator(sigma=0.05, seed=1)(image).image)
    assert not np.array_equal(first, operator(sigma=0.05, seed=2)(image).image)


@pytest.mark.parametrize("shape", [(128, 128), (48, 48, 16)])
def test_gaussian_std_matches_sigma_on_constant_image(shape):
    constant = np.full(shape, 0.5, dtype=np.float32)
    result = GaussianNoise(sigma=0.04, seed=0, reference=1.0)(constant)
    assert result.params[-1]["sigma_abs"] == pytest.approx(0.04)
    assert np.std(result.image - constant) == pytest.approx(0.04, rel=0.05)
    np.testing.assert_allclose(result.maps["sigma"], 0.04, rtol=1e-6)


def test_sigma_is_a_fraction_of_the_image_maximum_in_any_units(image):
    scanner_units = image * 1000.0
    result = GaussianNoise(sigma=0.05, seed=0)(scanner_units)
    assert result.params[-1]["sigma_abs"] == pytest.approx(0.05 * scanner_units.max(), rel=1e-6)


@pytest.mark.parametrize("shape", [(128, 128), (48, 48, 16)])
def test_rician_background_bias_and_flat_region_std(shape):
    sigma = 0.05
    background = RicianNoise(sigma=sigma, seed=0, reference=1.0)(np.zeros(shape, np.float32)).image
    assert background.min() >= 0
    assert background.mean() == pytest.approx(sigma * np.sqrt(np.pi / 2), rel=0.05)
    bright = RicianNoise(sigma=sigma, seed=0, reference=1.0)(np.ones(shape, np.float32)).image
    assert bright.std() == pytest.approx(sigma, rel=0.05)  # high SNR: Rician is close to Gaussian


def test_sigma_maps_add_in_quadrature(image):
    chain = Compose(GaussianNoise(sigma=0.03, seed=0, reference=1.0), RicianNoise(sigma=0.04, seed=1, reference=1.0))
    np.testing.assert_allclose(chain(image).maps["sigma"], 0.05, rtol=1e-5)


def test_rician_estimate_on_real_slice_within_20_percent(axial_slice):
    result = RicianNoise(sigma=0.05, seed=0)(axial_slice)
    truth = result.params[-1]["sigma_abs"]
    assert estimate_noise_sigma(result.image) == pytest.approx(truth, rel=0.2)
    air = axial_slice == 0
    assert estimate_noise_sigma(result.image, mask=air) == pytest.approx(truth, rel=0.05)


def test_gaussian_estimate_on_real_slice_within_20_percent(axial_slice):
    result = GaussianNoise(sigma=0.05, seed=0)(axial_slice)
    truth = result.params[-1]["sigma_abs"]
    assert estimate_noise_sigma(result.image, kind="gaussian") == pytest.approx(truth, rel=0.2)


def test_rician_estimate_falls_back_without_background(t1_block):
    brain_only = t1_block[16:48, 20:68, 8]  # no air: PIESNO has nothing to work on
    result = RicianNoise(sigma=0.05, seed=0)(brain_only)
    assert estimate_noise_sigma(result.image) == pytest.approx(result.params[-1]["sigma_abs"], rel=0.5)


def test_random_noise_is_reproducible_and_in_range(image):
    sampler = RandomNoise(sigma=(0.02, 0.08))
    operators = [sampler.sample(np.random.default_rng(7)) for _ in range(2)]
    assert operators[0] == operators[1]
    drawn = [sampler.sample(np.random.default_rng(seed)) for seed in range(20)]
    assert {type(op) for op in drawn} == {GaussianNoise, RicianNoise}
    assert all(0.02 <= op.sigma <= 0.08 for op in drawn)
    json.dumps(drawn[0](image).params)


def test_negative_sigma_is_refused():
    with pytest.raises(ValueError):
        GaussianNoise(sigma=-0.1)
