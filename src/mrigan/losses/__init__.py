"""Losses. Each is an `nn.Module` whose `forward` takes named tensors (prediction first, then target and
any mask) and returns a scalar tensor; `AdversarialLoss` adds `generator_loss` / `discriminator_loss`.
"""

from __future__ import annotations

from mrigan.losses.adversarial import ADVERSARIAL_MODES, AdversarialLoss, r1_penalty
from mrigan.losses.distribution import IntensityDistributionLoss
from mrigan.losses.perceptual import PerceptualLoss
from mrigan.losses.reconstruction import (
    CycleLoss,
    GradientDifferenceLoss,
    IdentityLoss,
    IntensityConsistencyLoss,
    MaskedL1,
)
from mrigan.losses.schedule import AnnealedWeight
from mrigan.losses.ssim import SSIMLoss

__all__ = [
    "ADVERSARIAL_MODES",
    "AdversarialLoss",
    "AnnealedWeight",
    "CycleLoss",
    "GradientDifferenceLoss",
    "IdentityLoss",
    "IntensityConsistencyLoss",
    "IntensityDistributionLoss",
    "MaskedL1",
    "PerceptualLoss",
    "SSIMLoss",
    "r1_penalty",
]
