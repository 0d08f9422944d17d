"""UNetGenerator: size checks, output ranges, residual output, attention placement, MC dropout."""

from __future__ import annotations

import pytest
import torch

from mrigan.nn import UNetGenerator, enable_mc_dropout
from mrigan.nn.layers import AdditiveAttentionGate, ChannelSpatialAttention, MCDropout


def small(**kwargs) -> UNetGenerator:
    return UNetGenerator(**{"depth": 3, "base_channels": 4, "max_channels": 16, **kwargs})


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_rejects_sizes_not_divisible_by_two_to_the_depth(spatial_dims):
    net = small(spatial_dims=spatial_dims)
    with pytest.raises(ValueError, match="divisible by 8"):
        net(torch.rand(1, 1, *([12] * spatial_dims)))


def test_rejects_wrong_rank_and_channels():
    net = small()
    with pytest.raises(ValueError, match="4-D"):
        net(torch.rand(1, 1, 16, 16, 16))
    with pytest.raises(ValueError, match="1 input channel"):
        net(torch.rand(1, 2, 16, 16))


def test_accepts_non_square_sizes():
    assert small()(torch.rand(1, 1, 16, 40)).shape == (1, 1, 16, 40)


def test_single_voxel_bottleneck_with_instance_norm_is_a_clear_error():
    with pytest.raises(ValueError, match="single voxel"):
        small().train()(torch.rand(2, 1, 8, 8))
    # without residual blocks (pix2pix) the innermost level has no norm, so a 1-voxel bottleneck is fine
    assert small(residual_blocks=0)(torch.rand(2, 1, 8, 8)).shape == (2, 1, 8, 8)


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_sigmoid01_output_lies_in_unit_interval(spatial_dims):
    net = small(spatial_dims=spatial_dims)
    with torch.no_grad():
        net.head.bias.fill_(5.0)  # push towards saturation
        out = net(10 * torch.randn(2, 1, *([16] * spatial_dims)))
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert out.max() > 0.99


def test_sigmoid01_is_tanh_mapped_to_unit_interval():
    net = small(out_activation="sigmoid01")
    x = torch.randn(5)
    torch.testing.assert_close(net.out_activation(x), (torch.tanh(x) + 1) / 2)


def test_tanh_output_lies_in_minus_one_one():
    out = small(out_activation="tanh")(10 * torch.randn(2, 1, 16, 16))
    assert out.min() >= -1.0 and out.max() <= 1.0 and out.min() < 0


def test_residual_output_adds_to_first_input_channel_and_clamps():
    net = small(in_channels=3, residual_output=True).eval()
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.fill_(0.25)
    x = torch.rand(2, 3, 16, 16)
    torch.testing.assert_close(net(x), (x[:, :1] + 0.25).clamp(0, 1))


def test_residual_output_needs_enough_input_channels():
    with pytest.raises(ValueError, match="residual_output"):
        UNetGenerator(in_channels=1, out_channels=2, residual_output=True)


def test_default_attention_is_channel_spatial_at_the_two_deepest_decoder_stages():
    net = UNetGenerator()
    assert net.depth == 6 and sorted(net.attention_blocks) == ["4", "5"]
    assert all(isinstance(block, ChannelSpatialAttention) for block in net.attention_blocks.values())
    additive = small(attention="additive", attention_levels=(0,))
    assert list(additive.attention_blocks) == ["0"]
    assert isinstance(additive.attention_blocks["0"], AdditiveAttentionGate)


def test_invalid_levels_and_options_are_rejected():
    with pytest.raises(ValueError, match="attention_levels"):
        small(attention_levels=(3,))
    with pytest.raises(ValueError, match="upsampling"):
        small(upsampling="bicubic")
    with pytest.raises(ValueError, match="norm"):
        small(norm="group")


def test_pix2pix_depth_eight_at_256():
    net = UNetGenerator(
        depth=8, base_channels=2, max_channels=8, residual_blocks=0, attention_levels=(), upsampling="transposed"
    )
    assert net(torch.rand(1, 1, 256, 256)).shape == (1, 1, 256, 256)


def test_default_config_is_small():
    net = UNetGenerator(in_channels=9)
    assert sum(p.numel() for p in net.parameters()) <= 2_000_000
    assert net(torch.rand(1, 9, 128, 128)).shape == (1, 1, 128, 128)


def test_mc_dropout_samples_differ_only_when_enabled():
    net = small(dropout=0.5).eval()
    x = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(x))
        assert enable_mc_dropout(net) == 3
        assert not torch.allclose(net(x), net(x))
        net.eval()  # survives eval()
        assert not torch.allclose(net(x), net(x))
        enable_mc_dropout(net, enabled=False)
        torch.testing.assert_close(net(x), net(x))


def test_mc_dropout_constructor_flag():
    net = small(dropout=0.5, mc_dropout=True).eval()
    x = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        assert not torch.allclose(net(x), net(x))
    assert all(layer.always_on for layer in net.modules() if isinstance(layer, MCDropout))


def test_enable_mc_dropout_on_plain_dropout_and_without_dropout():
    plain = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Dropout(0.5)).eval()
    assert enable_mc_dropout(plain) == 1
    x = torch.ones(1, 8)
    assert not torch.allclose(plain(x), plain(x))
    assert enable_mc_dropout(small(dropout=0.0)) == 0
