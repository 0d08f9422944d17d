"""A trained model with the baselines' call shape, on the bench's [0, 1] data and on raw intensities."""

from __future__ import annotations

import numpy as np

from mrigan.baselines.base import Method
from mrigan.physics import Compose
from mrigan.physics.masks import SquareHole
from mrigan.physics.noise import GaussianNoise


def test_denoise_method_uses_the_sigma_map(enhancer, make_picker, block01):
    degraded = GaussianNoise(sigma=0.05, seed=0, reference=1.0)(block01)
    method = enhancer.as_method("denoise")
    assert isinstance(method, Method) and method.per == "slice" and method.available() is None
    assert method.name == "tiny-restore" and method.task == "denoise"
    restored = method(degraded)
    assert restored.shape == block01.shape and restored.dtype == np.float32 and np.isfinite(restored).all()
    # the sigma map reaches the network as it is (channel 2), no normalisation
    np.testing.assert_allclose(make_picker(2).as_method("denoise")(degraded), 0.05, rtol=1e-5)


def test_inpaint_method_keeps_known_pixels(enhancer, block01):
    degraded = Compose(SquareHole(size=12), GaussianNoise(sigma=0.0, reference=1.0))(block01)
    known = degraded.maps["mask"] > 0
    restored = enhancer.as_method("inpaint")(degraded)
    np.testing.assert_array_equal(restored[known], degraded.image[known])
    assert np.isfinite(restored[~known]).all()


def test_normalising_method_maps_back_to_the_input_units(enhancer, mni_block):
    data, _ = mni_block
    degraded = SquareHole(size=10)(data)
    known = degraded.maps["mask"] > 0
    restored = enhancer.as_method("inpaint", normalise=True)(degraded)
    np.testing.assert_array_equal(restored[known], data[known])
    assert restored[~known].max() > 1.5  # in the scan's units, not [0, 1]
