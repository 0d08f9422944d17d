"""A trained model with the call shape of the classical baselines, so the bench can score it beside them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mrigan.inference.enhancer import Enhancer
    from mrigan.physics.base import Degraded

METHOD_TASKS = ("denoise", "inpaint")


class ModelMethod:
    """`method(degraded) -> restored`, as `mrigan.baselines.base.Method`, for a restoration model.

    Uses `degraded.maps["mask"]` (1 known, 0 missing) and `degraded.maps["sigma"]` (absolute noise std)
    when present. Denoising without a sigma map estimates the level; inpainting without one assumes no
    noise. Inpainting keeps the known pixels of the input exactly.

    Args:
        enhancer: the loaded model.
        task: "denoise" or "inpaint".
        normalise: normalise the input as the model card says and map the output back (a sigma map is then
            divided by the normalisation range). False: the input already lies in [0, 1], as the bench's
            does, and the sigma map is passed straight through.
        name: table name; default the model's name.
    """

    per = "slice"
    slow = False

    def __init__(self, enhancer: Enhancer, *, task: str = "denoise", normalise: bool = False,
                 name: str | None = None) -> None:
        if task not in METHOD_TASKS:
            raise ValueError(f"task must be one of {METHOD_TASKS}, got {task!r}")
        self.enhancer = enhancer
        self.task = task
        self.normalise = normalise
        self.name = name or enhancer.name

    def available(self) -> str | None:
        """None: a loaded model can always run."""
        return None

    def __call__(self, degraded: Degraded) -> np.ndarray:
        """Restore `degraded.image`; returns float32 of its shape (the task keeps the grid)."""
        from mrigan.baselines.base import source_shape
        from mrigan.inference.enhancer import as_known_mask
        from mrigan.inference.intensity import IntensityScaling, zero_background

        image = np.asarray(degraded.image, dtype=np.float32)
        if source_shape(degraded) != image.shape:
            raise ValueError(f"{self.name} keeps the grid: input {image.shape}, expected {source_shape(degraded)}")
        known = as_known_mask(degraded.maps["mask"], image.shape) if "mask" in degraded.maps else None
        sigma = degraded.maps.get("sigma")
        if sigma is not None:
            sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float32), image.shape)
        scaling = None
        data = image
        if self.normalise:
            scaling = IntensityScaling.from_card(image, self.enhancer.intensity, known=known)
            data = scaling.normalise(image)
            sigma = None if sigma is None else sigma / scaling.scale
        output, _, info = self.enhancer.restore_normalised(data, mode=self.task, known=known, noise_sigma=sigma)
        if scaling is not None:
            output = scaling.denormalise(output, zero=zero_background(image, known=known))
        if info["mode"] == "inpaint" and known is not None:
            output = np.where(known, image, output)
        return np.asarray(output, dtype=np.float32)

    def __repr__(self) -> str:
        return f"ModelMethod(name={self.name!r}, task={self.task!r}, normalise={self.normalise})"
