"""Loss-weight schedules."""

from __future__ import annotations

import math


class AnnealedWeight:
    """A loss weight rising from `start` to `target` over the first `warmup_steps` steps, then constant.

    Seed 000 anneals lambda_ssim from 0 to its target in [0, 1] over the first epochs. The value depends on
    the step only (no state), so a resumed run gets the same weights.

    Args:
        target: the final weight.
        warmup_steps: steps to reach it; 0 gives `target` from step 0.
        start: the weight at step 0.
        shape: "linear" or "cosine" (half-cosine ease-in-out).

    Example:
        >>> weight = AnnealedWeight(target=0.5, warmup_steps=100)
        >>> weight(0), weight(50), weight(100), weight(1000)
        (0.0, 0.25, 0.5, 0.5)
    """

    def __init__(self, target: float, warmup_steps: int, start: float = 0.0, shape: str = "linear") -> None:
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
        if shape not in ("linear", "cosine"):
            raise ValueError(f"shape must be 'linear' or 'cosine', got {shape!r}")
        self.target = float(target)
        self.warmup_steps = int(warmup_steps)
        self.start = float(start)
        self.shape = shape

    def __call__(self, step: int) -> float:
        """The weight at `step` (0-based; negative steps count as 0)."""
        if self.warmup_steps == 0 or step >= self.warmup_steps:
            return self.target
        fraction = max(step, 0) / self.warmup_steps
        if self.shape == "cosine":
            fraction = 0.5 - 0.5 * math.cos(math.pi * fraction)
        return self.start + (self.target - self.start) * fraction

    def __repr__(self) -> str:
        return (
            f"AnnealedWeight(target={self.target}, warmup_steps={self.warmup_steps}, start={self.start}, "
            f"shape={self.shape!r})"
        )
