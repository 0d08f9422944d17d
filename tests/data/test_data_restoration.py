"""Restoration data: seeded on-the-fly degradations, the UMR-GAN channel layout, subject splits, folders."""

from __future__ import annotations

import numpy as np
import pytest

from mrigan.data.restoration import Conditioning, DegradationConfig, RestorationDataset, context_stack
from mrigan.data.subjects import split_subjects, subject_from_array, subjects_from_folder


@pytest.fixture(scope="module")
def subject(mni_block):
    data, _ = mni_block
    return subject_from_array("mni-block", data)


def test_same_seed_epoch_and_index_give_the_same_sample(subject):
    dataset = RestorationDataset([subject], crop=32, seed=3)
    first, again = dataset[2], dataset[2]
    for key in ("input", "target", "mask"):
        np.testing.assert_array_equal(first[key], again[key])
    dataset.set_epoch(1)
    assert not np.array_equal(dataset[2]["input"], first["input"])


def test_intensity_jitter_scales_the_clean_target(subject):
    half = RestorationDataset([subject], crop=32, seed=5, intensity_jitter=(0.5, 0.5))[0]["target"]
    same = RestorationDataset([subject], crop=32, seed=5, intensity_jitter=(1.0, 1.0))[0]["target"]
    assert same.max() > 0.2
    np.testing.assert_allclose(half, 0.5 * same, atol=1e-6)


def test_channel_layout_follows_umr_gan(subject):
    conditioning = Conditioning(use_mask=True, use_sigma=True, context=1, num_classes=2)
    degradation = DegradationConfig(noise_probability=1.0, hole_probability=1.0, hole_kinds=("square",),
                                    noise_kinds=("gaussian",), noise_sigma=(0.05, 0.05), square_size=(16, 16))
    item = RestorationDataset([subject], conditioning=conditioning, degradation=degradation, crop=48,
                              augment=False)[1]
    x = item["input"]
    assert x.shape == (conditioning.channels, 48, 48) == (7, 48, 48)
    np.testing.assert_array_equal(x[1], item["mask"][0])  # M
    assert set(np.unique(x[1])) == {0.0, 1.0}
    np.testing.assert_allclose(x[2][x[1] > 0], 0.05, rtol=1e-5)  # sigma map on the [0, 1] scale
    assert np.all(x[0][x[1] == 0] == 0)  # holes are zero in the degraded slice
    assert np.all(x[5:] == 0)  # label unknown: the one-hot is all zero
    assert item["target"].shape == (1, 48, 48)


def test_switched_off_signals_are_zero_channels(subject):
    conditioning = Conditioning(use_mask=False, use_sigma=False, context=0)
    item = RestorationDataset([subject], conditioning=conditioning, crop=32)[0]
    assert item["input"].shape == (3, 32, 32)
    assert np.all(item["input"][1:] == 0)


def test_context_stack_repeats_edges():
    volume = np.arange(4, dtype=np.float32)[None, None, :] * np.ones((2, 2, 4), np.float32)
    stack = context_stack(volume, 0, 1)
    assert stack.shape == (3, 2, 2)
    assert [float(s[0, 0]) for s in stack] == [0.0, 0.0, 1.0]


def test_validation_whole_slices_share_one_size(subject, mni_block):
    data, _ = mni_block
    smaller = subject_from_array("small", data[:40, :50])
    dataset = RestorationDataset([subject, smaller], crop=None, multiple=16, augment=False)
    shapes = {dataset[i]["input"].shape[1:] for i in range(len(dataset))}
    assert shapes == {(64, 64)}


def test_split_groups_by_subject_and_keeps_every_class():
    rng = np.random.default_rng(0)
    subjects = [
        subject_from_array(f"s{i // 2}", rng.random((8, 8)) + 0.1, label=i % 20 // 10) for i in range(40)
    ]
    train, validation, test = split_subjects(subjects, (0.6, 0.2, 0.2), seed=1)
    ids = [{s.subject_id for s in part} for part in (train, validation, test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    for part in (train, validation, test):
        assert {s.label for s in part} == {0, 1}


def test_image_folder_with_class_subfolders(tmp_path, mni_block):
    from PIL import Image

    data, _ = mni_block
    for c, name in enumerate(["glioma", "meningioma", "notumor", "pituitary"]):
        folder = tmp_path / "Training" / name
        folder.mkdir(parents=True)
        Image.fromarray(np.clip(data[..., c], 0, 255).astype(np.uint8)).save(folder / f"img_{c}.png")
    subjects = subjects_from_folder(tmp_path)
    assert [s.label for s in subjects] == [0, 1, 2, 3]
    assert all(s.image.shape == (64, 64, 1) and s.image.max() == 1.0 for s in subjects)


def test_central_slab_guards_its_neighbours_and_respects_a_minimum_depth():
    from mrigan.data.subjects import central_slab

    brain = np.zeros((4, 4, 40), bool)
    brain[..., 10:30] = True  # 20 brain slices centred on 19.5
    train, slab = central_slab(brain, 0.2, guard=1)
    assert np.nonzero(slab)[0].tolist() == [17, 18, 19, 20]
    assert not train[16:22].any() and train[:16].all() and train[22:].all()
    assert central_slab(brain, 0.2, min_depth=8)[1].sum() == 8
