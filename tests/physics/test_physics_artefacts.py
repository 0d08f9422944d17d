from __future__ import annotations

import json

import numpy as np
import pytest

from mrigan.physics import BiasField, Compose, GaussianNoise, Ghosting, Motion


def test_bias_field_is_smooth_positive_and_recorded(image):
    result = BiasField(strength=0.3, seed=1)(image)
    field = result.maps["bias"]
    assert field.shape == image.shape and field.min() > 0
    np.testing.assert_allclose(result.image, image * field, rtol=1e-5)
    assert np.abs(np.diff(field, axis=0)).max() < 0.1  # smooth: small voxel-to-voxel change
    assert len(result.params[-1]["coefficients_used"]) == 20  # order 3: 20 polynomial terms
    json.dumps(result.params)


def test_bias_field_follows_its_seed_and_coefficients(image):
    first = BiasField(seed=3)(image).image
    np.testing.assert_array_equal(first, BiasField(seed=3)(image).image)
    assert not np.array_equal(first, BiasField(seed=4)(image).image)
    flat = BiasField(coefficients=(0.0,) * 4, order=1)(image)
    np.testing.assert_allclose(flat.image, image, rtol=1e-6)


def test_bias_field_scales_the_sigma_map(image):
    result = Compose(GaussianNoise(sigma=0.05, seed=0, reference=1.0), BiasField(seed=0))(image)
    np.testing.assert_allclose(result.maps["sigma"], 0.05 * result.maps["bias"], rtol=1e-5)


def test_motion_is_deterministic_and_visible(image):
    moved = Motion(degrees=5, translation=4, seed=1)(image)
    assert moved.image.shape == image.shape and moved.image.dtype == np.float32
    np.testing.assert_array_equal(moved.image, Motion(degrees=5, translation=4, seed=1)(image).image)
    assert not np.array_equal(moved.image, Motion(degrees=5, translation=4, seed=2)(image).image)
    assert np.abs(moved.image - image).mean() > 0.01
    json.dumps(moved.params)


def test_motion_without_movement_is_identity(image):
    still = Motion(degrees=0, translation=0, seed=0)(image).image
    np.testing.assert_allclose(still, image, atol=1e-4)


@pytest.mark.parametrize("axis", [0, 1])
def test_ghosting(axis, image):
    ghosted = Ghosting(num_ghosts=4, axis=axis, intensity=0.7)(image)
    assert ghosted.image.shape == image.shape
    assert np.abs(ghosted.image - image).mean() > 1e-3
    np.testing.assert_array_equal(ghosted.image, Ghosting(num_ghosts=4, axis=axis, intensity=0.7)(image).image)
    np.testing.assert_allclose(Ghosting(intensity=0.0)(image).image, image, atol=1e-6)
