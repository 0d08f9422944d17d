from __future__ import annotations

import json

import numpy as np
import pytest

from mrigan.physics import BrushStrokes, Compose, RandomBoxes, RandomHole, SquareHole

HOLES = [
    SquareHole(size=16),
    RandomBoxes(n=3, min_size=6, max_size=20, seed=1),
    BrushStrokes(n_strokes=3, max_width=8, seed=1),
]


@pytest.mark.parametrize("operator", HOLES, ids=lambda op: op.name)
def test_mask_is_binary_and_holes_are_zero(operator, image):
    result = operator(image)
    mask = result.maps["mask"]
    assert mask.shape == image.shape and mask.dtype == np.float32
    assert set(np.unique(mask)) == {0.0, 1.0}
    assert np.all(result.image[mask == 0] == 0)
    np.testing.assert_array_equal(result.image[mask == 1], image[mask == 1])
    assert 0 < result.params[-1]["missing_fraction"] < 0.5
    json.dumps(result.params)


@pytest.mark.parametrize("operator", HOLES, ids=lambda op: op.name)
def test_2d_holes_cut_every_slice_of_a_volume(operator, t1_block):
    mask = operator(t1_block).maps["mask"]
    for z in range(1, t1_block.shape[2]):
        np.testing.assert_array_equal(mask[:, :, z], mask[:, :, 0])


def test_square_hole_has_exact_size_and_centre(image):
    mask = SquareHole(size=16, center=(30, 40))(image).maps["mask"]
    missing = np.argwhere(mask == 0)
    assert missing[:, 0].min() == 22 and missing[:, 0].max() == 37
    assert missing[:, 1].min() == 32 and missing[:, 1].max() == 47
    assert (mask == 0).sum() == 16 * 16 * (image.shape[2] if image.ndim == 3 else 1)


def test_square_hole_defaults_to_the_centre():
    mask = SquareHole(size=10)(np.ones((40, 50), np.float32)).maps["mask"]
    rows, columns = np.nonzero(mask == 0)
    assert (rows.min(), rows.max(), columns.min(), columns.max()) == (15, 24, 20, 29)


def test_square_hole_with_depth_is_a_cube(t1_block):
    mask = SquareHole(size=8, depth=4)(t1_block).maps["mask"]
    assert (mask == 0).sum() == 8 * 8 * 4
    touched = np.nonzero((mask == 0).any(axis=(0, 1)))[0]
    np.testing.assert_array_equal(touched, [6, 7, 8, 9])


@pytest.mark.parametrize("operator", [RandomBoxes, BrushStrokes])
def test_random_holes_follow_their_seed(operator, image):
    first = operator(seed=5)(image).maps["mask"]
    np.testing.assert_array_equal(first, operator(seed=5)(image).maps["mask"])
    assert not np.array_equal(first, operator(seed=6)(image).maps["mask"])


@pytest.mark.parametrize("operator", [RandomBoxes, BrushStrokes])
def test_volumetric_holes_vary_along_slices(operator, t1_block):
    mask = operator(seed=2, volumetric=True)(t1_block).maps["mask"]
    assert any(not np.array_equal(mask[:, :, z], mask[:, :, 0]) for z in range(t1_block.shape[2]))


def test_composed_masks_multiply(image):
    square, boxes = SquareHole(size=12), RandomBoxes(n=4, seed=3)
    combined = Compose(square, boxes)(image)
    np.testing.assert_array_equal(combined.maps["mask"], square(image).maps["mask"] * boxes(image).maps["mask"])
    assert [p["op"] for p in combined.params] == ["square_hole", "random_boxes"]


def test_brush_strokes_are_irregular():
    mask = BrushStrokes(n_strokes=2, max_width=10, seed=0)(np.ones((128, 128), np.float32)).maps["mask"]
    missing = mask == 0
    rows, columns = np.nonzero(missing)
    box_area = (np.ptp(rows) + 1) * (np.ptp(columns) + 1)
    assert missing.sum() < 0.7 * box_area  # strokes, not a filled rectangle


def test_random_hole_draws_every_kind_reproducibly():
    sampler = RandomHole()
    drawn = [sampler.sample(np.random.default_rng(seed)) for seed in range(30)]
    assert {type(op) for op in drawn} == {SquareHole, RandomBoxes, BrushStrokes}
    assert sampler.sample(np.random.default_rng(4)) == sampler.sample(np.random.default_rng(4))
