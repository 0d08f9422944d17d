"""MR artefacts through TorchIO: smooth bias field, rigid motion during the scan, ghosting.

The operators take and return numpy arrays like the others; TorchIO (and torch) are imported only when one is
applied. Randomness is drawn here from the operator's `seed` with numpy and handed to TorchIO's deterministic
transforms (`tio.Motion`, `tio.Ghosting`, `tio.BiasField`), so the torch random state is never used. Images
are given to TorchIO with an identity affine: distances (motion translation) are in voxels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mrigan.physics.base import Degraded, OperatorBase


def _bias_coefficient_count(order: int) -> int:
    """Number of polynomial terms x^i y^j z^k with i + j + k <= order (TorchIO's basis)."""
    return (order + 1) * (order + 2) * (order + 3) // 6


def _as_torchio_image(image: np.ndarray, *, slice_last: bool = True) -> Any:
    """A one-channel `tio.ScalarImage`: (H, W) -> (1, H, W, 1), or (1, 1, H, W) if not `slice_last`."""
    import torch
    import torchio as tio

    data = np.asarray(image, dtype=np.float32)
    if data.ndim == 2:
        data = data[None, :, :, None] if slice_last else data[None, None, :, :]
    elif data.ndim == 3:
        data = data[None]
    else:
        raise ValueError(f"expected a 2D or 3D image, got shape {image.shape}")
    return tio.ScalarImage(tensor=torch.from_numpy(np.ascontiguousarray(data)), affine=np.eye(4))


def _from_torchio(image: Any, shape: tuple[int, ...]) -> np.ndarray:
    return image.data.numpy().reshape(shape).astype(np.float32)


@dataclass
class BiasField(OperatorBase):
    """Smooth multiplicative intensity inhomogeneity: exp of a polynomial of degree `order` (TorchIO's model).

    The field is recorded in `maps["bias"]` (multiplied into one already there); a "sigma" map is multiplied
    by it too, since noise already present is scaled with the signal.

    Args:
        coefficients: the polynomial coefficients in TorchIO's order ((order+1)(order+2)(order+3)/6 values);
            None: drawn uniformly from [-strength, strength] with `seed`.
        order: polynomial degree.
        strength: largest magnitude of a drawn coefficient (0.3 gives about +-30 % to +-60 % variation).
        seed: seed for drawing the coefficients.
    """

    coefficients: tuple[float, ...] | None = None
    order: int = 3
    strength: float = 0.3
    seed: int = 0
    name = "bias_field"

    def resolved_coefficients(self) -> list[float]:
        """The coefficients applied: the given ones, or those drawn from the seed."""
        count = _bias_coefficient_count(self.order)
        if self.coefficients is not None:
            if len(self.coefficients) != count:
                raise ValueError(f"order {self.order} needs {count} coefficients, got {len(self.coefficients)}")
            return [float(c) for c in self.coefficients]
        rng = np.random.default_rng(self.seed)
        return [float(c) for c in rng.uniform(-self.strength, self.strength, size=count)]

    def field(self, shape: tuple[int, ...]) -> np.ndarray:
        """The multiplicative field on a grid of `shape`."""
        import torchio as tio

        tensor = _as_torchio_image(np.zeros(shape, dtype=np.float32)).data
        field = tio.BiasField.generate_bias_field(tensor, self.order, self.resolved_coefficients())
        return np.asarray(field, dtype=np.float32).reshape(shape)

    def apply(self, state: Degraded) -> Degraded:
        field = self.field(tuple(state.image.shape))
        maps = dict(state.maps)
        maps["bias"] = field * maps["bias"] if "bias" in maps else field
        if "sigma" in maps:
            maps["sigma"] = (maps["sigma"] * field).astype(np.float32)
        return self.advance(state, state.image * field, maps=maps, coefficients_used=self.resolved_coefficients())


@dataclass
class Motion(OperatorBase):
    """Rigid head motion during the acquisition (Shaw et al. 2019), through `tio.Motion`.

    `num_transforms` movements happen at random times; k-space is assembled from the moved copies, segment
    by segment along the last axis (the phase-encoding direction here), which gives ghosts and blurring.
    A 2D image is handed to TorchIO as one 1-voxel-thick slab whose last axis is the image's second axis, so
    it rotates in-plane and moves in-plane only. Maps are left as they were.

    Args:
        degrees: rotations are drawn from U(-degrees, degrees) around each axis.
        translation: translations are drawn from U(-translation, translation) voxels along each axis.
        num_transforms: number of movements.
        seed: seed of the movements and their times.
    """

    degrees: float = 5.0
    translation: float = 5.0
    num_transforms: int = 2
    seed: int = 0
    name = "motion"

    def movements(self, is_2d: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The (degrees, translations, times) drawn from the seed, as TorchIO's `Motion` takes them."""
        rng = np.random.default_rng(self.seed)
        count = int(self.num_transforms)
        degrees = rng.uniform(-self.degrees, self.degrees, size=(count, 3))
        translations = rng.uniform(-self.translation, self.translation, size=(count, 3))
        if is_2d:  # image plane is TorchIO's (axis 1, axis 2): rotate about axis 0, move within the plane
            degrees[:, 1:] = 0.0
            translations[:, 0] = 0.0
        step = 1.0 / (count + 1)
        times = np.arange(1, count + 1) * step + rng.uniform(-0.3 * step, 0.3 * step, size=count)
        return degrees, translations, times

    def apply(self, state: Degraded) -> Degraded:
        import torchio as tio

        image = state.image
        degrees, translations, times = self.movements(image.ndim == 2)
        transform = tio.Motion(degrees=degrees, translation=translations, times=times, image_interpolation="linear")
        moved = transform(_as_torchio_image(image, slice_last=False))
        return self.advance(
            state,
            _from_torchio(moved, tuple(image.shape)),
            degrees_used=degrees,
            translation_used=translations,
            times_used=times,
        )


@dataclass
class Ghosting(OperatorBase):
    """Periodic ghosts along a phase-encoding axis (e.g. from pulsatile flow), through `tio.Ghosting`.

    Every `num_ghosts`-th k-space plane along `axis` is scaled by (1 - intensity); the central `restore`
    fraction of k-space is kept. Deterministic, so there is no seed. Maps are left as they were.

    Args:
        num_ghosts: spacing of the modified k-space planes (number of ghosts).
        axis: phase-encoding axis of the image (0 or 1 for 2D, 0-2 for 3D).
        intensity: artefact strength in [0, 1]; 0 leaves the image unchanged.
        restore: fraction of central k-space to keep intact (None: only the central plane).
    """

    num_ghosts: int = 4
    axis: int = 0
    intensity: float = 0.5
    restore: float | None = None
    name = "ghosting"

    def apply(self, state: Degraded) -> Degraded:
        import torchio as tio

        image = state.image
        if not 0 <= self.axis < image.ndim:
            raise ValueError(f"ghosting axis {self.axis} does not fit a {image.ndim}D image")
        transform = tio.Ghosting(
            num_ghosts=self.num_ghosts, axis=self.axis, intensity=self.intensity, restore=self.restore
        )
        ghosted = transform(_as_torchio_image(image))
        return self.advance(state, _from_torchio(ghosted, tuple(image.shape)))
