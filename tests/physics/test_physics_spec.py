from __future__ import annotations

import json

import numpy as np
import pytest

from mrigan.errors import UsageError
from mrigan.physics import (
    BrushStrokes,
    Compose,
    Decimate,
    GaussianNoise,
    KSpaceTruncation,
    RandomBoxes,
    RicianNoise,
    SquareHole,
    ThickSlices,
    build_degradation,
    parse_downsample,
    parse_hole,
    parse_noise,
)


def test_parse_noise():
    assert parse_noise("rician:0.05", seed=4) == RicianNoise(sigma=0.05, seed=4)
    assert parse_noise("Gaussian:3%") == GaussianNoise(sigma=0.03)


def test_parse_hole():
    assert parse_hole("square:32") == SquareHole(size=32)
    assert parse_hole("boxes:3", seed=2) == RandomBoxes(n=3, seed=2)
    assert parse_hole("boxes:3:4-40") == RandomBoxes(n=3, min_size=4, max_size=40)
    assert parse_hole("brush:5") == BrushStrokes(n_strokes=5)
    assert parse_hole("brush:5:16") == BrushStrokes(n_strokes=5, max_width=16)


def test_parse_downsample_acts_in_plane(t1_block):
    operator = parse_downsample("2")
    assert operator == Decimate(factor=2)
    assert operator(t1_block).image.shape == (32, 44, 16)
    assert operator(t1_block[:, :, 0]).image.shape == (32, 44)
    assert parse_downsample("kspace:4") == KSpaceTruncation(factor=4.0)
    assert parse_downsample("thick:3") == ThickSlices(factor=3)


@pytest.mark.parametrize(
    ("parser", "spec"),
    [
        (parse_noise, "rician"),
        (parse_noise, "poisson:0.1"),
        (parse_noise, "rician:abc"),
        (parse_noise, "gaussian:-0.1"),
        (parse_hole, "circle:3"),
        (parse_hole, "square:0"),
        (parse_hole, "boxes:3:40-4"),
        (parse_hole, "brush:x"),
        (parse_downsample, "1.5"),
        (parse_downsample, "0"),
        (parse_downsample, "bicubic:2"),
    ],
)
def test_bad_specs_raise_usage_errors_naming_them(parser, spec):
    with pytest.raises(UsageError) as caught:
        parser(spec)
    message = str(caught.value)
    assert repr(spec) in message and "expected" in message


def test_build_degradation_order_seeds_and_params(image):
    chain = build_degradation(noise="rician:0.05", hole="boxes:2", downsample="2", seed=0)
    assert [type(op) for op in chain.operators] == [Decimate, RicianNoise, RandomBoxes]
    assert chain.operators[1].seed != chain.operators[2].seed
    result = chain(image)
    assert [p["op"] for p in result.params] == ["decimate", "rician_noise", "random_boxes"]
    assert np.all(result.image[result.maps["mask"] == 0] == 0)
    json.dumps(result.params)
    json.dumps(chain.describe())
    np.testing.assert_array_equal(result.image, build_degradation("rician:0.05", "boxes:2", "2", seed=0)(image).image)
    assert not np.array_equal(result.image, build_degradation("rician:0.05", "boxes:2", "2", seed=1)(image).image)


def test_build_degradation_without_specs_is_identity(image):
    chain = build_degradation(noise="none", hole="")
    assert isinstance(chain, Compose) and chain.operators == []
    np.testing.assert_array_equal(chain(image).image, image)
