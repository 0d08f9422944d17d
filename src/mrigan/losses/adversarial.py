"""Adversarial losses on raw discriminator logits, and the R1 gradient penalty."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

ADVERSARIAL_MODES = ("vanilla", "lsgan", "hinge", "relativistic")

Logits = torch.Tensor | Sequence[torch.Tensor]


def _as_list(logits: Logits, name: str) -> list[torch.Tensor]:
    items = [logits] if isinstance(logits, torch.Tensor) else list(logits)
    if not items:
        raise ValueError(f"{name} is empty")
    return items


class AdversarialLoss(nn.Module):
    """GAN losses for generator and discriminator, on logits (the discriminators return no sigmoid).

    Modes, with D the logits, r real and f fake (means over all logits; label `real_label` is 1 unless
    smoothed):

    * "vanilla" (non-saturating BCE; pix2pix, UMR-GAN, seeds 001 / 004): D: BCE(D(r), 1), BCE(D(f), 0);
      G: BCE(D(f), 1).
    * "lsgan" (Mao et al., 2017; CycleGAN): D: (D(r) - 1)^2, D(f)^2; G: (D(f) - 1)^2.
    * "hinge" (Lim & Ye, 2017; SN-GAN): D: relu(1 - D(r)), relu(1 + D(f)); G: -D(f).
    * "relativistic" (relativistic average GAN; ESRGAN, seed 002): D: BCE(D(r) - mean D(f), 1),
      BCE(D(f) - mean D(r), 0); G: the same with labels swapped, so `generator_loss` needs `real_logits`.

    The discriminator loss is the mean of its real and fake terms (the halving of pix2pix and of seed 004's
    eq. 1). Lists of logits (multi-scale discriminators) give the mean of the per-scale losses. `forward` is
    `generator_loss`.

    Args:
        mode: one of "vanilla", "lsgan", "hinge", "relativistic".
        real_label: target for real samples in "vanilla" and "lsgan" (e.g. 0.9 for one-sided label smoothing).
    """

    def __init__(self, mode: str = "vanilla", real_label: float = 1.0) -> None:
        super().__init__()
        if mode not in ADVERSARIAL_MODES:
            raise ValueError(f"mode must be one of {ADVERSARIAL_MODES}, got {mode!r}")
        self.mode = mode
        self.real_label = float(real_label)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, real_label={self.real_label}"

    def _towards(self, logits: torch.Tensor, real: bool) -> torch.Tensor:
        """The loss pushing `logits` towards the real (True) or fake (False) label, for vanilla and lsgan."""
        logits = logits.float()
        target = torch.full_like(logits, self.real_label if real else 0.0)
        if self.mode == "vanilla":
            return F.binary_cross_entropy_with_logits(logits, target)
        return F.mse_loss(logits, target)

    def generator_loss(self, fake_logits: Logits, real_logits: Logits | None = None) -> torch.Tensor:
        """Loss of the generator (lower when the discriminator takes its samples for real).

        Args:
            fake_logits: D's logits on generated samples (a tensor, or one per scale).
            real_logits: D's logits on real samples; required by "relativistic", ignored otherwise.

        Returns:
            A scalar tensor.
        """
        fakes = _as_list(fake_logits, "fake_logits")
        if self.mode == "relativistic":
            if real_logits is None:
                raise ValueError("the relativistic generator loss needs real_logits")
            reals = _as_list(real_logits, "real_logits")
            if len(reals) != len(fakes):
                raise ValueError(f"got {len(reals)} real and {len(fakes)} fake logit maps")
            losses = [self._relativistic(fake, real) for real, fake in zip(reals, fakes, strict=True)]
        elif self.mode == "hinge":
            losses = [-fake.float().mean() for fake in fakes]
        else:
            losses = [self._towards(fake, real=True) for fake in fakes]
        return torch.stack(losses).mean()

    def discriminator_loss(self, real_logits: Logits, fake_logits: Logits) -> torch.Tensor:
        """Loss of the discriminator (lower when real logits are high and fake logits low).

        Args:
            real_logits: D's logits on real samples (a tensor, or one per scale).
            fake_logits: D's logits on generated samples, detached from the generator's graph by the caller.

        Returns:
            A scalar tensor: the mean of the real and fake terms, averaged over scales.
        """
        reals = _as_list(real_logits, "real_logits")
        fakes = _as_list(fake_logits, "fake_logits")
        if len(reals) != len(fakes):
            raise ValueError(f"got {len(reals)} real and {len(fakes)} fake logit maps")
        losses = []
        for real, fake in zip(reals, fakes, strict=True):
            if self.mode == "relativistic":
                losses.append(self._relativistic(real, fake))
            elif self.mode == "hinge":
                losses.append(0.5 * (F.relu(1.0 - real.float()).mean() + F.relu(1.0 + fake.float()).mean()))
            else:
                losses.append(0.5 * (self._towards(real, real=True) + self._towards(fake, real=False)))
        return torch.stack(losses).mean()

    @staticmethod
    def _relativistic(winner: torch.Tensor, loser: torch.Tensor) -> torch.Tensor:
        """RaGAN loss that `winner` should look more real than the average `loser`, and vice versa."""
        winner, loser = winner.float(), loser.float()
        ahead = F.binary_cross_entropy_with_logits(winner - loser.mean(), torch.ones_like(winner))
        behind = F.binary_cross_entropy_with_logits(loser - winner.mean(), torch.zeros_like(loser))
        return 0.5 * (ahead + behind)

    def forward(self, fake_logits: Logits, real_logits: Logits | None = None) -> torch.Tensor:
        """Same as `generator_loss`."""
        return self.generator_loss(fake_logits, real_logits)


def r1_penalty(real_logits: Logits, real_input: torch.Tensor) -> torch.Tensor:
    """R1 gradient penalty (Mescheder et al., 2018): mean over the batch of |grad_x D(x)|^2 on real samples.

    The caller scales it (usually by gamma / 2) and adds it to the discriminator loss. The graph is kept
    (`create_graph=True`) so the penalty can be back-propagated.

    Args:
        real_logits: D's logits on `real_input` (a tensor or one per scale; they are summed).
        real_input: the real batch given to D; it must have `requires_grad=True` before D is run.

    Returns:
        A scalar tensor, 0 for a discriminator whose output does not depend on its input.
    """
    if not real_input.requires_grad:
        raise ValueError("real_input must require grad before the discriminator is run: real.requires_grad_(True)")
    total = sum(logits.float().sum() for logits in _as_list(real_logits, "real_logits"))
    (gradient,) = torch.autograd.grad(total, real_input, create_graph=True, allow_unused=True)
    if gradient is None:
        return real_input.new_zeros(())
    return gradient.float().pow(2).flatten(1).sum(1).mean()
