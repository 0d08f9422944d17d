"""The call shape every enhancement method shares, a trained model's wrapper and a classical baseline alike.

A method is an object with `name` (short, for tables), `task` ("denoise", "inpaint", "sr", "translate"),
`per` ("slice": a 3D input is processed one slice at a time along its last axis; "volume": in one go),
`available()` (None when usable, else the reason) and `__call__(degraded) -> np.ndarray`, which returns the
restored image with the shape of the clean image, `degraded.source_shape`. 2D (H, W) and 3D (X, Y, Z) inputs
both work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from mrigan.physics.base import Degraded

TASKS = ("denoise", "inpaint", "sr", "translate")


@runtime_checkable
class Method(Protocol):
    """What the bench, the CLI and the UI call: a baseline or a trained model."""

    name: str
    task: str
    per: str

    def available(self) -> str | None: ...

    def __call__(self, degraded: Degraded) -> np.ndarray: ...


class Baseline:
    """Shared plumbing of the classical methods: input checks, the slice loop and the output shape check.

    Subclasses set `name`, `task`, `per` and implement `restore(image, degraded)`; with per = "slice" and a 3D
    input, use `self.each_slice(...)` inside it (the denoisers also need the whole volume to fix sigma once).
    """

    name: str = "baseline"
    task: str = "denoise"
    per: str = "slice"
    slow: bool = False  # minutes per volume on a laptop CPU: left out of `mrigan bench --quick` unless named

    def available(self) -> str | None:
        """None when the method can run here, else the reason (a missing optional package)."""
        return None

    def __call__(self, degraded: Degraded) -> np.ndarray:
        """Restore `degraded.image`.

        Args:
            degraded: the degraded image with its maps, parameters, source shape and zoom.

        Returns:
            The restored float32 image, shape `degraded.source_shape`.

        Raises:
            RuntimeError: the method is not available here (the reason is in the message).
        """
        reason = self.available()
        if reason is not None:
            raise RuntimeError(f"{self.name} is not available: {reason}")
        image = np.asarray(degraded.image, dtype=np.float32)
        if image.ndim not in (2, 3):
            raise ValueError(f"{self.name} takes 2D or 3D images, got shape {image.shape}")
        restored = np.asarray(self.restore(image, degraded), dtype=np.float32)
        expected = source_shape(degraded)
        if restored.shape != expected:  # a bug in the method, not in the caller's data
            raise RuntimeError(f"{self.name} returned shape {restored.shape}, expected {expected}")
        return restored

    def restore(self, image: np.ndarray, degraded: Degraded) -> np.ndarray:  # pragma: no cover - abstract
        """The method proper: `image` is `degraded.image` as float32, 2D or 3D."""
        raise NotImplementedError

    def each_slice(self, function: Callable[..., np.ndarray], image: np.ndarray, *maps: np.ndarray) -> np.ndarray:
        """Apply `function(slice, *map_slices)` to a 2D image, or to each slice along the last axis of a 3D one.

        Args:
            function: 2D -> 2D restorer.
            image: 2D or 3D image.
            *maps: arrays on the image's grid, sliced alongside it.

        Returns:
            The results, stacked back along the last axis for a 3D input.
        """
        if image.ndim == 2:
            return function(image, *maps)
        plane = np.ascontiguousarray  # slices along the last axis are strided; some libraries need C order
        return np.stack(
            [function(plane(image[..., k]), *(plane(m[..., k]) for m in maps)) for k in range(image.shape[-1])],
            axis=-1,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, task={self.task!r}, per={self.per!r})"


def source_shape(degraded: Degraded) -> tuple[int, ...]:
    """The shape a restorer must return: `degraded.source_shape`, or the image's own shape if unset."""
    if degraded.source_shape is not None:
        return tuple(int(n) for n in degraded.source_shape)
    return tuple(np.shape(degraded.image))


class Identity(Baseline):
    """The input as it is, a table's floor row: "noisy" for denoising, "masked" for inpainting.

    Args:
        name: row name.
        task: the task it is a row of.
    """

    per = "volume"

    def __init__(self, name: str = "noisy", task: str = "denoise") -> None:
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        self.name, self.task = name, task

    def restore(self, image: np.ndarray, degraded: Degraded) -> np.ndarray:
        if image.shape != source_shape(degraded):
            raise ValueError(f"{self.name} cannot change the shape {image.shape} to {source_shape(degraded)}")
        return image
