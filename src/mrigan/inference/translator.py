"""Translator: a trained translation model on scans, with the Enhancer's interface for `mrigan enhance`.

Translation models (`mrigan.tasks.translate`: CycleGAN T1w <-> T2w, the pix2pix family 7 T -> 9.4 T) map one
contrast or field strength to another on the same grid. Their cards (task "translate") name the source and
target domains and say how the model ran in validation (the card's "inference" entry), which is how it runs here:

* "slices": each axial slice of a volume (a 2D image is one slice) goes through the generator whole,
  zero-padded (centred, as in training) to a multiple of 2 ** depth and cropped back;
* "patches": a grid of training-size patches (2D patches of each axial slice, or 3D patches) is run over the
  volume and blended back with `mrigan.data.translation.stitch` (the card's stride and overlap mode: Hann
  blending by default); patches are aggregated as they come, so memory does not grow with their number.

With the card's "flip_average" (or `flip_average=True`; `mrigan enhance --flip-average`), every slice or patch
goes through the generator four times, flipped in plane, and the outputs are averaged (`mrigan.nn.FlipAverage`):
four times the time, closer to the truth (the shipped CycleGAN cards set it; see the README's numbers).

Intensities: the input is normalised as the card says (robust min-max: its 0.1 / 99.9 percentiles of the
non-zero voxels -> 0 / 1, as in training). The generator answers in [0, 1] on the *target's* robust min-max
scale; there are no target units to go back to (an MR contrast has no absolute scale), so the output is mapped
linearly onto the input's robust range, [0, 1] -> [p0.1, p99.9] of the input (`IntensityScaling.denormalise`).
The result therefore fits the input's data type (8-bit PNG, int16 NIfTI, DICOM) and window; a voxel the
network puts at 0 (background, the darkest tissue) comes back at the input's p0.1, not at exactly 0. The grid,
affine and header are kept (no spacing change).

A CycleGAN run exports one card per direction: `RUN/final/generator.json` (source -> target of the config,
A -> B) and `RUN/final/generator_ba.json` (B -> A); each card's "translation" says which, e.g.
"T1w SE 3T -> T2w SE 3T".
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

    from mrigan.data.translation import PatchGrid
    from mrigan.io.volume import Volume

INFERENCE_MODES = ("slices", "patches")


class Translator(LoadedModel):
    """A loaded `translate` generator (one direction of a translation).

    Args:
        model: the generator (eval mode is set here); one channel in and out, output in [0, 1].
        card: its model card: "source", "target", "translation" and "inference" (mode "slices" with its
            "multiple", or mode "patches" with "patch", "stride", "overlap_mode"); a card without "inference"
            takes the patch settings from its training config's "stitch" entry.
        device: where to run.
        source: the card or weights file it came from.

    Raises:
        InputError: the card is not a generator's (a discriminator of the run, say) or describes no way to run it.
    """

    def __init__(self, model: nn.Module, card: dict[str, Any], *, device: str | torch.device = "cpu",
                 source: Path | None = None) -> None:
        import torch

        self.card = dict(card)
        self.source = Path(source) if source is not None else None
        where = self.source or "model"
        if not isinstance(self.card.get("source"), dict) or not isinstance(self.card.get("target"), dict):
            raise InputError(where, "a translate card without source and target domains (a discriminator?); "
                                    "give the run's generator.json (A -> B) or generator_ba.json (B -> A)")
        in_channels = (self.card.get("kwargs") or {}).get("in_channels", 1)
        if in_channels != 1:
            raise InputError(where, f"a translation model with {in_channels} input channels; this version runs "
                                    "one-channel generators")
        self.inference = _inference_settings(self.card, where)
        self.spatial_dims = len(self.inference["patch"]) if self.inference["mode"] == "patches" else 2
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.intensity = {**DEFAULT_INTENSITY, **dict(self.card.get("intensity") or {})}

    task = property(lambda self: "translate")

    @property
    def direction(self) -> str:
        """E.g. "T1w SE 3T -> T2w SE 3T" (the card's "translation")."""
        return str(self.card.get("translation") or f"{_domain(self.card['source'])} -> {_domain(self.card['target'])}")

    def grid(self) -> PatchGrid:
        """The patch grid of a "patches" model."""
        from mrigan.data.translation import PatchGrid

        settings = self.inference
        return PatchGrid(tuple(settings["patch"]), settings["stride"], settings["overlap_mode"])

    def check_options(self, *, mode: str, uncertainty: str | None, samples: int, batch_size: int,
                      label: int | None, scale: int | None = None) -> None:
        """Refuse what a translation model cannot do (masks and inpainting, uncertainty, labels, a scale)."""
        if scale is not None:
            raise ValueError(f"--scale {scale}: a translation model keeps the grid; it does not upscale")
        if uncertainty is not None:
            raise ValueError("--uncertainty is for restoration models; a translation model gives none")
        if mode == "inpaint" or label is not None:
            raise ValueError("--mode inpaint and --label are for restoration models, not translation")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")

    def restore(self, volume: Volume, *, mask: np.ndarray | None = None, batch_size: int = 8,
                flip_average: bool | None = None, **_: Any) -> EnhanceResult:
        """Translate a 2D image or a volume from the card's source domain to its target; same grid and geometry.

        `flip_average`: average the generator over in-plane flips (None: as the card's "flip_average" says).

        Raises:
            ValueError: a mask, an image that is not one-channel 2D or 3D, one smaller than a patch of a patch
                model, a 2D image given to a 3D model, or an image with no non-zero voxel.
        """
        import torch

        from mrigan.nn.layers import FlipAverage

        start = time.perf_counter()
        if mask is not None:
            raise ValueError("a mask is for inpainting; a translation model takes none")
        data = np.asarray(volume.data, dtype=np.float32)
        if data.ndim not in (2, 3):
            raise ValueError(f"expected a one-channel 2D image or 3D volume, got shape {data.shape} (several "
                             "channels or time points?); translate one channel at a time")
        stack = data if data.ndim == 3 else data[..., None]
        patches = self._check_size(stack.shape, two_d=data.ndim == 2)
        scaling = IntensityScaling.from_card(data, self.intensity)
        normalised = scaling.normalise(stack)
        flip_average = bool(self.inference.get("flip_average", False) if flip_average is None else flip_average)
        network = FlipAverage(self.model) if flip_average else self.model
        with torch.inference_mode():
            if self.inference["mode"] == "patches":
                from mrigan.data.translation import stitch

                translated = stitch(normalised, network, self.grid(), batch_size=batch_size,
                                    device=str(self.device))
            else:
                translated = self._slices(network, normalised, batch_size)
        output = scaling.denormalise(translated if data.ndim == 3 else translated[..., 0], zero=zero_background(data))
        info = {
            "mode": "translate", "mode_requested": "translate", "translation": self.direction,
            "source": self.card["source"], "target": self.card["target"],
            "inference": {**self.inference, "flip_average": flip_average, **({"patches": patches} if patches else {})},
            "noise_sigma": None, "noise_sigma_source": "not used", "mask": None, "uncertainty": None,
            "samples": 0, "slices": stack.shape[-1], "batch_size": batch_size, "device": str(self.device),
            "model": self.name, "intensity": scaling.describe(),
            "output_intensity": "generator's [0, 1] (target's robust min-max) mapped linearly onto the input's "
                                "[low_value, high_value]",
            "seconds": time.perf_counter() - start,
        }
        return EnhanceResult(volume=volume.with_data(output), uncertainty=None, info=info)

    # ------------------------------------------------------------------------------------------------ internals

    def _check_size(self, shape: tuple[int, ...], *, two_d: bool) -> int:
        """Refuse a volume a patch model cannot cover; returns the number of patches (0 in slice mode)."""
        if self.inference["mode"] != "patches":
            return 0
        patch = tuple(self.inference["patch"])
        if len(patch) == 3 and two_d:
            raise ValueError(f"this model translates 3D {'x'.join(map(str, patch))} patches; give it a volume, "
                             "not a 2D image")
        if any(n < p for n, p in zip(shape, patch, strict=False)):
            size = "x".join(map(str, shape[: len(patch)]))
            raise ValueError(f"the image ({size}) is smaller than one {'x'.join(map(str, patch))} patch of this "
                             "model")
        grid = self.grid()
        counts = [len(grid.starts(n, axis)) for axis, n in enumerate(shape[: len(patch)])]
        return int(np.prod(counts)) * (shape[2] if len(patch) == 2 else 1)

    def _slices(self, network: nn.Module, stack: np.ndarray, batch_size: int) -> np.ndarray:
        """Whole axial slices of (X, Y, Z) through the generator, `batch_size` at a time (zero-padded)."""
        import torch

        from mrigan.inference.enhancer import _pad

        output = np.empty(stack.shape, dtype=np.float32)
        multiple = int(self.inference.get("multiple") or 1)
        for begin in range(0, stack.shape[-1], batch_size):
            batch = np.ascontiguousarray(np.moveaxis(stack[..., begin : begin + batch_size], -1, 0)[:, None])
            padded, crop = _pad(batch, multiple, mode="constant")
            result = network(torch.from_numpy(padded).to(self.device)).float().cpu().numpy()
            output[..., begin : begin + batch.shape[0]] = np.moveaxis(result[:, 0][(slice(None), *crop)], 0, -1)
        return output


def _inference_settings(card: dict[str, Any], where: Path | str) -> dict[str, Any]:
    """How the card says to run the model: {"mode": "slices", "multiple"} or {"mode": "patches", "patch", ...}."""
    from mrigan.data.translation import PatchGrid

    settings = dict(card.get("inference") or {})
    if not settings:  # older cards: the training config's stitch settings and patch
        config = card.get("config") or {}
        stitch = dict(config.get("stitch") or {"mode": "slices"})
        settings = {"mode": stitch.get("mode", "patches"), "multiple": 1}
        if settings["mode"] == "patches":
            settings.update(patch=list((config.get("data") or {}).get("patch") or []),
                            stride=stitch.get("stride", 20), overlap_mode=stitch.get("overlap_mode", "hann"))
    mode = settings.get("mode")
    if mode not in INFERENCE_MODES:
        raise InputError(where, f"the card's inference mode {mode!r} is not one of {INFERENCE_MODES}")
    if mode == "patches":
        try:
            PatchGrid(tuple(settings["patch"]), settings.get("stride", 20), settings.get("overlap_mode", "hann"))
        except (KeyError, TypeError, ValueError) as error:
            raise InputError(where, f"the card's patch grid cannot be used: {error}") from None
        settings.setdefault("stride", 20)
        settings.setdefault("overlap_mode", "hann")
    return settings


def _domain(domain: dict[str, Any]) -> str:
    """A domain dict of a card as text (`DomainConfig.describe`), or its contrast if it does not parse."""
    from mrigan.data.translation import DomainConfig

    try:
        return DomainConfig(**domain).describe()
    except (TypeError, ValueError):
        return str(domain.get("contrast", "?"))
