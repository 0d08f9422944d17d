"""The feature-network training recipe, and the shipped weights in models/mri_features.safetensors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from mrigan import features_training as ft
from mrigan.nn.features import KWARGS_KEY, MRIFeatureNet, load_feature_net

SHIPPED = Path(__file__).resolve().parents[1] / "models" / "mri_features.safetensors"
EXPECTED_KWARGS = {
    "in_channels": 1,
    "widths": [16, 32, 64, 96],
    "convs_per_stage": 2,
    "num_classes": 4,
    "spatial_dims": 2,
}


def _finite_numbers(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _finite_numbers(item)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value


def test_train_feature_net_few_steps_writes_a_loadable_file(tmp_path):
    out = tmp_path / "sub" / "features.safetensors"
    reports = []
    summary = ft.train_feature_net(
        out,
        steps=3,
        batch_size=2,
        crop=32,
        seed=3,
        threads=1,
        progress=lambda step, stats: reports.append((step, stats)),
        samples=("mni152",),
        contrasts=(("se", "t2w", 3.0),),
        evaluate_colin27=False,
        log_every=1,
        net_kwargs={"widths": (4, 8)},
    )
    net = load_feature_net(out)
    assert isinstance(net, MRIFeatureNet) and not net.training
    assert net.widths == (4, 8)
    assert [step for step, _ in reports] == [1, 2, 3]
    assert summary["steps"] == 3 and summary["crop"] == [32, 32]
    assert math.isfinite(summary["loss_final"]) and summary["loss_final"] > 0
    assert {"mni_val_t1_dice_wm", "mni_val_t2w_dice_mean"} <= set(summary["metrics"])
    assert all(math.isfinite(v) for v in _finite_numbers(summary))
    assert all(0.0 <= v <= 1.0 for v in summary["metrics"].values())
    assert ft.training_summary(out)["seed"] == 3
    assert torch.get_num_threads() >= 1


def test_colin27_is_refused_for_training(tmp_path):
    with pytest.raises(ValueError, match="held out"):
        ft.train_feature_net(tmp_path / "x.safetensors", steps=1, samples=("colin27",), progress=False)


def test_dice_scores():
    reference = np.array([[0, 1, 2, 3], [3, 3, 2, 0]])
    assert ft.dice_scores(reference, reference) == {"csf": 1.0, "gm": 1.0, "wm": 1.0, "mean": 1.0}
    predicted = np.array([[0, 1, 2, 3], [3, 2, 2, 0]])
    scores = ft.dice_scores(predicted, reference)
    assert scores["wm"] == pytest.approx(2 * 2 / (2 + 3)) and scores["gm"] == pytest.approx(2 * 2 / (3 + 2))


def test_sampler_batches_are_in_range():
    anatomy = ft._load_anatomy("mni152", ())
    assert anatomy.axes == (2,)
    low, high = ft.MNI_VALIDATION_Z
    for (axis, block), indices in anatomy.slices.items():
        z0, z1 = anatomy.z_blocks[block]
        assert not (z0 + indices.min() < high + ft.MNI_GUARD and z0 + indices.max() >= low - ft.MNI_GUARD)
    sampler = ft.SliceSampler([anatomy], crop=(24, 40), seed=0)
    images, targets = sampler.batch(3)
    assert images.shape[0] == 3 and images.shape[1] == 1 and images.shape[2] % 8 == 0
    assert targets.shape == (3, 4) + images.shape[2:]
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    assert torch.allclose(targets.sum(1), torch.ones(()), atol=1e-4)


def test_shipped_feature_net_is_trained():
    from safetensors import safe_open

    from mrigan.data.samples import load_sample
    from mrigan.preprocess import robust_minmax

    assert SHIPPED.is_file(), f"{SHIPPED} missing"
    assert SHIPPED.stat().st_size < 2_000_000
    with safe_open(str(SHIPPED), framework="pt") as handle:
        metadata = handle.metadata()
    assert json.loads(metadata[KWARGS_KEY]) == EXPECTED_KWARGS
    net = load_feature_net(SHIPPED)
    assert [f.shape[1] for f in net(torch.zeros(1, 1, 64, 64))] == EXPECTED_KWARGS["widths"]

    sample = load_sample("mni152")
    z = sum(ft.MNI_VALIDATION_Z) // 2  # a slice of the validation slab, not trained on
    t1 = robust_minmax(sample.t1.data[:, :, z])
    with torch.no_grad():
        labels = net.segment(torch.from_numpy(t1)[None, None]).argmax(1)[0].numpy()
    predicted, reference = labels == 3, sample.tissues["wm"][:, :, z] > 0.5
    dice = 2 * (predicted & reference).sum() / (predicted.sum() + reference.sum())
    assert dice > 0.6, f"Dice(WM) {dice:.3f}: the shipped weights do not segment white matter"
