"""Super-resolution pairs: exact physics, seeded, augmented; the seed-001 figshare crop protocol."""

from __future__ import annotations

import numpy as np
import pytest

from mrigan.data.sr_pairs import (
    AugmentConfig,
    DegradationConfig,
    SRPairDataset,
    bicubic,
    figshare_subjects,
    resolution_operator,
)
from mrigan.data.subjects import subject_from_array, split_subjects


@pytest.fixture(scope="module")
def subjects(mni_block):
    """Two real MNI152 blocks (64 x 64 x 8) as subjects."""
    data, _ = mni_block
    return [subject_from_array("a", data), subject_from_array("b", data[::-1].copy())]


@pytest.mark.parametrize("kind", ["decimate", "kspace"])
@pytest.mark.parametrize("scale", [2, 4])
def test_low_res_is_the_physics_operator_of_the_target(subjects, kind, scale):
    dataset = SRPairDataset(subjects, scale=scale, size=32, degradation=DegradationConfig(kinds=(kind,)),
                            augment=AugmentConfig(probability=1.0), seed=3)
    item = dataset[5]
    target = item["target"][0]
    assert item["input"].shape == (1, 32 // scale, 32 // scale) and target.shape == (32, 32)
    degraded = resolution_operator(kind, scale)(target)
    np.testing.assert_array_equal(item["input"][0], degraded.image)
    np.testing.assert_allclose(item["bicubic"][0], bicubic(degraded), atol=1e-6)
    assert 0.0 <= target.min() and target.max() <= 1.0 and target.std() > 0.05


def test_upsampled_input_is_the_bench_bicubic_on_the_target_grid(subjects):
    from mrigan.baselines import SplineUpsample

    dataset = SRPairDataset(subjects, scale=2, size=32, input="upsampled", seed=0,
                            degradation=DegradationConfig(kinds=("thick",)))
    item = dataset[0]
    expected = SplineUpsample(order=3)(resolution_operator("thick", 2)(item["target"][0]))
    assert item["input"].shape == (1, 32, 32)
    np.testing.assert_allclose(item["input"][0], expected, atol=1e-6)


def test_same_seed_same_pair_and_epochs_differ(subjects):
    def make(seed: int) -> SRPairDataset:
        return SRPairDataset(subjects, scale=2, size=32, augment=AugmentConfig(elastic_alpha=2.0), seed=seed,
                             degradation=DegradationConfig(kinds=("decimate", "kspace"), noise_sigma=(0.01, 0.03)))

    first, again, other = make(1), make(1), make(2)
    for i in (0, 7):
        for key, value in first[i].items():
            np.testing.assert_array_equal(value, again[i][key])
    assert not np.array_equal(first[7]["target"], other[7]["target"])
    before = first[7]["target"]
    first.set_epoch(1)
    assert not np.array_equal(first[7]["target"], before)


def test_validation_windows_are_centred_and_unaugmented(subjects):
    dataset = SRPairDataset(subjects, scale=2, size=64, augment=None)
    item = dataset[3]
    s, k = dataset.index[3]
    # the block is 64 x 64 and the brain centroid is near its centre: the window is (almost) the slice itself
    offset = np.round(np.argwhere(subjects[s].brain[..., k]).mean(axis=0) - 31.5).astype(int)
    expected = np.roll(subjects[s].image[..., k], -offset, axis=(0, 1))
    inner = (slice(8, -8), slice(8, -8))
    np.testing.assert_allclose(item["target"][0][inner], expected[inner], atol=1e-5)


def test_thick_slices_need_the_upsampled_input_and_sizes_must_divide(subjects):
    with pytest.raises(ValueError, match="thick"):
        SRPairDataset(subjects, degradation=DegradationConfig(kinds=("thick",)))
    with pytest.raises(ValueError, match="multiple"):
        SRPairDataset(subjects, scale=4, size=30)
    with pytest.raises(ValueError, match="unknown degradation"):
        resolution_operator("bilinear", 2)


def _write_figshare(path, image: np.ndarray, mask: np.ndarray, label: int, pid: str) -> None:
    import scipy.io

    cjdata = {"image": image.astype(np.int16), "label": float(label), "PID": pid,
              "tumorMask": mask.astype(np.uint8), "tumorBorder": np.zeros(4)}
    scipy.io.savemat(path, {"cjdata": cjdata})


def test_figshare_crops_follow_the_tumour_box(tmp_path, mni_block):
    data, _ = mni_block
    image = (data[..., 4] * 10).astype(np.int16)
    for i in range(9):
        mask = np.zeros(image.shape, bool)
        mask[10 + i : 30 + i, 20:36] = True  # a 20 x 16 box: the crop is a 40 px square with the 10 px margin
        _write_figshare(tmp_path / f"{i}.mat", image, mask, label=1 + i % 3, pid=f"P{i}")
    subjects = figshare_subjects(tmp_path)
    assert {s.label for s in subjects} == {0, 1, 2} and subjects[0].extra["window"].side == 40
    train, validation, test = split_subjects(subjects, seed=0)
    assert {s.label for s in train} == {0, 1, 2}  # class-balanced
    dataset = SRPairDataset(subjects, scale=2, size=50, augment=None)
    item = dataset[0]
    assert item["input"].shape == (1, 25, 25) and item["target"].shape == (1, 50, 50)  # seed 001: 25 -> 50 px
    # the 40 px square around the box, resized to 50 px, is the target
    from skimage.transform import resize

    square = subjects[0].image[..., 0][0:40, 8:48]
    np.testing.assert_allclose(item["target"][0], resize(square, (50, 50), order=3), atol=0.08)
