"""Discriminators: spectral norm, multi-scale outputs, size checks, raw logits."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mrigan.nn import DCGANDiscriminator, MultiScaleDiscriminator, PatchDiscriminator, SRGANDiscriminator
from mrigan.nn.layers import has_spectral_norm


def weighted_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.Linear))]


@pytest.mark.parametrize(
    "factory",
    [
        lambda sn: PatchDiscriminator(base_channels=4, spectral_norm=sn),
        lambda sn: MultiScaleDiscriminator(base_channels=4, spectral_norm=sn),
        lambda sn: DCGANDiscriminator(input_size=16, base_channels=4, spectral_norm=sn),
        lambda sn: SRGANDiscriminator(channels=(4, 8), dense_channels=8, spectral_norm=sn),
    ],
)
def test_spectral_norm_present_when_asked(factory):
    layers = weighted_layers(factory(True))
    assert layers and all(has_spectral_norm(layer) for layer in layers)
    assert not any(has_spectral_norm(layer) for layer in weighted_layers(factory(False)))


def test_multiscale_has_spectral_norm_by_default_and_two_scales():
    net = MultiScaleDiscriminator(in_channels=2, base_channels=4)
    assert len(net.discriminators) == 2
    assert all(has_spectral_norm(layer) for layer in weighted_layers(net))
    outputs = net(torch.rand(1, 2, 64, 64))
    assert [tuple(o.shape) for o in outputs] == [(1, 1, 6, 6), (1, 1, 2, 2)]


def test_patch_discriminator_70x70_layout():
    net = PatchDiscriminator(in_channels=2)
    assert net(torch.rand(1, 2, 256, 256)).shape == (1, 1, 30, 30)  # pix2pix's 30x30 patch map
    strided = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.stride == (2, 2)]
    assert len(strided) == 3


def test_patch_discriminator_too_small_input_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 24"):
        PatchDiscriminator(in_channels=1)(torch.rand(1, 1, 16, 16))


def test_outputs_are_raw_logits():
    net = PatchDiscriminator(in_channels=1, base_channels=4, n_layers=1, norm="none")
    with torch.no_grad():
        net.layers[-1].bias.fill_(5.0)
    assert net(torch.rand(1, 1, 16, 16)).min() > 1.0  # no sigmoid


def test_dcgan_discriminator_rejects_other_sizes():
    net = DCGANDiscriminator(input_size=32, base_channels=4)
    assert net(torch.rand(3, 1, 32, 32)).shape == (3, 1)
    with pytest.raises(ValueError, match="built for inputs of size"):
        net(torch.rand(3, 1, 64, 64))


@pytest.mark.parametrize("size", [24, 40, 57])
def test_srgan_discriminator_any_size(size):
    net = SRGANDiscriminator(channels=(4, 8), dense_channels=8).eval()
    assert net(torch.rand(2, 1, size, size)).shape == (2, 1)


def test_srgan_discriminator_seed_001_layout():
    net = SRGANDiscriminator(
        channels=(8, 16, 32, 64), downsample=False, kernel_size=5, norm="none", dropout=0.4, dense_channels=0
    )
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 32, 64]
    assert all(c.kernel_size == (5, 5) and c.stride == (1, 1) for c in convs)
    assert net(torch.rand(2, 1, 50, 50)).shape == (2, 1)
