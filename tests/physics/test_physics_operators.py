"""Contract shared by every operator: Degraded records, JSON params, determinism, chaining."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mrigan.physics import (
    BiasField,
    BrushStrokes,
    Compose,
    Decimate,
    Degraded,
    GaussianNoise,
    Ghosting,
    KSpaceTruncation,
    Motion,
    RandomBoxes,
    RicianNoise,
    SquareHole,
    ThickSlices,
)

OPERATORS = [
    GaussianNoise(sigma=0.05, seed=1),
    RicianNoise(sigma=0.05, seed=1),
    SquareHole(size=10),
    RandomBoxes(n=2, seed=1),
    BrushStrokes(n_strokes=2, seed=1),
    KSpaceTruncation(factor=2),
    Decimate(factor=2),
    ThickSlices(factor=2),
    BiasField(seed=1),
    Motion(seed=1),
    Ghosting(),
]


@pytest.mark.parametrize("operator", OPERATORS, ids=lambda op: op.name)
def test_operator_contract(operator, image):
    original = image.copy()
    result = operator(image)
    assert isinstance(result, Degraded)
    assert result.image.dtype == np.float32 and np.all(np.isfinite(result.image))
    np.testing.assert_array_equal(image, original)  # the input is never modified
    assert result.source_shape == image.shape and len(result.zoom) == image.ndim
    assert [p["op"] for p in result.params] == [operator.name]
    json.dumps(result.params)
    for name, value in result.maps.items():
        assert value.shape == result.image.shape, name  # maps live on the current grid
    np.testing.assert_array_equal(result.image, operator(image).image)  # deterministic


def test_compose_order_matters_and_records_every_operator(image):
    noise, hole = GaussianNoise(sigma=0.05, seed=0), SquareHole(size=12)
    hole_last = Compose(noise, hole)(image)
    noise_last = Compose(hole, noise)(image)
    missing = hole_last.maps["mask"] == 0
    assert np.all(hole_last.image[missing] == 0)
    assert np.any(noise_last.image[missing] != 0)
    assert [p["op"] for p in hole_last.params] == ["gaussian_noise", "square_hole"]
    assert [p["op"] for p in noise_last.params] == ["square_hole", "gaussian_noise"]


def test_apply_continues_a_chain(image):
    first = Decimate(factor=2)(image)
    second = GaussianNoise(sigma=0.02, seed=0).apply(first)
    assert len(first.params) == 1 and len(second.params) == 2  # the earlier state is left alone
    assert second.zoom == first.zoom and second.source_shape == image.shape
    assert "sigma" not in first.maps and second.maps["sigma"].shape == first.image.shape
