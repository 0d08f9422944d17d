"""Properties every network shares, checked in 2D and 3D: shapes, gradients, kwargs round trip."""

from __future__ import annotations

import json

import pytest
import torch

from mrigan import nn as mnn

# name -> (class, kwargs, input channels, input size, expected output: (channels, size) or "scalar" / "multi")
CASES = {
    "unet": (mnn.UNetGenerator, dict(depth=3, base_channels=4, max_channels=16), 1, 16, (1, 16)),
    "unet_pix2pix": (
        mnn.UNetGenerator,
        dict(
            depth=3,
            base_channels=4,
            max_channels=16,
            residual_blocks=0,
            attention_levels=(),
            dropout=0.5,
            upsampling="transposed",
            out_activation="tanh",
        ),
        1,
        16,
        (1, 16),
    ),
    "unet_additive_resize_conv": (
        mnn.UNetGenerator,
        dict(depth=2, base_channels=4, attention="additive", upsampling="resize_conv", norm="batch", in_channels=3),
        3,
        16,
        (1, 16),
    ),
    "unet_residual_output": (
        mnn.UNetGenerator,
        dict(depth=2, base_channels=4, residual_output=True, in_channels=2, norm="none"),
        2,
        16,
        (1, 16),
    ),
    "patch": (mnn.PatchDiscriminator, dict(in_channels=2, base_channels=4, n_layers=2), 2, 16, (1, 2)),
    "patch_sn_batch": (
        mnn.PatchDiscriminator,
        dict(in_channels=2, base_channels=4, n_layers=2, norm="batch", spectral_norm=True),
        2,
        16,
        (1, 2),
    ),
    "multiscale": (mnn.MultiScaleDiscriminator, dict(in_channels=2, base_channels=4, n_layers=1), 2, 16, "multi"),
    "dcgan_disc": (mnn.DCGANDiscriminator, dict(input_size=16, base_channels=4), 1, 16, "scalar"),
    "srgan_disc": (mnn.SRGANDiscriminator, dict(channels=(4, 8), dense_channels=16, dropout=0.1), 1, 12, "scalar"),
    "srcnn001": (mnn.SRCNN001, dict(input_size=4, channels=(8, 4, 4, 4)), 1, 4, (1, 8)),
    "fully_conv_sr_x2": (mnn.FullyConvSR, dict(scale=2, channels=(8, 4), kernel_sizes=(5, 3)), 1, 6, (1, 12)),
    "fully_conv_sr_x4_resize": (
        mnn.FullyConvSR,
        dict(scale=4, channels=(8, 4), kernel_sizes=(5, 3), upsampler="resize"),
        1,
        4,
        (1, 16),
    ),
    "srgan_gen_x2": (mnn.SRGANGenerator, dict(scale=2, channels=(8, 4, 4, 4)), 1, 6, (1, 12)),
    "srgan_gen_x4": (mnn.SRGANGenerator, dict(scale=4, channels=(8, 4, 4, 4)), 1, 4, (1, 16)),
    "rrdb_x4": (mnn.RRDBNet, dict(scale=4, num_features=8, growth_channels=4, num_blocks=1), 1, 4, (1, 16)),
    "rrdb_x2": (mnn.RRDBNet, dict(scale=2, num_features=8, growth_channels=4, num_blocks=1), 1, 6, (1, 12)),
    "rrdb_x1": (mnn.RRDBNet, dict(scale=1, num_features=8, growth_channels=4, num_blocks=1), 1, 6, (1, 6)),
    "fcn1": (mnn.FCN, dict(channels=4), 1, 8, (1, 8)),
    "fcn2": (mnn.FCN, dict(channels=4, downsamplings=2), 1, 8, (1, 8)),
    "dcsrn": (mnn.DCSRN, dict(growth_channels=4, initial_channels=4), 1, 8, (1, 8)),
    "dcgan_gen": (mnn.DCGANGenerator, dict(channels=(4, 8, 8), dropout=0.2), 1, 8, (1, 8)),
    "feature_net": (mnn.MRIFeatureNet, dict(widths=(4, 8, 8)), 1, 8, "multi"),
}


def build(name: str, spatial_dims: int):
    cls, kwargs, in_channels, size, expected = CASES[name]
    net = cls(spatial_dims=spatial_dims, **kwargs)
    x = torch.rand(2, in_channels, *([size] * spatial_dims))
    return net, x, expected


def outputs_of(net, x) -> list[torch.Tensor]:
    if isinstance(net, mnn.MRIFeatureNet):
        return [*net(x), net.segment(x)]
    out = net(x)
    return list(out) if isinstance(out, list) else [out]


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("name", sorted(CASES))
def test_output_shape(name, spatial_dims):
    net, x, expected = build(name, spatial_dims)
    outputs = outputs_of(net, x)
    if expected == "scalar":
        assert [tuple(o.shape) for o in outputs] == [(2, 1)]
    elif expected == "multi":
        assert len(outputs) >= 2
        assert all(o.shape[0] == 2 and o.ndim == spatial_dims + 2 for o in outputs)
    else:
        channels, size = expected
        assert tuple(outputs[0].shape) == (2, channels, *([size] * spatial_dims))
    assert all(torch.isfinite(o).all() for o in outputs)


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_reach_every_parameter(name, spatial_dims):
    net, x, _ = build(name, spatial_dims)
    net.train()
    sum(o.sum() for o in outputs_of(net, x)).backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"no (finite) gradient for {missing}"


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("name", sorted(CASES))
def test_rebuilt_from_json_kwargs(name, spatial_dims):
    net, x, _ = build(name, spatial_dims)
    kwargs = json.loads(json.dumps(net.config))
    assert kwargs["spatial_dims"] == spatial_dims
    rebuilt = type(net)(**kwargs)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in net.state_dict().items()}
    rebuilt.load_state_dict(net.state_dict())
    net.eval(), rebuilt.eval()
    with torch.no_grad():
        for a, b in zip(outputs_of(net, x), outputs_of(rebuilt, x), strict=True):
            torch.testing.assert_close(a, b)


def test_config_holds_only_constructor_arguments():
    net = mnn.UNetGenerator(depth=3, base_channels=4)
    assert set(net.config) == set(mnn.UNetGenerator.__init__.__kwdefaults__)
    assert net.config["attention_levels"] == [2, 1]
    assert net.config["dropout_levels"] == [2, 1, 0]


def test_count_parameters():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    net[1].requires_grad_(False)
    assert mnn.count_parameters(net) == 3 * 4 + 4 + 4 * 2 + 2
    assert mnn.count_parameters(net, trainable_only=True) == 3 * 4 + 4


def test_public_api_exports():
    for name in mnn.__all__:
        assert hasattr(mnn, name)
