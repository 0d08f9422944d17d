"""Layer helpers and weight initialisation."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mrigan.nn import init_weights
from mrigan.nn.layers import (
    AdditiveAttentionGate,
    ChannelSpatialAttention,
    ConvNormAct,
    apply_spectral_norm,
    conv,
    json_kwargs,
    norm,
)


def test_layer_choice_by_spatial_dims():
    assert conv(2) is nn.Conv2d and conv(3) is nn.Conv3d
    assert isinstance(norm("instance", 3, 4), nn.InstanceNorm3d)
    assert isinstance(norm("batch", 2, 4), nn.BatchNorm2d)
    assert isinstance(norm("none", 2, 4), nn.Identity)
    with pytest.raises(ValueError, match="spatial_dims"):
        conv(1)
    with pytest.raises(ValueError, match="norm"):
        norm("layer", 2, 4)


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("kernel_size", [2, 3, 4, 5])
def test_same_padding_keeps_size(spatial_dims, kernel_size):
    block = ConvNormAct(1, 2, spatial_dims=spatial_dims, kernel_size=kernel_size)
    assert block(torch.rand(1, 1, *([7] * spatial_dims))).shape == (1, 2, *([7] * spatial_dims))


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_attention_blocks_keep_shape_and_only_rescale(spatial_dims):
    x = torch.rand(2, 8, *([6] * spatial_dims))
    out = ChannelSpatialAttention(8, spatial_dims=spatial_dims)(x)
    assert out.shape == x.shape and (out <= x + 1e-6).all() and (out >= 0).all()
    gated = AdditiveAttentionGate(8, 4, spatial_dims=spatial_dims)(x, torch.rand(2, 4, *([6] * spatial_dims)))
    assert gated.shape == x.shape and (gated <= x + 1e-6).all()


def test_json_kwargs_keeps_only_parameters():
    def make(*, a: int = 1, b: tuple = (1, 2)):
        unrelated = 3  # noqa: F841
        return json_kwargs(locals())

    assert make(b=(3, 4)) == {"a": 1, "b": [3, 4]}


def conv_stack() -> nn.Module:
    return nn.Sequential(nn.Conv2d(64, 128, 3), nn.BatchNorm2d(128), nn.Linear(10, 10), nn.ConvTranspose2d(8, 8, 4))


def test_init_normal_pix2pix():
    net = init_weights(conv_stack(), kind="normal")
    assert abs(net[0].weight.std().item() - 0.02) < 0.002
    assert abs(net[1].weight.mean().item() - 1.0) < 0.01 and net[1].bias.abs().max() == 0
    assert all(m.bias.abs().max() == 0 for m in (net[0], net[2], net[3]))


def test_init_kaiming_he():
    net = init_weights(conv_stack(), kind="kaiming", negative_slope=0.2)
    expected = math.sqrt(2.0 / (1 + 0.2**2)) / math.sqrt(64 * 9)
    assert abs(net[0].weight.std().item() / expected - 1) < 0.05
    scaled = init_weights(conv_stack(), kind="kaiming", gain=0.1)
    assert abs(scaled[0].weight.std().item() / (0.1 * expected) - 1) < 0.05


def test_init_xavier_and_errors():
    net = init_weights(conv_stack(), kind="xavier")
    expected = math.sqrt(2.0 / (64 * 9 + 128 * 9))
    assert abs(net[0].weight.std().item() / expected - 1) < 0.05
    with pytest.raises(ValueError, match="kind"):
        init_weights(conv_stack(), kind="orthogonal")


def test_init_reaches_spectrally_normalised_weights():
    net = apply_spectral_norm(nn.Sequential(nn.Conv2d(64, 128, 3)))
    init_weights(net, kind="normal")
    assert abs(net[0].parametrizations.weight.original.std().item() - 0.02) < 0.002


@pytest.mark.parametrize("shape", [(2, 1, 6, 5), (1, 1, 6, 5, 4)])
def test_flip_average_is_the_mean_of_the_flipped_passes_flipped_back(shape):
    from mrigan.nn import FlipAverage

    torch.manual_seed(0)
    network = torch.nn.Conv2d(1, 1, 3, padding=1) if len(shape) == 4 else torch.nn.Conv3d(1, 1, 3, padding=1)
    x = torch.rand(shape)
    expected = (network(x) + network(x.flip(2)).flip(2) + network(x.flip(3)).flip(3)
                + network(x.flip(2, 3)).flip(2, 3)) / 4
    averaged = FlipAverage(network)(x)
    torch.testing.assert_close(averaged, expected)
    assert not torch.allclose(averaged, network(x), atol=1e-4)  # an asymmetric kernel answers flips differently
    with torch.no_grad():  # a kernel symmetric in plane answers every flip alike: the average is one pass
        network.weight.copy_((network.weight + network.weight.flip(2) + network.weight.flip(3)
                              + network.weight.flip(2, 3)) / 4)
    torch.testing.assert_close(FlipAverage(network)(x), network(x))
