"""A trained super-resolution model with the baselines' call shape, so the bench's sr suite can score it.

`run_suite("sr", models=[SRModelMethod("runs/x/best/generator.json")])` runs it beside bicubic, Lanczos and
RFSR; cases of another scale are skipped (`supports`). The model works in plane
(`mrigan.tasks.super_resolve.upscale`); when the degradation also reduced the slice axis by the model's scale
(the real 1 mm -> 0.5 mm pair), the model refines that axis too (`upscale_through_plane`, as
`mrigan enhance --through-plane`), or the bench's bicubic does with `through_plane="bicubic"`. Voxels the
decimation dropped at the far edges are filled by repeating the last row or column.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mrigan.physics.base import Degraded

if TYPE_CHECKING:
    from torch import nn


class SRModelMethod:
    """`method(degraded) -> high-resolution image` for a `super_resolve` model card.

    Args:
        card: the model card (`.json`) or its weights.
        name: table name; default the model's name (a shipped card), else its config's, else the run folder's.
        device: where to run the model.
        through_plane: "model" or "bicubic": what refines a slice axis reduced by the model's scale.
    """

    task = "sr"
    per = "volume"
    slow = False

    def __init__(self, card: str | Path, *, name: str | None = None, device: str = "cpu",
                 through_plane: str = "model") -> None:
        from mrigan.checkpoint import load_model

        generator, loaded = load_model(card, device=device)
        card_name = loaded.get("name")  # a shipped model's; a run exports "generator", named by its config
        run_name = loaded.get("config", {}).get("name") or Path(card).parent.parent.name
        self._setup(generator, loaded, card, name or str(card_name if card_name and card_name != "generator"
                                                         else run_name), through_plane)

    @classmethod
    def from_loaded(cls, generator: nn.Module, card: dict[str, Any], *, name: str,
                    through_plane: str = "model") -> SRModelMethod:
        """Wrap a network already loaded (an `Upscaler`'s, in the web UI) without reading its files again."""
        method = cls.__new__(cls)
        method._setup(generator, card, name, name, through_plane)
        return method

    def _setup(self, generator: nn.Module, card: dict[str, Any], where: str | Path, name: str,
               through_plane: str) -> None:
        from mrigan.errors import InputError

        self.generator, self.card = generator, card
        if self.card.get("task") != "super_resolve" or "super_resolution" not in self.card:
            raise InputError(where, f"not a super-resolution model (task {self.card.get('task')!r})")
        self.scale = int(self.card["super_resolution"]["scale"])
        if through_plane not in ("model", "bicubic"):
            raise ValueError(f"through_plane must be 'model' or 'bicubic', got {through_plane!r}")
        self.through_plane = through_plane
        self.name = name

    def available(self) -> str | None:
        """None: a loaded model can always run."""
        return None

    def supports(self, degraded: Degraded) -> bool:
        """True when the input was reduced by the model's scale on both in-plane axes (the bench skips others)."""
        from mrigan.baselines.upsample import sampling_zoom

        return [round(1.0 / z) for z in sampling_zoom(degraded)[:2]] == [self.scale, self.scale]

    def __call__(self, degraded: Degraded) -> np.ndarray:
        """Super-resolve `degraded.image` onto `degraded.source_shape` (2D, or 3D slice by slice)."""
        import torch

        from mrigan.baselines.base import source_shape
        from mrigan.baselines.upsample import SplineUpsample, sampling_zoom
        from mrigan.tasks.super_resolve import upscale, upscale_through_plane

        target, zoom = source_shape(degraded), sampling_zoom(degraded)
        if not self.supports(degraded):
            raise ValueError(f"{self.name} upscales by {self.scale} in plane; this input needs {zoom[:2]}")
        refine_slices = self.through_plane == "model" and len(zoom) == 3 and round(1.0 / zoom[2]) == self.scale
        with torch.inference_mode():
            output = upscale(self.generator, self.card, degraded.image)
            if refine_slices:
                output = upscale_through_plane(self.generator, self.card, output)
        axes = 3 if refine_slices else 2  # the axes the model upscaled
        pad = [(0, max(0, t - n)) for t, n in zip(target[:axes], output.shape[:axes])]
        output = np.pad(output, pad + [(0, 0)] * (output.ndim - axes), mode="edge")
        output = output[tuple(slice(0, t) for t in target[:axes])]
        if output.shape != tuple(target):  # through-plane: the bench's bicubic along the remaining axis
            output = SplineUpsample(order=3)(Degraded(image=output, source_shape=target, zoom=(1.0, 1.0, *zoom[2:])))
        return np.asarray(output, dtype=np.float32)

    def __repr__(self) -> str:
        return f"SRModelMethod(name={self.name!r}, scale={self.scale})"
