"""Restore scans with a trained model: load a self-describing checkpoint, run it slice by slice, map back.

An `Enhancer` wraps a network rebuilt by `mrigan.checkpoint.load_model` and the card that describes it. A
restoration (UMR-GAN) model sees the channels of `mrigan.data.restoration.Conditioning`
([x, M, sigma, x(t-1), x(t+1), class one-hot]), built here exactly as in training:

* intensities are normalised as the card's "intensity" entry says (default: robust min-max, percentiles
  0.1 / 99.9 of the non-zero voxels -> 0 / 1) and the output is mapped back to the input's units;
* a volume goes slice by slice along its last axis, with `conditioning.context` neighbours on each side
  (2.5D; edge slices repeat); a 2D image is a one-slice volume;
* each slice is zero-padded (centred, as in training) to a multiple of 2 ** depth and cropped back;
* missing pixels (mask 0) are set to 0 before the channels are built.

The output is the deterministic pass. Uncertainty, when asked for, is the per-voxel standard deviation over
extra stochastic passes (Monte-Carlo dropout, or test-time augmentation when the model has no dropout);
their mean is not used as the output.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mrigan.errors import InputError, UsageError
from mrigan.inference.intensity import DEFAULT_INTENSITY, NORMALISATIONS, IntensityScaling, zero_background

if TYPE_CHECKING:
    import torch
    from torch import nn

    from mrigan.data.restoration import Conditioning
    from mrigan.inference.method import ModelMethod
    from mrigan.io.volume import Volume

MODES = ("denoise", "inpaint", "auto")
UNCERTAINTY_METHODS = ("mc-dropout", "tta")
#: Side of the default inpainting hole, as a fraction of the smaller in-plane side.
DEFAULT_HOLE_FRACTION = 0.25
#: In "auto" mode an image with holes whose noise level is at most this (fraction of the range) is inpainted
#: (known pixels kept as they are); a noisier one is restored everywhere (holes filled and noise removed).
AUTO_CLEAN_SIGMA = 0.01
#: Test-time augmentation re-draws Gaussian noise of this fraction of the noise level (at least TTA_MIN_NOISE).
TTA_NOISE_FRACTION = 0.5
TTA_MIN_NOISE = 0.005
#: The noise level of a volume is estimated on at most this many central slices.
SIGMA_ESTIMATE_SLICES = 32


@dataclass
class EnhanceResult:
    """What `Enhancer.restore` returns.

    Attributes:
        volume: the restored scan, same shape, geometry, header and source format as the input.
        uncertainty: per-voxel standard deviation over the stochastic passes, in the input's units; None
            unless asked for.
        info: what was done: resolved mode, noise sigma used and where it came from, mask, uncertainty
            method, slices, timing, device, intensity mapping.
    """

    volume: Volume
    uncertainty: Volume | None
    info: dict[str, Any]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N" as a torch.device.

    Raises:
        UsageError: an unknown device, or CUDA asked for where there is none.
    """
    import torch

    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise UsageError(f"--device {device!r}: expected auto, cpu, cuda or cuda:N") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {device}: no CUDA device is available here (use --device cpu or auto)")
    return resolved


def default_inpaint_mask(shape: tuple[int, ...]) -> np.ndarray:
    """The mask used to inpaint when none is given: a centred square hole through every slice.

    Its side is `DEFAULT_HOLE_FRACTION` (25 %) of the smaller in-plane side, at least one pixel.

    Returns:
        Boolean array of `shape`, True where known.
    """
    from mrigan.physics.masks import SquareHole

    side = max(1, round(DEFAULT_HOLE_FRACTION * min(shape[:2])))
    return SquareHole(size=side)(np.ones(shape, np.float32)).maps["mask"] > 0


def as_known_mask(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Check a known-pixel mask and return it as booleans of `shape` (True = known).

    A mask is binary when it holds 0 and at most one other, positive value (0 / 1, 0 / 255, booleans): that
    value means known. A 2D (X, Y) mask of a 3D (X, Y, Z) volume applies to every slice.

    Raises:
        ValueError: the shape does not fit, or the mask is not binary.
    """
    mask = np.asarray(mask)
    if mask.shape != tuple(shape) and not (len(shape) == 3 and mask.shape == tuple(shape[:2])):
        raise ValueError(f"mask shape {tuple(mask.shape)} does not match the input {tuple(shape)}")
    if mask.dtype != bool:
        nonzero = mask[mask != 0]
        if nonzero.size and not (np.all(nonzero == nonzero.flat[0]) and nonzero.flat[0] > 0):
            shown = np.unique(nonzero)[:4].tolist()
            raise ValueError(f"mask is not binary (values 0 and {shown}...); expected 1 = known, 0 = missing")
    known = mask != 0
    if known.shape != tuple(shape):
        known = np.broadcast_to(known[..., None], shape)
    return np.ascontiguousarray(known)


def conditioning_from_card(card: Mapping[str, Any]) -> Conditioning:
    """The `Conditioning` a restoration model was trained with: `card["config"]["conditioning"]`.

    A top-level `card["conditioning"]` is read when the config has none. Unknown keys are ignored; a card
    with neither gets the defaults (mask, sigma, one neighbour each side, no classes).
    """
    from mrigan.data.restoration import Conditioning

    config = card.get("config") or {}
    given = config.get("conditioning") or card.get("conditioning") or {}
    names = {f.name for f in fields(Conditioning)}
    return Conditioning(**{key: value for key, value in dict(given).items() if key in names})


class Enhancer:
    """A trained restoration model, ready to run on scans.

    Args:
        model: the network (eval mode is set here).
        card: its model card (see `mrigan.checkpoint`).
        device: where to run.
        source: the card or weights file it came from (for messages and provenance).

    Raises:
        InputError: a 3D network, an unknown intensity normalisation, or a conditioning that does not give
            the network's number of input channels.
    """

    def __init__(
        self, model: nn.Module, card: Mapping[str, Any], *, device: str | torch.device = "cpu",
        source: Path | None = None,
    ) -> None:
        import torch

        from mrigan.nn import enable_mc_dropout

        self.card = dict(card)
        self.source = Path(source) if source is not None else None
        kwargs = self.card.get("kwargs") or {}
        if int(kwargs.get("spatial_dims", 2)) != 2:
            raise InputError(self.source or str(self.card.get("name", "model")),
                             "a 3D network; this version runs 2D / 2.5D (slice-wise) restoration models")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        enable_mc_dropout(self.model, False)  # the output is the deterministic pass
        if self.device.type == "cpu":
            self.model = self.model.to(memory_format=torch.channels_last)
        self.conditioning = conditioning_from_card(self.card)
        in_channels = kwargs.get("in_channels", getattr(model, "in_channels", None))
        if in_channels is not None and int(in_channels) != self.conditioning.channels:
            raise InputError(
                self.source or self.name,
                f"the card's conditioning {self.conditioning} gives {self.conditioning.channels} input channels "
                f"but the network takes {in_channels}",
            )
        self.depth = int(kwargs.get("depth", getattr(model, "depth", 0)) or 0)
        self.padding = "reflect"  # how slices are padded to the network's multiple (numpy pad mode); see `_pad`
        self.intensity = {**DEFAULT_INTENSITY, **dict(self.card.get("intensity") or {})}
        if self.intensity["normalise"] not in NORMALISATIONS:
            raise InputError(self.source or self.name, f"unknown intensity normalisation "
                             f"{self.intensity['normalise']!r} in the card (known: {', '.join(NORMALISATIONS)})")

    @classmethod
    def from_path(cls, model: str | Path, device: str | torch.device = "auto") -> Enhancer:
        """Load a shipped model by name, or a model card (.json) or weights file (.safetensors).

        The weights' sha256 is checked against the card and pickle files are refused unread
        (`mrigan.checkpoint.load_model`).

        Raises:
            InputError: unknown name, missing or tampered files, a pickle, a class outside mrigan.
            UsageError: a device that is not available.
        """
        from mrigan.checkpoint import load_model
        from mrigan.models_catalog import resolve_model

        path = resolve_model(model)
        resolved = resolve_device(device)
        module, card = load_model(path, device=resolved)
        return cls(module, card, device=resolved, source=path)

    # ------------------------------------------------------------------------------------------------ facts

    @property
    def name(self) -> str:
        """The model's name from its card (else its file name)."""
        return str(self.card.get("name") or (self.source.stem if self.source else "model"))

    @property
    def task(self) -> str:
        return str(self.card.get("task", "restore"))

    @property
    def sha256(self) -> str | None:
        """The weights' sha256 recorded in the card (checked when the model was loaded)."""
        return self.card.get("sha256")

    @property
    def files(self) -> list[Path]:
        """The card and weights this model was loaded from (never to be written over)."""
        return model_files(self.source, self.card)

    @property
    def multiple(self) -> int:
        """Slices are padded to a multiple of this (2 ** depth)."""
        return 2**self.depth

    def as_method(self, task: str = "denoise", *, normalise: bool = False) -> ModelMethod:
        """This model with the call shape of `mrigan.baselines.base.Method`, to sit beside NLM or BM3D.

        Args:
            task: "denoise" or "inpaint".
            normalise: normalise each input as the card says (False: inputs already lie in [0, 1], as the
                bench's do, and a "sigma" map is used as it is).
        """
        from mrigan.inference.method import ModelMethod

        return ModelMethod(self, task=task, normalise=normalise)

    # ------------------------------------------------------------------------------------------------ running

    def restore(
        self,
        volume: Volume,
        *,
        mode: str = "denoise",
        mask: np.ndarray | None = None,
        noise_sigma: float | None = None,
        label: int | None = None,
        uncertainty: str | None = None,
        samples: int = 8,
        batch_size: int = 8,
        progress: bool = False,
    ) -> EnhanceResult:
        """Denoise and / or inpaint a 2D image or 3D volume.

        Args:
            volume: the scan, in its own units.
            mode: "denoise" (the network's output everywhere; a given mask is used as conditioning),
                "inpaint" (missing pixels filled, known pixels kept exactly; default mask: a centred square
                hole, see `default_inpaint_mask`) or "auto" (no mask: denoise; a mask and a noise level of at
                most `AUTO_CLEAN_SIGMA`: inpaint; a mask and more noise: restore everywhere, as denoise).
            mask: 1 = known, 0 = missing; the volume's shape (or its in-plane shape for every slice).
            noise_sigma: noise std as a fraction of the normalised [0, 1] range; None: estimated on the
                normalised data (`estimate_noise_sigma`, Rician), or 0 when inpainting.
            label: class index for a class-conditioned model; None: no class (a zero one-hot).
            uncertainty: None, "mc-dropout" or "tta".
            samples: stochastic passes for the uncertainty (at least 2).
            batch_size: slices per forward pass.
            progress: show a progress bar over slices (on stderr).

        Returns:
            The restored volume, the uncertainty volume (or None), and what was done.

        Raises:
            ValueError: a bad mask, option or an image without non-zero voxels.
        """
        start = time.perf_counter()
        data = np.asarray(volume.data, dtype=np.float32)
        if data.ndim not in (2, 3):
            raise ValueError(f"expected a 2D image or a 3D volume, got shape {data.shape}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        known, mask_source = self._known_pixels(mask, data.shape, mode)
        scaling = IntensityScaling.from_card(data, self.intensity, known=known)
        network, spread, info = self.restore_normalised(
            scaling.normalise(data), mode=mode, known=known, noise_sigma=noise_sigma, label=label,
            uncertainty=uncertainty, samples=samples, batch_size=batch_size, progress=progress,
        )
        restored = scaling.denormalise(network, zero=zero_background(data, known=known))
        if info["mode"] == "inpaint" and known is not None:
            restored = np.where(known, data, restored).astype(np.float32)
        info.update(mask=mask_source, intensity=scaling.describe(), seconds=time.perf_counter() - start)
        if known is not None:
            info["missing_fraction"] = float(1.0 - known.mean())
        uncertainty_volume = None
        if spread is not None:
            uncertainty_volume = volume.with_data(spread * scaling.scale)
            uncertainty_volume.meta.pop("dtype", None)  # a float map: never stored in the scan's integer type
        return EnhanceResult(volume=volume.with_data(restored), uncertainty=uncertainty_volume, info=info)

    def restore_normalised(
        self,
        data: np.ndarray,
        *,
        mode: str = "denoise",
        known: np.ndarray | None = None,
        noise_sigma: float | np.ndarray | None = None,
        label: int | None = None,
        uncertainty: str | None = None,
        samples: int = 8,
        batch_size: int = 8,
        progress: bool = False,
    ) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
        """The network on data already in the normalised range; no blending, no mapping back.

        Args:
            data: 2D or 3D, normalised as the model expects ([0, 1]).
            mode: as in `restore`; only decides the noise default, "auto" and the uncertainty at known pixels.
            known: boolean mask of `data`'s shape (True = known) or None (everything known).
            noise_sigma: a fraction of the range, a per-voxel map of `data`'s shape, or None (see `restore`).
            label, uncertainty, samples, batch_size, progress: as in `restore`.

        Returns:
            (network output, uncertainty std or None, info), arrays of `data`'s shape in normalised units.
            When the mode resolves to "inpaint" the std is 0 at known pixels (the output keeps them).
        """
        import torch

        start = time.perf_counter()
        self.check_options(mode=mode, uncertainty=uncertainty, samples=samples, batch_size=batch_size, label=label)
        data = np.asarray(data, dtype=np.float32)
        has_holes = known is not None and not bool(known.all())
        sigma, sigma_source = self._noise_level(data, noise_sigma, mode)
        sigma_level = float(np.mean(sigma)) if isinstance(sigma, np.ndarray) else float(sigma)
        resolved = mode
        if mode == "auto":
            resolved = "inpaint" if has_holes and sigma_level <= AUTO_CLEAN_SIGMA else "denoise"

        image = data if known is None else np.where(known, data, 0.0).astype(np.float32)
        mask_map = np.ones_like(image) if known is None else known.astype(np.float32)
        sigma_map = np.broadcast_to(np.asarray(sigma, dtype=np.float32), image.shape)
        volume_2d = image.ndim == 2
        if volume_2d:
            image, mask_map, sigma_map = image[..., None], mask_map[..., None], sigma_map[..., None]

        method, note = self._uncertainty_method(uncertainty)
        tta_noise = max(TTA_NOISE_FRACTION * sigma_level, TTA_MIN_NOISE)
        n_slices = image.shape[-1]
        output = np.empty(image.shape, np.float32)
        spread = np.empty(image.shape, np.float32) if method else None
        with torch.inference_mode(), _progress(progress, n_slices) as advance:
            for first in range(0, n_slices, batch_size):
                stop = min(first + batch_size, n_slices)
                batch = np.stack([
                    self.conditioning.build(
                        _context(image, k, self.conditioning.context), mask_map[..., k], sigma_map[..., k], label
                    )
                    for k in range(first, stop)
                ])
                output[..., first:stop] = np.moveaxis(self._forward(batch), 0, -1)
                if method is not None:
                    draws = self._stochastic_passes(batch, method, samples, tta_noise, seed=first)
                    spread[..., first:stop] = np.moveaxis(draws.std(axis=0, ddof=1), 0, -1)
                advance(stop - first)

        if volume_2d:
            output = output[..., 0]
            spread = spread[..., 0] if spread is not None else None
        if spread is not None and resolved == "inpaint" and known is not None:
            spread = np.where(known, 0.0, spread).astype(np.float32)
        info: dict[str, Any] = {
            "mode": resolved,
            "mode_requested": mode,
            "noise_sigma": sigma_level,
            "noise_sigma_source": sigma_source,
            "uncertainty": method,
            "uncertainty_requested": uncertainty,
            "samples": samples if method else 0,
            "slices": n_slices,
            "batch_size": batch_size,
            "device": str(self.device),
            "model": self.name,
            "network_seconds": time.perf_counter() - start,
        }
        if method == "tta":
            info["tta_noise_sigma"] = tta_noise
        if note:
            info["uncertainty_note"] = note
        return output, spread, info

    # ------------------------------------------------------------------------------------------------ internals

    def check_options(
        self, *, mode: str = "denoise", uncertainty: str | None = None, samples: int = 8, batch_size: int = 8,
        label: int | None = None, scale: int | None = None,
    ) -> None:
        """Check run options against this model before any work (`scale` is for super-resolution models).

        Raises:
            UsageError: the model is not a restoration model.
            ValueError: an unknown mode or uncertainty method, too few samples, a label the model cannot take.
        """
        if self.task != "restore":
            raise UsageError(f"model {self.name!r} is a {self.task!r} model; this version runs 'restore' models")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if scale is not None:
            raise ValueError(f"--scale {scale}: model {self.name!r} restores; it does not upscale")
        if uncertainty is not None and uncertainty not in UNCERTAINTY_METHODS:
            raise ValueError(f"uncertainty must be one of {UNCERTAINTY_METHODS} or None, got {uncertainty!r}")
        if uncertainty is not None and samples < 2:
            raise ValueError(f"samples must be at least 2 for an uncertainty map, got {samples}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        classes = self.conditioning.num_classes
        if label is not None and not 0 <= label < classes:
            raise ValueError(
                f"label {label} is out of range: model {self.name!r} knows {classes} classes"
                if classes else f"model {self.name!r} was trained without class conditioning; give no label"
            )

    def _known_pixels(self, mask: np.ndarray | None, shape: tuple[int, ...], mode: str
                      ) -> tuple[np.ndarray | None, str]:
        if mask is not None:
            return as_known_mask(mask, shape), "given"
        if mode == "inpaint":
            side = max(1, round(DEFAULT_HOLE_FRACTION * min(shape[:2])))
            return default_inpaint_mask(shape), f"default: centred square hole, {side} x {side} pixels"
        return None, "none"

    @staticmethod
    def _noise_level(data: np.ndarray, noise_sigma: float | np.ndarray | None, mode: str
                     ) -> tuple[float | np.ndarray, str]:
        if isinstance(noise_sigma, np.ndarray) and noise_sigma.ndim > 0:
            if noise_sigma.shape != data.shape:
                raise ValueError(f"sigma map shape {noise_sigma.shape} does not match the input {data.shape}")
            return noise_sigma.astype(np.float32), "map"
        if noise_sigma is not None:
            value = float(noise_sigma)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"noise sigma must be a finite fraction >= 0, got {noise_sigma}")
            return value, "given"
        if mode == "inpaint":
            return 0.0, "zero (inpainting)"
        return estimate_sigma(data), "estimated"

    def _uncertainty_method(self, requested: str | None) -> tuple[str | None, str | None]:
        """The method to use, and a note when it differs from the request (MC dropout without dropout)."""
        if requested != "mc-dropout":
            return requested, None
        from mrigan.nn import enable_mc_dropout

        dropout_layers = enable_mc_dropout(self.model, True)
        enable_mc_dropout(self.model, False)
        if dropout_layers == 0:
            return "tta", "the model has no dropout (p > 0): test-time augmentation was used instead"
        return "mc-dropout", None

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        """(N, C, H, W) float32 channels -> (N, H, W) first output channel, padded and cropped here."""
        import torch

        padded, crop = _pad(batch, self.multiple, self.padding)
        tensor = torch.from_numpy(padded).to(self.device)
        if self.device.type == "cpu":
            tensor = tensor.contiguous(memory_format=torch.channels_last)
        out = self.model(tensor)[:, 0].float().cpu().numpy()
        return np.ascontiguousarray(out[(slice(None), *crop)])

    def _stochastic_passes(self, batch: np.ndarray, method: str, samples: int, noise: float, *, seed: int
                           ) -> np.ndarray:
        """(samples, N, H, W): MC-dropout passes, or flipped inputs with small noise re-drawn (TTA)."""
        if method == "mc-dropout":
            from mrigan.nn import enable_mc_dropout

            enable_mc_dropout(self.model, True)
            try:
                return np.stack([self._forward(batch) for _ in range(samples)])
            finally:
                enable_mc_dropout(self.model, False)
        rng = np.random.default_rng([seed, samples])
        c = self.conditioning.context
        image_channels = [0, *range(3, 3 + 2 * c)]
        known = batch[:, 1:2] > 0 if self.conditioning.use_mask else np.ones_like(batch[:, :1], dtype=bool)
        draws = []
        for s in range(samples):
            flips = ((), (-1,), (-2,), (-2, -1))[s % 4]
            varied = batch.copy()
            redraw = rng.normal(0.0, noise, size=varied[:, image_channels].shape).astype(np.float32)
            varied[:, image_channels] += np.where(known, redraw, 0.0)
            if flips:
                varied = np.ascontiguousarray(np.flip(varied, axis=flips))
            out = self._forward(varied)
            draws.append(np.flip(out, axis=flips) if flips else out)
        return np.stack(draws)


def model_files(source: Path | None, card: Mapping[str, Any]) -> list[Path]:
    """The card and weights a model was loaded from (outputs must never be written over them)."""
    if source is None:
        return []
    weights = card.get("weights_file")
    card_path = source.with_suffix(".json")
    return [source, card_path, *([card_path.with_name(str(weights))] if weights else [])]


class LoadedModel:
    """What `mrigan enhance` asks of any runner besides `restore`: loading, name, sha256 and files.

    Subclasses (`Upscaler`, `Translator`) take `(model, card, device=, source=)` and set `card` and `source`.
    """

    card: dict[str, Any]
    source: Path | None

    @classmethod
    def from_path(cls, model: str | Path, device: str | torch.device = "auto"):
        """Load a shipped model by name, a card or weights (sha256 checked, pickles refused)."""
        from mrigan.checkpoint import load_model
        from mrigan.models_catalog import resolve_model

        path = resolve_model(model)
        resolved = resolve_device(device)
        module, card = load_model(path, device=resolved)
        return cls(module, card, device=resolved, source=path)

    name = property(lambda self: str(self.card.get("name") or (self.source.stem if self.source else "model")))
    sha256 = property(lambda self: self.card.get("sha256"))
    files = property(lambda self: model_files(self.source, self.card))


def estimate_sigma(data: np.ndarray) -> float:
    """Rician noise level of normalised data, on at most `SIGMA_ESTIMATE_SLICES` central slices of a volume.

    Missing pixels (zeros) are left in: the wavelet estimate is robust to a few edges. Images smaller than
    8 pixels across get 0.
    """
    from mrigan.physics.noise import estimate_noise_sigma

    if data.ndim == 3 and data.shape[-1] > SIGMA_ESTIMATE_SLICES:
        start = (data.shape[-1] - SIGMA_ESTIMATE_SLICES) // 2
        data = data[..., start : start + SIGMA_ESTIMATE_SLICES]
    if min(data.shape[:2]) < 8:
        return 0.0
    if data.ndim == 3 and data.shape[-1] < 8:  # too thin for a 3D wavelet estimate: the median over slices
        return max(float(np.median([estimate_noise_sigma(data[..., k], kind="rician")
                                    for k in range(data.shape[-1])])), 0.0)
    return max(float(estimate_noise_sigma(data, kind="rician")), 0.0)


def _context(image: np.ndarray, k: int, context: int) -> np.ndarray:
    from mrigan.data.restoration import context_stack

    return context_stack(image, k, context)


def _pad(batch: np.ndarray, multiple: int, mode: str = "reflect") -> tuple[np.ndarray, tuple[slice, ...]]:
    """Pad the last two axes, centred, to multiples of `multiple` by mirroring; returns the crop that undoes it.

    Mirroring, not zeros: in training the padding was degraded with the image, so the network never saw an
    exactly-zero, noise-free border; a zero border shifts its instance-norm statistics and brightened the
    whole brain (`python benchmarks/padding_check.py` prints both on the training volumes' validation slab).

    When both sides would equal `multiple` (a one-voxel bottleneck, undefined under instance norm), they
    are padded to twice that.
    """
    sizes = [int(np.ceil(n / multiple) * multiple) for n in batch.shape[-2:]]
    if all(size == multiple for size in sizes) and multiple > 1:
        sizes = [2 * multiple for _ in sizes]
    pads, crop = [(0, 0)] * (batch.ndim - 2), []
    for n, size in zip(batch.shape[-2:], sizes, strict=True):
        before = (size - n) // 2
        pads.append((before, size - n - before))
        crop.append(slice(before, before + n))
    if all(p == (0, 0) for p in pads):
        return np.ascontiguousarray(batch), tuple(crop)
    return np.pad(batch, pads, mode=mode), tuple(crop)


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Callable[[int], None]]:
    """A rich progress bar over slices on stderr (or nothing); yields the function that advances it."""
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("enhancing slices", total=total)
        yield lambda n: bar.advance(task, n)
