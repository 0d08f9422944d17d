"""Unpaired intensity-distribution matching: a translation's histogram inside the brain against real scans'."""

from __future__ import annotations

from collections import deque
from typing import Any

import torch
from torch import nn


class IntensityDistributionLoss(nn.Module):
    """Pulls the intensities of translations inside the brain towards the target domain's histogram.

    A CycleGAN's patch discriminators (instance-normalised) hardly see an image's overall levels, so a
    translation can render a tissue a few hundredths too bright and no term corrects it. Without pairs, the
    levels are still set by the target domain's histogram: each translated voxel's target is the real scans'
    intensity at the same quantile, i.e. histogram matching's transport map. One batch of crops holds too few
    tissues for that map (a crop of white matter would be pulled towards the quantiles of a crop of cortex), so
    both histograms come from pools: the last `pool` batches of real voxels and of translated ones (detached;
    the current batch's voxels are ranked among them). The loss is mean |x - target(x)| over the current
    batch's sampled voxels, the target detached.

    Real scans carry acquisition noise, which widens their histogram; a noise-free translation matched to it
    would be pushed towards grain. `noise` adds N(0, noise^2) to the translation before ranking it (judging it
    as acquired, as AmbientGAN does), so the histograms compared are both of noisy images.

    Args:
        pool: batches of voxels kept per side.
        samples: voxels drawn per batch and side (all of them when fewer lie inside the mask).
        noise: standard deviation of the noise added to translations, on the [0, 1] scale.
    """

    def __init__(self, pool: int = 64, samples: int = 4096, noise: float = 0.0) -> None:
        super().__init__()
        if pool < 1 or samples < 1:
            raise ValueError(f"pool and samples must be >= 1, got {pool} and {samples}")
        if noise < 0:
            raise ValueError(f"noise must be >= 0, got {noise}")
        self.pool, self.samples, self.noise = int(pool), int(samples), float(noise)
        self.real: deque[torch.Tensor] = deque(maxlen=self.pool)
        self.translated: deque[torch.Tensor] = deque(maxlen=self.pool)

    def extra_repr(self) -> str:
        return f"pool={self.pool}, samples={self.samples}, noise={self.noise}"

    def _sample(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if mask.shape != images.shape:
            raise ValueError(f"{type(self).__name__}: mask {tuple(mask.shape)} and images "
                             f"{tuple(images.shape)} differ")
        values = images.float().flatten()[mask.flatten() > 0.5]
        if values.numel() > self.samples:
            values = values[torch.randperm(values.numel(), device=values.device)[: self.samples]]
        return values

    def forward(self, translation: torch.Tensor, mask: torch.Tensor, real: torch.Tensor,
                real_mask: torch.Tensor) -> torch.Tensor:
        """Args: translation (N, 1, *S) and its brain `mask`; a batch of `real` target-domain scans and their
        `real_mask` (any N and size). Returns a scalar; 0 (with a graph) while either side has no voxel yet."""
        real_values = self._sample(real.detach(), real_mask)
        if real_values.numel():
            self.real.append(real_values.cpu())
        values = self._sample(translation, mask)
        if self.noise > 0:
            values = values + self.noise * torch.randn_like(values)
        if not values.numel() or not self.real:
            return translation.sum() * 0.0
        reference = torch.sort(torch.cat(list(self.real)).to(values.device)).values
        ranked = torch.sort(torch.cat([*(v.to(values.device) for v in self.translated), values.detach()])).values
        self.translated.append(values.detach().cpu())
        quantile = (torch.searchsorted(ranked, values.detach(), side="left") +
                    torch.searchsorted(ranked, values.detach(), side="right")).float() * 0.5 / ranked.numel()
        position = (quantile * (reference.numel() - 1)).clamp(0, reference.numel() - 1)
        low = position.floor().long()
        high = (low + 1).clamp_max(reference.numel() - 1)
        target = torch.lerp(reference[low], reference[high], position - low.float())
        return (values - target).abs().mean()

    def get_extra_state(self) -> dict[str, Any]:
        return {"real": list(self.real), "translated": list(self.translated)}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.real = deque(state["real"], maxlen=self.pool)
        self.translated = deque(state["translated"], maxlen=self.pool)
