"""Training recipe of the shipped in-domain feature network (`models/mri_features.safetensors`).

`MRIFeatureNet` is trained to segment 2D MRI slices into 4 classes (background, CSF, grey matter, white
matter) so that its stage outputs are MRI features for perceptual losses and Frechet distances (no ImageNet
VGG weights are needed or downloaded).

Data (the project's protocol: train on MNI152 and inia19, Colin27 held out):
    - MNI ICBM152 2009a T1 with its GM / WM maps (CSF = brain - GM - WM), axial slices only, those with z in
      `MNI_VALIDATION_Z` (+- `MNI_GUARD` slices) left out (the validation slab; coronal and sagittal slices
      are not used since they would cross it);
    - inia19 macaque T1 with GM / WM / CSF maps from `mrigan.physics.tissue_maps_from_t1` (a 3-class GMM),
      axial, coronal and sagittal slices.
Each anatomy is seen as its real T1 (robust min-max to [0, 1]) and as images simulated from its tissue maps
by `mrigan.physics.simulate_contrast` (T1w / T2w / PDw, spin echo and gradient echo, 1.5 to 7 T), computed
once at the start.

Batches: 2D slices, crops of 96-128 px centred on brain, random rotation / scale /
flips / transposition, then what the GANs produce and see: intensity jitter (gamma, scale), polynomial bias
field, blur (Gaussian, anti-aliased decimation + upsampling, k-space truncation), Gaussian or Rician noise up
to 8 % and now and then a synthetic skull / scalp shell outside the brain (labelled background). Loss:
cross-entropy against the soft tissue probabilities.

    python -m mrigan.features_training --out models/mri_features.safetensors --steps 1500
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mrigan.nn.features import MRIFeatureNet, load_feature_net, save_feature_net

CLASSES = ("background", "csf", "gm", "wm")
"""Output classes of the segmentation head, in channel order."""

TISSUE_ORDER = ("csf", "gm", "wm")

MNI_VALIDATION_Z = (100, 110)
"""Axial slices of MNI152 (z index range) kept for validation."""

MNI_GUARD = 5
"""Slices on each side of the validation slab that are not trained on either (neighbours are near copies)."""

SIMULATED_CONTRASTS: tuple[tuple[str, str, float], ...] = (
    ("se", "t1w", 1.5),
    ("se", "t2w", 1.5),
    ("se", "t2w", 3.0),
    ("se", "pdw", 3.0),
    ("gre", "t1w", 3.0),
    ("gre", "t2w", 3.0),
    ("se", "t2w", 7.0),
)
"""(sequence, contrast, field in T) of the volumes simulated from each anatomy's tissue maps."""

DEFAULT_SAMPLES = ("mni152", "inia19")
DEFAULT_CROP = (96, 128)
REAL_T1_PROBABILITY = 0.4
"""Chance that a training slice is the anatomy's real T1 rather than a simulated contrast."""


@dataclass
class Augmentation:
    """Probabilities and ranges of the training augmentation."""

    rotation_deg: float = 20.0
    scale: tuple[float, float] = (0.85, 1.2)
    gamma: tuple[float, float] = (0.6, 1.6)
    gamma_p: float = 0.5
    intensity_scale: tuple[float, float] = (0.6, 1.15)
    intensity_scale_p: float = 0.5
    bias_p: float = 0.4
    bias_strength: float = 0.3
    blur_p: float = 0.35
    noise_p: float = 0.75
    noise_sigma: tuple[float, float] = (0.0, 0.08)
    skull_p: float = 0.2

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in vars(self).items()}


@dataclass
class _Anatomy:
    name: str
    images: dict[str, np.ndarray]  # contrast name -> float32 volume in [0, 1]
    tissues: np.ndarray  # (3, X, Y, Z) float32: csf, gm, wm probabilities
    brain: np.ndarray  # bool (X, Y, Z)
    z_blocks: list[tuple[int, int]]  # z ranges that may be trained on
    axes: tuple[int, ...]  # slicing axes used (2: axial)
    slices: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)  # (axis, block) -> valid indices


def _contrast_name(sequence: str, contrast: str, field_t: float) -> str:
    return f"{sequence}-{contrast}-{field_t:g}T"


def _tissue_maps(name: str) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, tuple[float, ...]]:
    """(T1 in [0, 1], tissue maps, brain mask, spacing) of a training or evaluation anatomy."""
    from mrigan.data.samples import load_sample
    from mrigan.physics import tissue_maps_from_t1
    from mrigan.preprocess import robust_minmax

    sample = load_sample(name)
    brain = np.asarray(sample.brain_mask, dtype=bool)
    t1 = robust_minmax(np.asarray(sample.t1.data, dtype=np.float32), mask=brain) * brain
    tissues = sample.tissues
    if tissues is None:
        tissues = tissue_maps_from_t1(t1, brain)
    maps = {k: np.asarray(tissues[k], dtype=np.float32) for k in TISSUE_ORDER}
    return t1.astype(np.float32), maps, brain, tuple(float(s) for s in sample.t1.spacing)


def _load_anatomy(name: str, contrasts: Sequence[tuple[str, str, float]]) -> _Anatomy:
    from mrigan.physics import simulate_contrast

    t1, maps, brain, spacing = _tissue_maps(name)
    images = {"t1w-real": t1}
    for sequence, contrast, field_t in contrasts:
        image, _, _ = simulate_contrast(
            maps, spacing, contrast=contrast, sequence=sequence, field_t=field_t, snr_at_3t=None
        )
        images[_contrast_name(sequence, contrast, field_t)] = np.clip(image, 0.0, 1.0).astype(np.float32)
    depth = t1.shape[2]
    if name == "mni152":  # axial only: coronal / sagittal slices would cross the validation slab
        low, high = MNI_VALIDATION_Z[0] - MNI_GUARD, MNI_VALIDATION_Z[1] + MNI_GUARD
        z_blocks, axes = [(0, low), (high, depth)], (2,)
    else:
        z_blocks, axes = [(0, depth)], (0, 1, 2)
    anatomy = _Anatomy(name, images, np.stack([maps[k] for k in TISSUE_ORDER]), brain, z_blocks, axes)
    for axis in axes:
        for block_index, (z0, z1) in enumerate(z_blocks):
            counts = brain[:, :, z0:z1].sum(axis=tuple(a for a in range(3) if a != axis))
            valid = np.nonzero(counts >= 0.1 * counts.max())[0] if counts.max() > 0 else np.zeros(0, int)
            if valid.size:
                anatomy.slices[(axis, block_index)] = valid
    return anatomy


def _take_slice(volume: np.ndarray, axis: int, index: int, block: tuple[int, int]) -> np.ndarray:
    """A 2D slice of `volume` (..., X, Y, Z) restricted to the z range `block`."""
    sub = volume[..., block[0] : block[1]]
    return np.take(sub, index, axis=sub.ndim - 3 + axis)


def _crop(array: np.ndarray, centre: tuple[int, int], size: int) -> np.ndarray:
    """A (..., size, size) window centred on `centre`, zero-padded where it leaves `array`."""
    out = np.zeros(array.shape[:-2] + (size, size), dtype=np.float32)
    h, w = array.shape[-2:]
    top, left = centre[0] - size // 2, centre[1] - size // 2
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + size, h), min(left + size, w)
    if y1 > y0 and x1 > x0:
        out[..., y0 - top : y1 - top, x0 - left : x1 - left] = array[..., y0:y1, x0:x1]
    return out


class SliceSampler:
    """Draws augmented training batches (images (N, 1, C, C) in [0, 1], soft targets (N, 4, C, C))."""

    def __init__(
        self,
        anatomies: Sequence[_Anatomy],
        *,
        crop: tuple[int, int],
        seed: int,
        augmentation: Augmentation | None = None,
        weights: Sequence[float] | None = None,
    ) -> None:
        self.anatomies = list(anatomies)
        self.crop = crop
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator().manual_seed(seed)
        self.aug = augmentation or Augmentation()
        w = np.ones(len(self.anatomies)) if weights is None else np.asarray(weights, dtype=float)
        self.weights = w / w.sum()

    def _crop_size(self) -> int:
        low, high = self.crop
        sizes = [s for s in range(low, high + 1) if s % 8 == 0] or [low]
        return int(self.rng.choice(sizes))

    def _raw(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rng
        anatomy = self.anatomies[rng.choice(len(self.anatomies), p=self.weights)]
        keys = list(anatomy.slices)
        axis_weights = np.array([0.6 if axis == 2 else 0.2 for axis, _ in keys])
        axis_weights *= np.array([len(anatomy.slices[k]) for k in keys], dtype=float)
        axis, block_index = keys[rng.choice(len(keys), p=axis_weights / axis_weights.sum())]
        block = anatomy.z_blocks[block_index]
        index = int(rng.choice(anatomy.slices[(axis, block_index)]))
        names = list(anatomy.images)
        if rng.random() < REAL_T1_PROBABILITY or len(names) == 1:
            name = "t1w-real"
        else:
            name = names[1 + rng.integers(len(names) - 1)]
        image = _take_slice(anatomy.images[name], axis, index, block)
        tissues = _take_slice(anatomy.tissues, axis, index, block)
        brain = _take_slice(anatomy.brain, axis, index, block)
        ys, xs = np.nonzero(brain)
        if ys.size:
            pick = rng.integers(ys.size)
            centre = (int(ys[pick]), int(xs[pick]))
        else:
            centre = (image.shape[0] // 2, image.shape[1] // 2)
        jitter = rng.integers(-size // 8, size // 8 + 1, size=2)
        centre = (centre[0] + int(jitter[0]), centre[1] + int(jitter[1]))
        return _crop(image, centre, size), _crop(tissues, centre, size)

    def _spatial(self, images: torch.Tensor, tissues: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Random rotation, scale, flips and transposition, applied alike to images and tissue maps."""
        n = images.shape[0]
        rng = self.rng
        angle = np.deg2rad(rng.uniform(-self.aug.rotation_deg, self.aug.rotation_deg, n))
        scale = rng.uniform(*self.aug.scale, size=(n, 2)) * np.exp(rng.normal(0, 0.05, size=(n, 1)))
        flips = np.where(rng.random((n, 2)) < 0.5, -1.0, 1.0)
        theta = np.zeros((n, 2, 3))
        for i in range(n):
            rotation = np.array([[np.cos(angle[i]), -np.sin(angle[i])], [np.sin(angle[i]), np.cos(angle[i])]])
            matrix = rotation @ np.diag(flips[i] / scale[i])
            if rng.random() < 0.5:
                matrix = matrix[:, ::-1]
            theta[i, :, :2] = matrix
        grid = F.affine_grid(torch.as_tensor(theta, dtype=torch.float32), list(images.shape), align_corners=False)
        images = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        tissues = F.grid_sample(tissues, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return images, tissues

    def _skull(self, image: np.ndarray, brain: np.ndarray) -> np.ndarray:
        """Add a bright textured shell (skull / scalp-like) outside the brain; it stays labelled background."""
        from scipy.ndimage import distance_transform_edt, gaussian_filter

        rng = self.rng
        if not brain.any():
            return image
        distance = distance_transform_edt(~brain)
        gap = rng.uniform(1.0, 6.0)
        thickness = rng.uniform(3.0, 12.0)
        shell = np.clip(1.0 - np.abs(distance - gap - thickness / 2) / (thickness / 2), 0.0, 1.0)
        texture = gaussian_filter(rng.normal(size=image.shape), rng.uniform(1.5, 5.0))
        texture = (texture - texture.min()) / max(float(np.ptp(texture)), 1e-6)
        added = shell * rng.uniform(0.3, 1.0) * (0.5 + 0.5 * texture)
        return np.maximum(image, added.astype(np.float32))

    def _intensity(self, image: np.ndarray, brain: np.ndarray) -> np.ndarray:
        """Contrast jitter, skull, bias field, blur and noise on one 2D image in [0, 1]; returns it in [0, 1]."""
        from scipy.ndimage import gaussian_filter

        from mrigan.physics import BiasField, Decimate, GaussianNoise, KSpaceTruncation, RicianNoise

        rng, aug = self.rng, self.aug
        seed = int(rng.integers(2**31 - 1))
        if rng.random() < aug.gamma_p:
            image = np.clip(image, 0.0, 1.0) ** rng.uniform(*aug.gamma)
        if rng.random() < aug.skull_p:
            image = self._skull(image, brain)
        if rng.random() < aug.bias_p:
            image = BiasField(order=3, strength=rng.uniform(0.05, aug.bias_strength), seed=seed)(image).image
        if rng.random() < aug.blur_p:
            kind = rng.integers(3)
            if kind == 0:
                image = gaussian_filter(image, rng.uniform(0.5, 1.5))
            elif kind == 1:
                factor = int(rng.choice([2, 4]))
                small = Decimate(factor=factor)(image).image
                image = F.interpolate(
                    torch.from_numpy(np.ascontiguousarray(small, dtype=np.float32))[None, None],
                    size=image.shape,
                    mode="bicubic" if rng.random() < 0.5 else "bilinear",
                    align_corners=False,
                )[0, 0].numpy()
            else:
                image = KSpaceTruncation(factor=rng.uniform(1.5, 3.0))(image).image
        if rng.random() < aug.intensity_scale_p:
            image = image * rng.uniform(*aug.intensity_scale)
        if rng.random() < aug.noise_p:
            sigma = rng.uniform(*aug.noise_sigma)
            noise = RicianNoise if rng.random() < 0.6 else GaussianNoise
            image = noise(sigma=sigma, seed=seed + 1, reference=1.0)(image).image
        return np.clip(image, 0.0, 1.0).astype(np.float32)

    def batch(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        size = self._crop_size()
        raws = [self._raw(size) for _ in range(batch_size)]
        images = torch.from_numpy(np.stack([r[0] for r in raws])[:, None])
        tissues = torch.from_numpy(np.stack([r[1] for r in raws]))
        images, tissues = self._spatial(images, tissues)
        tissues = tissues.clamp(0.0, 1.0)
        brain_soft = tissues.sum(1).clamp(max=1.0)
        targets = torch.cat([(1.0 - brain_soft)[:, None], tissues], dim=1)
        targets = targets / targets.sum(1, keepdim=True).clamp(min=1e-6)
        out = np.stack(
            [self._intensity(images[i, 0].numpy(), brain_soft[i].numpy() > 0.5) for i in range(batch_size)]
        )
        return torch.from_numpy(out[:, None]), targets


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against per-pixel class probabilities: mean over pixels of -sum_c t_c log p_c."""
    return -(targets * F.log_softmax(logits, dim=1)).sum(1).mean()


# ----------------------------------------------------------------------------------------------- evaluation


def labels_from_maps(maps: dict[str, np.ndarray]) -> np.ndarray:
    """Hard labels (0 background, 1 CSF, 2 GM, 3 WM) from tissue probability maps: argmax with background."""
    tissues = np.stack([maps[k] for k in TISSUE_ORDER])
    background = 1.0 - np.clip(tissues.sum(0), 0.0, 1.0)
    return np.argmax(np.concatenate([background[None], tissues]), axis=0).astype(np.int64)


@torch.no_grad()
def segment_slices(net: MRIFeatureNet, volume: np.ndarray, *, axis: int = 2, batch_size: int = 8) -> np.ndarray:
    """Hard labels of a (X, Y, Z) volume in [0, 1], segmented slice by slice along `axis`."""
    net.eval()
    moved = np.moveaxis(np.asarray(volume, dtype=np.float32), axis, 0)
    labels = np.zeros(moved.shape, dtype=np.int64)
    for start in range(0, moved.shape[0], batch_size):
        chunk = torch.from_numpy(np.ascontiguousarray(moved[start : start + batch_size]))[:, None]
        labels[start : start + batch_size] = net.segment(chunk).argmax(1).numpy()
    return np.moveaxis(labels, 0, axis)


def dice_scores(predicted: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Dice per tissue class (csf, gm, wm) and their mean; 1.0 where a class is absent from both."""
    scores = {}
    for label, name in enumerate(CLASSES[1:], start=1):
        a, b = predicted == label, reference == label
        total = int(a.sum()) + int(b.sum())
        scores[name] = 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total
    scores["mean"] = float(np.mean([scores[k] for k in TISSUE_ORDER]))
    return scores


def _degrade_volume(volume: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    from mrigan.physics import RicianNoise

    return np.clip(RicianNoise(sigma=sigma, seed=seed, reference=1.0)(volume).image, 0.0, 1.0).astype(np.float32)


def mni_validation_dice(net: MRIFeatureNet) -> dict[str, float]:
    """Dice on the held-out MNI152 axial slab: real T1, real T1 + 5 % Rician noise, simulated SE T2w at 3 T."""
    from mrigan.physics import simulate_contrast

    t1, maps, _, spacing = _tissue_maps("mni152")
    z0, z1 = MNI_VALIDATION_Z
    slab_maps = {k: v[:, :, z0:z1] for k, v in maps.items()}
    reference = labels_from_maps(slab_maps)
    t2w, _, _ = simulate_contrast(slab_maps, spacing, contrast="t2w", field_t=3.0, snr_at_3t=None)
    inputs = {
        "t1": t1[:, :, z0:z1],
        "t1_rician5": _degrade_volume(t1[:, :, z0:z1], 0.05, seed=1),
        "t2w": np.clip(t2w, 0.0, 1.0).astype(np.float32),
    }
    metrics = {}
    for key, volume in inputs.items():
        for tissue, value in dice_scores(segment_slices(net, volume), reference).items():
            metrics[f"mni_val_{key}_dice_{tissue}"] = value
    return metrics


def colin27_dice(net: MRIFeatureNet) -> dict[str, float]:
    """Dice on held-out Colin27 against GMM tissue maps of its own T1 (a proxy reference).

    Inputs: the brain-extracted T1 (robust min-max inside the brain mask, as in training), the same + 5 %
    Rician noise, and the whole head normalised as the bench does (robust min-max of the non-zero voxels).
    Empty dict where Colin27 (Debian mricron-data) is not installed.
    """
    from mrigan.data.samples import load_sample, missing_reason
    from mrigan.preprocess import robust_minmax

    if missing_reason("colin27") is not None:
        return {}
    t1, maps, brain, _ = _tissue_maps("colin27")
    reference = labels_from_maps(maps)
    head = robust_minmax(np.asarray(load_sample("colin27").t1.data, dtype=np.float32))
    inputs = {"brain": t1, "brain_rician5": _degrade_volume(t1, 0.05, seed=2), "head": head}
    metrics = {}
    for key, volume in inputs.items():
        for tissue, value in dice_scores(segment_slices(net, volume), reference).items():
            metrics[f"colin27_{key}_dice_{tissue}"] = value
    return metrics


# ------------------------------------------------------------------------------------------------- training


def train_feature_net(
    out_path: str | Path,
    *,
    steps: int = 1500,
    batch_size: int = 16,
    crop: int | tuple[int, int] = DEFAULT_CROP,
    seed: int = 0,
    threads: int = 1,
    progress: bool | Callable[[int, dict[str, float]], None] = True,
    lr: float = 2e-3,
    samples: Sequence[str] = DEFAULT_SAMPLES,
    contrasts: Sequence[tuple[str, str, float]] = SIMULATED_CONTRASTS,
    evaluate: bool = True,
    evaluate_colin27: bool = True,
    log_every: int = 50,
    net_kwargs: dict[str, Any] | None = None,
    command: str | None = None,
) -> dict[str, Any]:
    """Train `MRIFeatureNet` on 4-class tissue segmentation and write it to `out_path` (safetensors).

    Args:
        out_path: the `.safetensors` file to write (its folder is created).
        steps: optimiser steps (AdamW, one-cycle cosine schedule).
        batch_size: slices per step.
        crop: crop side in pixels, or a (min, max) range (sizes that are multiples of 8 are drawn).
        seed: seed of everything random (data, augmentation, initialisation).
        threads: torch CPU threads while training (restored afterwards).
        progress: True prints a line every `log_every` steps to stderr; a callable gets (step, stats).
        lr: peak learning rate.
        samples: training anatomies ("mni152", "inia19"); Colin27 is refused (held out).
        contrasts: (sequence, contrast, field_t) of the volumes simulated from each anatomy's tissue maps.
        evaluate: compute Dice on the MNI152 validation slab (and on Colin27) at the end.
        evaluate_colin27: include held-out Colin27 (skipped when mricron-data is not installed).
        log_every: steps between progress reports.
        net_kwargs: `MRIFeatureNet` arguments (defaults: the network's own).
        command: the command line to record in the file's metadata.

    Returns:
        The training summary (steps, seconds, losses, Dice metrics ...), also stored in the file's metadata
        under "mrigan.training".
    """
    if any(name.startswith("colin27") for name in samples):
        raise ValueError("colin27 is held out: it must not be trained on")
    if steps < 1 or batch_size < 1:
        raise ValueError("steps and batch_size must be at least 1")
    crop_range = (int(crop), int(crop)) if isinstance(crop, int) else (int(crop[0]), int(crop[1]))
    if not 8 <= crop_range[0] <= crop_range[1]:
        raise ValueError(f"crop must be >= 8 pixels and min <= max, got {crop}")
    report = _reporter(progress)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(max(1, int(threads)))
    try:
        started = time.perf_counter()
        torch.manual_seed(seed)
        anatomies = [_load_anatomy(name, contrasts) for name in samples]
        weights = [0.6 if a.name == "mni152" else 0.4 for a in anatomies]
        sampler = SliceSampler(anatomies, crop=crop_range, seed=seed, weights=weights)
        setup_seconds = time.perf_counter() - started

        net = MRIFeatureNet(**(net_kwargs or {}))
        optimiser = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
        warmup = max(1, min(100, steps // 10))

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, schedule)
        net.train()
        losses: list[float] = []
        data_seconds = 0.0
        train_started = time.perf_counter()
        for step in range(steps):
            tick = time.perf_counter()
            images, targets = sampler.batch(batch_size)
            data_seconds += time.perf_counter() - tick
            loss = soft_cross_entropy(net.segment(images), targets)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            optimiser.step()
            scheduler.step()
            losses.append(float(loss.detach()))
            if (step + 1) % log_every == 0 or step + 1 == steps:
                report(
                    step + 1,
                    {
                        "loss": float(np.mean(losses[-log_every:])),
                        "lr": optimiser.param_groups[0]["lr"],
                        "seconds": time.perf_counter() - started,
                    },
                )
        train_seconds = time.perf_counter() - train_started
        net.eval()
        tail = losses[-max(1, min(100, steps // 5)) :]
        summary: dict[str, Any] = {
            "task": "4-class 2D tissue segmentation (" + ", ".join(CLASSES) + "), soft cross-entropy",
            "samples": list(samples),
            "held_out": "colin27 (never trained on); MNI152 axial z in "
            f"[{MNI_VALIDATION_Z[0]}, {MNI_VALIDATION_Z[1]}) +- {MNI_GUARD} slices (MNI152 used axially only)",
            "contrasts": ["t1w-real"] + [_contrast_name(*c) for c in contrasts],
            "augmentation": sampler.aug.as_dict(),
            "steps": int(steps),
            "batch_size": int(batch_size),
            "crop": list(crop_range),
            "seed": int(seed),
            "threads": int(threads),
            "lr": float(lr),
            "optimiser": "AdamW (weight decay 1e-4), linear warm-up then cosine to 2 % of lr, grad-norm clip 5",
            "setup_seconds": round(setup_seconds, 1),
            "train_seconds": round(train_seconds, 1),
            "data_seconds": round(data_seconds, 1),
            "loss_first": float(np.mean(losses[: len(tail)])),
            "loss_final": float(np.mean(tail)),
            "parameters": int(sum(p.numel() for p in net.parameters())),
            "torch": torch.__version__,
            "machine": f"{platform.machine()} CPU, {threads} thread(s)",
            "command": command or "",
        }
        out_path = Path(out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        metadata = {
            "mrigan.classes": ",".join(CLASSES),
            "mrigan.input": "one channel, intensities in [0, 1] (robust min-max), 2D slices",
            "mrigan.intended_use": "perceptual-loss and Frechet-distance features for MRI (not ImageNet VGG)",
        }
        save_feature_net(net, out_path, metadata={**metadata, "mrigan.training": json.dumps(summary, sort_keys=True)})
        if evaluate:  # the weights are on disk already; the file is written again with the metrics
            tick = time.perf_counter()
            summary["metrics"] = mni_validation_dice(net)
            if evaluate_colin27:
                summary["metrics"].update(colin27_dice(net))
            summary["eval_seconds"] = round(time.perf_counter() - tick, 1)
        summary["total_seconds"] = round(time.perf_counter() - started, 1)
        save_feature_net(net, out_path, metadata={**metadata, "mrigan.training": json.dumps(summary, sort_keys=True)})
        return summary
    finally:
        torch.set_num_threads(previous_threads)


def _reporter(progress: bool | Callable[[int, dict[str, float]], None]) -> Callable[[int, dict[str, float]], None]:
    if callable(progress):
        return progress
    if not progress:
        return lambda step, stats: None

    def report(step: int, stats: dict[str, float]) -> None:
        print(
            f"step {step}: loss {stats['loss']:.4f}  lr {stats['lr']:.2e}  {stats['seconds']:.0f} s",
            file=sys.stderr,
            flush=True,
        )

    return report


def training_summary(path: str | Path) -> dict[str, Any]:
    """The training summary stored in a feature-net file's metadata (empty dict if none)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    return json.loads(metadata.get("mrigan.training", "{}"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mrigan.features_training",
        description="Train the in-domain MRI feature network (tissue segmentation on MNI152 + inia19).",
    )
    parser.add_argument("--out", required=True, type=Path, help="the .safetensors file to write")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--crop", type=int, nargs=2, default=list(DEFAULT_CROP), metavar=("MIN", "MAX"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--no-colin27", action="store_true", help="skip the held-out Colin27 evaluation")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--summary", type=Path, help="also write the training summary as JSON here")
    args = parser.parse_args(argv)
    command = "python -m mrigan.features_training " + " ".join(sys.argv[1:] if argv is None else list(argv))
    summary = train_feature_net(
        args.out,
        steps=args.steps,
        batch_size=args.batch_size,
        crop=tuple(args.crop),
        seed=args.seed,
        threads=args.threads,
        progress=not args.quiet,
        lr=args.lr,
        evaluate_colin27=not args.no_colin27,
        command=command,
    )
    load_feature_net(args.out)  # the file must load
    text = json.dumps(summary, indent=2, sort_keys=True)
    if args.summary:
        args.summary.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
