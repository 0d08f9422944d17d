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

IN_PLANE_AXES: tuple[int, int] = (0, 1)
"""Axes of the acquisition plane: both axes of a 2D image, the first two of a 3D volume (X, Y, Z)."""


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


class Sampler(Protocol):
    """Draws a deterministic operator from a numpy Generator: `sampler.sample(rng) -> Operator`."""

    def sample(self, rng: np.random.Generator) -> Operator: ...


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

    def advance(
        self,
        state: Degraded,
        image: np.ndarray,
        *,
        maps: dict[str, np.ndarray] | None = None,
        zoom: tuple[float, ...] | None = None,
        **recorded: Any,
    ) -> Degraded:
        """The next state of a chain: a new `Degraded` whose params end with this operator's description.

        Args:
            state: the state the operator was applied to (left unchanged).
            image: the new image (stored as float32).
            maps: the new maps, on the new image's grid; default: a shallow copy of `state.maps`.
            zoom: per-axis factor multiplied into `state.zoom` (voxel size old / new); default: unchanged.
            **recorded: values resolved while applying (absolute sigma, drawn coefficients, ...), stored
                next to `describe()`.
        """
        new_zoom = state.zoom if state.zoom is not None else (1.0,) * np.ndim(state.image)
        if zoom is not None:
            new_zoom = tuple(float(a) * float(b) for a, b in zip(new_zoom, zoom, strict=True))
        entry = {**self.describe(), **{k: _plain(v) for k, v in recorded.items()}}
        return Degraded(
            image=np.asarray(image, dtype=np.float32),
            maps=dict(state.maps) if maps is None else maps,
            params=[*state.params, entry],
            source_shape=state.source_shape if state.source_shape is not None else tuple(np.shape(state.image)),
            zoom=tuple(new_zoom),
        )


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def seed_of(rng: np.random.Generator) -> int:
    """An operator seed drawn from a Generator (what samplers store in the operators they return)."""
    return int(rng.integers(0, 2**31 - 1))


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
