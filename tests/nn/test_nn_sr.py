"""Super-resolution and same-size networks: seed layouts, scales, sub-pixel shuffle."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mrigan.nn import DCSRN, FCN, SRCNN001, FullyConvSR, RRDBNet, SRGANGenerator
from mrigan.nn.layers import PixelShuffle


def test_srcnn001_seed_layout_and_fixed_size():
    net = SRCNN001(input_size=5, scale=2)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0]) for c in convs] == [(128, 10), (64, 5), (64, 5), (32, 3)]
    assert net.dense.in_features == 32 * 5 * 5 and net.dense.out_features == 10 * 10
    out = net(torch.rand(2, 1, 5, 5))
    assert out.shape == (2, 1, 10, 10) and out.min() >= 0 and out.max() <= 1  # sigmoid
    with pytest.raises(ValueError, match="built for inputs of size"):
        net(torch.rand(2, 1, 6, 6))


def test_even_kernel_same_padding_keeps_size():
    net = SRCNN001(input_size=7, channels=(4,), kernel_sizes=(10,), spatial_dims=3)
    assert net.features(torch.rand(1, 1, 7, 7, 7)).shape == (1, 4, 7, 7, 7)


@pytest.mark.parametrize("scale", [2, 4])
def test_srgan_generator_scales(scale):
    net = SRGANGenerator(scale=scale)
    assert net(torch.rand(2, 1, 25, 25)).shape == (2, 1, 25 * scale, 25 * scale)
    assert [m.p for m in net.modules() if isinstance(m, nn.Dropout)] == [0.4]


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_rrdbnet_scales(scale):
    net = RRDBNet(scale=scale, num_features=8, growth_channels=4, num_blocks=1)
    assert net(torch.rand(1, 1, 8, 8)).shape == (1, 1, 8 * scale, 8 * scale)


def test_rrdbnet_rejects_scale_three():
    with pytest.raises(ValueError, match="power of two"):
        RRDBNet(scale=3)


def test_residual_dense_block_starts_close_to_identity():
    """Residual scaling 0.2 and ESRGAN's 0.1-scaled He init: a dense block barely changes its input at start."""
    from mrigan.nn.sr import ResidualDenseBlock

    block = ResidualDenseBlock(8, 4)
    features = torch.randn(1, 8, 8, 8)
    change = (block(features) - features).abs().mean() / features.abs().mean()
    assert change < 0.05


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_subpixel_upsampler_starts_as_nearest_neighbour(spatial_dims):
    """ICNR initialisation: every scale^d block of the output is constant at initialisation."""
    net = FullyConvSR(scale=2, channels=(4,), kernel_sizes=(3,), spatial_dims=spatial_dims)
    out = net(torch.rand(1, 1, *([6] * spatial_dims)))
    blocks = out.unfold(2, 2, 2).unfold(3, 2, 2)
    if spatial_dims == 3:
        blocks = blocks.unfold(4, 2, 2)
    flat = blocks.reshape(*blocks.shape[: 2 + spatial_dims], -1)
    torch.testing.assert_close(flat, flat[..., :1].expand_as(flat))


def test_pixel_shuffle_3d_layout():
    """Channel c * r^3 + i * r^2 + j * r + k goes to offset (i, j, k), as F.pixel_shuffle does in 2D."""
    x = torch.arange(16.0).reshape(1, 16, 1, 1, 1)
    out = PixelShuffle(2, spatial_dims=3)(x)
    assert out.shape == (1, 2, 2, 2, 2)
    for c in range(2):
        for i in range(2):
            for j in range(2):
                for k in range(2):
                    assert out[0, c, i, j, k] == c * 8 + i * 4 + j * 2 + k
    x2 = torch.arange(8.0).reshape(1, 8, 1, 1)
    torch.testing.assert_close(PixelShuffle(2, spatial_dims=2)(x2), nn.functional.pixel_shuffle(x2, 2))


def test_fcn_variants():
    fcn1 = FCN()
    assert sum(isinstance(m, nn.BatchNorm2d) for m in fcn1.modules()) == 4
    assert not any(isinstance(m, nn.MaxPool2d) for m in fcn1.modules())
    fcn2 = FCN(downsamplings=2, channels=8)
    assert sum(isinstance(m, nn.MaxPool2d) for m in fcn2.modules()) == 2
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in fcn2.modules()) == 2
    assert fcn2(torch.rand(1, 1, 16, 16)).shape == (1, 1, 16, 16)
    with pytest.raises(ValueError, match="divisible by 4"):
        fcn2(torch.rand(1, 1, 18, 18))


def test_dcsrn_seed_layout():
    net = DCSRN()
    assert net.conv_first.out_channels == 24
    assert [unit[-1].in_channels for unit in net.units] == [24, 48, 72, 96]
    assert net.conv_last.in_channels == 24 + 4 * 24
    assert any(isinstance(m, nn.ELU) for m in net.modules())
