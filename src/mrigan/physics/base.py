"""Degradation operators: deterministic given their parameters, randomness drawn separately from a seed.

An operator maps a clean image (2D or 3D numpy array) to a `Degraded` record: the degraded image, auxiliary
maps a model may be conditioned on (a "sigma" map for noise, a "mask" with 1 = known / 0 = missing for holes)
and the parameters that were used. Samplers (`Random*`) draw an operator's parameters from a numpy Generator,
so the same seed always gives the same pair and the parameters travel with the sample.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any, Protocol

import numpy as np


@dataclass
class Degraded:
    """A degraded image with what it takes to reproduce and to condition on it.

    Attributes:
        image: the degraded image (float32). May have another shape than the input (resolution loss).
        maps: auxiliary maps on the degraded image's grid: "sigma" (noise std per voxel), "mask"
            (1 known, 0 missing), ...
        params: the parameters of every operator applied, in order, as JSON-friendly dicts.
        source_shape: shape of the clean image the chain started from (what a restorer must return).
        zoom: per-axis ratio of output to input size (1.0 where unchanged).
    """

    image: np.ndarray
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    params: list[dict[str, Any]] = field(default_factory=list)
    source_shape: tuple[int, ...] | None = None
    zoom: tuple[float, ...] | None = None


class Operator(Protocol):
    """Anything that degrades: `op(x) -> Degraded` or `op.apply(degraded) -> Degraded` for chaining."""

    def apply(self, state: Degraded) -> Degraded: ...


class OperatorBase:
    """Shared plumbing: `__call__` on an array, `apply` on a `Degraded` chain, parameters as a dict."""

    name: str = "operator"

    def __call__(self, x: np.ndarray) -> Degraded:
        x = np.asarray(x, dtype=np.float32)
        return self.apply(Degraded(image=x, source_shape=tuple(x.shape), zoom=(1.0,) * x.ndim))

    def apply(self, state: Degraded) -> Degraded:  # pragma: no cover - overridden
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """JSON-friendly parameters, with the operator's name under "op"."""
        values = asdict(self) if is_dataclass(self) else dict(vars(self))
        return {"op": self.name, **{k: _plain(v) for k, v in values.items()}}


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


class Compose(OperatorBase):
    """Apply operators in order; maps are merged (a later "mask" is combined with an earlier one)."""

    name = "compose"

    def __init__(self, *operators: Operator) -> None:
        self.operators = list(operators)

    def apply(self, state: Degraded) -> Degraded:
        for op in self.operators:
            state = op.apply(state)
        return state

    def describe(self) -> dict[str, Any]:
        return {"op": self.name, "operators": [op.describe() for op in self.operators]}
