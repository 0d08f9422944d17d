"""MRIFeatureNet: stage outputs, segmentation head, safetensors round trip."""

from __future__ import annotations

import json

import pytest
import torch

from mrigan.nn import MRIFeatureNet, load_feature_net, save_feature_net


def test_stage_outputs_in_requested_order():
    net = MRIFeatureNet()
    x = torch.rand(2, 1, 32, 32)
    outputs = net(x, layers=(2, 0))
    assert [tuple(o.shape) for o in outputs] == [(2, 64, 8, 8), (2, 16, 32, 32)]
    everything = net(x)
    assert [o.shape[1] for o in everything] == [16, 32, 64, 96]
    torch.testing.assert_close(outputs[0], everything[2])
    with pytest.raises(ValueError, match="layers"):
        net(x, layers=(4,))


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_segmentation_head(spatial_dims):
    net = MRIFeatureNet(widths=(4, 8, 8), num_classes=4, spatial_dims=spatial_dims)
    logits = net.segment(torch.rand(2, 1, *([12] * spatial_dims)))
    assert logits.shape == (2, 4, *([12] * spatial_dims))


def test_save_and_load_round_trip(tmp_path):
    net = MRIFeatureNet(widths=(4, 8), convs_per_stage=1, num_classes=3)
    path = save_feature_net(net, tmp_path / "features.safetensors", metadata={"data": "mni152"})
    loaded = load_feature_net(path)
    assert not loaded.training
    assert loaded.config == net.config
    x = torch.rand(1, 1, 16, 16)
    net.eval()
    with torch.no_grad():
        for a, b in zip(net(x), loaded(x), strict=True):
            torch.testing.assert_close(a, b)
        torch.testing.assert_close(net.segment(x), loaded.segment(x))
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    assert metadata["data"] == "mni152" and json.loads(metadata["mrigan.kwargs"])["num_classes"] == 3


def test_load_rejects_files_without_metadata(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "plain.safetensors"
    save_file({"weight": torch.zeros(2)}, str(path))
    with pytest.raises(ValueError, match="not an MRIFeatureNet file"):
        load_feature_net(path)
    with pytest.raises(FileNotFoundError):
        load_feature_net(tmp_path / "missing.safetensors")
