"""Upscaler: a trained super-resolution model on scans, with the Enhancer's interface for `mrigan enhance`.

Images and volumes are normalised as the card says, upscaled in plane (the first two axes) slice by slice, mapped
back to the input's units, and returned on a grid whose voxel size is divided by the model's scale (the field of
view is kept, see `Volume.with_data`). With `through_plane=True` a thick-slice volume gets finer slices instead
(the last axis; `mrigan.tasks.super_resolve.upscale_through_plane`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mrigan.errors import InputError
from mrigan.inference.enhancer import EnhanceResult, LoadedModel
from mrigan.inference.intensity import DEFAULT_INTENSITY, IntensityScaling, zero_background

if TYPE_CHECKING:
    import torch
    from torch import nn

    from mrigan.io.volume import Volume


class Upscaler(LoadedModel):
    """A loaded `super_resolve` model.

    Args:
        model: the network (a `SuperResolutionNet`; eval mode is set here).
        card: its model card, with a "super_resolution" entry (scale, input kind, multiple).
        device: where to run.
        source: the card or weights file it came from.
    """

    def __init__(self, model: nn.Module, card: dict[str, Any], *, device: str | torch.device = "cpu",
                 source: Path | None = None) -> None:
        import torch

        self.card = dict(card)
        self.source = Path(source) if source is not None else None
        info = self.card.get("super_resolution")
        if not isinstance(info, dict) or "scale" not in info:
            raise InputError(self.source or "model", "a super-resolution card without its scale")
        self.scale = int(info["scale"])
        self.minimum = int(info.get("fixed_input_size") or info.get("multiple") or 1)
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.intensity = {**DEFAULT_INTENSITY, **dict(self.card.get("intensity") or {})}

    task = property(lambda self: "super_resolve")

    def check_options(self, *, mode: str, uncertainty: str | None, samples: int, batch_size: int,
                      label: int | None, scale: int | None = None, **_: Any) -> None:
        """Refuse what an SR model cannot do (masks, uncertainty, another scale)."""
        if scale is not None and scale != self.scale:
            raise ValueError(f"--scale {scale}: this model upscales by {self.scale} only")
        if uncertainty is not None:
            raise ValueError("--uncertainty is for restoration models; a super-resolution model gives none")
        if mode == "inpaint" or label is not None:
            raise ValueError("--mode inpaint and --label are for restoration models, not super-resolution")

    def restore(self, volume: Volume, *, mask: np.ndarray | None = None, batch_size: int = 8,
                through_plane: bool = False, **_: Any) -> EnhanceResult:
        """Upscale a 2D image or each axial slice of a volume in plane, or a volume's slices (`through_plane`).

        Raises:
            ValueError: a mask, an image smaller than the model's minimum, a volume without voxel sizes, or
                `through_plane` for a 2D image.
        """
        import torch

        from mrigan.tasks.super_resolve import upscale, upscale_through_plane

        start = time.perf_counter()
        if mask is not None:
            raise ValueError("a mask is for inpainting; super-resolution takes none")
        data = np.asarray(volume.data, dtype=np.float32)
        if data.ndim not in (2, 3):
            raise ValueError(f"expected a 2D image or a 3D volume, got shape {data.shape}")
        if through_plane and data.ndim != 3:
            raise ValueError("through-plane upscaling needs a 3D volume (thick slices along the last axis)")
        planes = [data.shape[0], data.shape[2]] if through_plane else list(data.shape[:2])
        if min(planes) < self.minimum:
            raise ValueError(f"image size {tuple(planes)} is smaller than this model's minimum {self.minimum}")
        spacing = np.asarray(volume.spacing, dtype=float)
        if data.ndim == 3 and (spacing.size < 3 or not np.all(np.isfinite(spacing)) or np.any(spacing <= 0)):
            raise ValueError("the volume has no valid voxel size, so the upscaled grid cannot be written")
        scaling = IntensityScaling.from_card(data, self.intensity)
        run = upscale_through_plane if through_plane else upscale
        with torch.inference_mode():
            upscaled = run(self.model, self.card, scaling.normalise(data), batch_size=batch_size)
        # the input's zero background stays 0 (a voxel away from the object, so edge voxels keep the model's values)
        zero = zero_background(data, margin=1)
        for axis in (2,) if through_plane else (0, 1):
            zero = np.repeat(zero, self.scale, axis=axis)
        restored = scaling.denormalise(upscaled, zero=zero[tuple(slice(0, n) for n in upscaled.shape)])
        if through_plane:
            zoom: tuple[float, ...] = (1.0, 1.0, float(self.scale))
        else:
            zoom = (float(self.scale), float(self.scale), *([1.0] if data.ndim == 3 else []))
        info = {
            "mode": "super_resolve", "mode_requested": "super_resolve", "scale": self.scale,
            "axes": "through-plane" if through_plane else "in-plane",
            "noise_sigma": None, "noise_sigma_source": "not used", "mask": None, "uncertainty": None,
            "samples": 0, "slices": 1 if data.ndim == 2 else data.shape[-1], "batch_size": batch_size,
            "device": str(self.device), "model": self.name, "intensity": scaling.describe(),
            "seconds": time.perf_counter() - start,
        }
        return EnhanceResult(volume=volume.with_data(restored, zoom=zoom), uncertainty=None, info=info)
