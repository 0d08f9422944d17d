"""AdversarialLoss modes and the R1 penalty."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mrigan.losses import ADVERSARIAL_MODES, AdversarialLoss, r1_penalty


def full(value: float, shape=(2, 1, 4, 4)) -> torch.Tensor:
    return torch.full(shape, float(value))


@pytest.mark.parametrize("mode", ADVERSARIAL_MODES)
def test_discriminator_loss_is_lower_when_it_is_right(mode):
    loss = AdversarialLoss(mode)
    right = loss.discriminator_loss(real_logits=full(3) + torch.randn(2, 1, 4, 4) * 0.1, fake_logits=full(-3))
    wrong = loss.discriminator_loss(real_logits=full(-3) + torch.randn(2, 1, 4, 4) * 0.1, fake_logits=full(3))
    assert right < wrong


@pytest.mark.parametrize("mode", ADVERSARIAL_MODES)
def test_generator_loss_is_lower_when_fakes_look_real(mode):
    loss = AdversarialLoss(mode)
    real = torch.randn(2, 1, 4, 4)
    fooled = loss.generator_loss(fake_logits=real + 3, real_logits=real)
    caught = loss.generator_loss(fake_logits=real - 3, real_logits=real)
    assert fooled < caught
    torch.testing.assert_close(loss(real + 3, real), fooled)  # forward is the generator loss


def test_vanilla_known_values():
    loss = AdversarialLoss("vanilla")
    torch.testing.assert_close(loss.discriminator_loss(full(0), full(0)), torch.tensor(math.log(2)))
    torch.testing.assert_close(loss.generator_loss(full(0)), torch.tensor(math.log(2)))
    torch.testing.assert_close(loss.generator_loss(full(2)), torch.tensor(math.log1p(math.exp(-2))))


def test_lsgan_known_values():
    loss = AdversarialLoss("lsgan")
    assert loss.discriminator_loss(full(1), full(0)) == 0
    torch.testing.assert_close(loss.discriminator_loss(full(0), full(0)), torch.tensor(0.5))  # (1 + 0) / 2
    torch.testing.assert_close(loss.generator_loss(full(0.5)), torch.tensor(0.25))
    smoothed = AdversarialLoss("lsgan", real_label=0.9)
    torch.testing.assert_close(smoothed.discriminator_loss(full(0.9), full(0)), torch.tensor(0.0))


def test_hinge_known_values():
    loss = AdversarialLoss("hinge")
    assert loss.discriminator_loss(full(2), full(-2)) == 0
    torch.testing.assert_close(loss.discriminator_loss(full(0), full(0)), torch.tensor(1.0))
    torch.testing.assert_close(loss.discriminator_loss(full(0.5), full(-2)), torch.tensor(0.25))
    torch.testing.assert_close(loss.generator_loss(full(3)), torch.tensor(-3.0))


def test_relativistic_needs_real_logits_for_the_generator():
    loss = AdversarialLoss("relativistic")
    with pytest.raises(ValueError, match="real_logits"):
        loss.generator_loss(full(0))
    # equal logits: each side is BCE(0, label) = log 2
    torch.testing.assert_close(loss.discriminator_loss(full(1), full(1)), torch.tensor(math.log(2)))


@pytest.mark.parametrize("mode", ADVERSARIAL_MODES)
def test_multi_scale_lists_are_averaged(mode):
    loss = AdversarialLoss(mode)
    reals = [torch.randn(2, 1, 6, 6), torch.randn(2, 1, 2, 2)]
    fakes = [torch.randn(2, 1, 6, 6), torch.randn(2, 1, 2, 2)]
    expected_d = (loss.discriminator_loss(reals[0], fakes[0]) + loss.discriminator_loss(reals[1], fakes[1])) / 2
    torch.testing.assert_close(loss.discriminator_loss(reals, fakes), expected_d)
    expected_g = (loss.generator_loss(fakes[0], reals[0]) + loss.generator_loss(fakes[1], reals[1])) / 2
    torch.testing.assert_close(loss.generator_loss(fakes, reals), expected_g)
    with pytest.raises(ValueError, match="real and"):
        loss.discriminator_loss(reals[:1], fakes)


def test_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        AdversarialLoss("wgan")


def test_r1_penalty_zero_for_a_constant_discriminator():
    real = torch.rand(2, 1, 8, 8, requires_grad=True)
    constant = nn.Conv2d(1, 1, 3)
    with torch.no_grad():
        constant.weight.zero_()
        constant.bias.fill_(0.7)
    assert r1_penalty(constant(real), real) == 0
    assert r1_penalty(torch.ones(2, 1) + 0 * real.sum(), real) == 0


def test_r1_penalty_of_a_linear_discriminator():
    """D(x) = sum(w * x) has gradient w everywhere: the penalty is |w|^2 per sample."""
    real = torch.rand(3, 1, 4, 4, requires_grad=True)
    weight = torch.randn(1, 1, 4, 4)
    logits = (real * weight).flatten(1).sum(1, keepdim=True)
    torch.testing.assert_close(r1_penalty(logits, real), weight.pow(2).sum())
    # a list (multi-scale) sums the logits
    torch.testing.assert_close(r1_penalty([logits, logits], real), 4 * weight.pow(2).sum())


def test_r1_penalty_back_propagates_to_the_discriminator():
    discriminator = nn.Sequential(nn.Conv2d(1, 2, 3), nn.LeakyReLU(0.2), nn.Conv2d(2, 1, 3))
    real = torch.rand(2, 1, 8, 8, requires_grad=True)
    r1_penalty(discriminator(real), real).backward()
    assert all(p.grad is not None for p in discriminator.parameters() if p.ndim > 1)


def test_r1_penalty_requires_grad_on_input():
    real = torch.rand(2, 1, 8, 8)
    with pytest.raises(ValueError, match="requires_grad"):
        r1_penalty(nn.Conv2d(1, 1, 3)(real), real)
