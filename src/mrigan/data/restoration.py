"""Training data for restoration: 2D / 2.5D slices degraded on the fly with seeded MR physics.

Every sample is built from (seed, epoch, index) alone, so a resumed run sees exactly the same data.
The conditioning channels follow UMR-GAN (seed 000): [x, M, sigma-map, x(t-1), x(t+1), class one-hot]; a
signal that is switched off or missing is a zero channel, so the network's shape never changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mrigan.data.subjects import Subject


@dataclass
class Conditioning:
    """Which conditioning signals a restoration model sees.

    Attributes:
        use_mask: the known-pixel mask M (1 known, 0 missing).
        use_sigma: the noise sigma map.
        context: neighbouring slices on each side (0: 2D; 1: 2.5D with x(t-1), x(t+1)).
        num_classes: size of the class one-hot (0: none).
    """

    use_mask: bool = True
    use_sigma: bool = True
    context: int = 1
    num_classes: int = 0

    @property
    def channels(self) -> int:
        return 3 + 2 * self.context + self.num_classes

    def build(
        self, degraded_stack: np.ndarray, mask: np.ndarray, sigma: np.ndarray, label: int | None
    ) -> np.ndarray:
        """Stack the channels.

        Args:
            degraded_stack: (2 * context + 1, H, W) degraded slices, centre slice in the middle.
            mask: (H, W) 1 known / 0 missing.
            sigma: (H, W) noise std map (absolute, on the [0, 1] scale).
            label: class index or None.

        Returns:
            (channels, H, W) float32.
        """
        centre = degraded_stack.shape[0] // 2
        height, width = degraded_stack.shape[1:]
        zeros = np.zeros((height, width), np.float32)
        channels = [
            degraded_stack[centre],
            mask.astype(np.float32) if self.use_mask else zeros,
            sigma.astype(np.float32) if self.use_sigma else zeros,
        ]
        for offset in range(1, self.context + 1):
            channels.append(degraded_stack[centre - offset])
            channels.append(degraded_stack[centre + offset])
        for c in range(self.num_classes):
            channels.append(np.full((height, width), 1.0 if label == c else 0.0, np.float32))
        return np.stack(channels).astype(np.float32)


@dataclass
class DegradationConfig:
    """What the on-the-fly degradation draws from.

    Attributes:
        noise_probability: chance a sample gets noise.
        noise_kinds: "rician" and / or "gaussian".
        noise_sigma: (low, high) relative noise level (fraction of the [0, 1] range).
        hole_probability: chance a sample gets a hole (at least one of noise / hole is always applied).
        hole_kinds: "square", "boxes", "brush".
        square_size: (low, high) side of square holes in pixels.
    """

    noise_probability: float = 0.8
    noise_kinds: tuple[str, ...] = ("rician", "gaussian")
    noise_sigma: tuple[float, float] = (0.02, 0.1)
    hole_probability: float = 0.5
    hole_kinds: tuple[str, ...] = ("square", "boxes", "brush")
    square_size: tuple[int, int] = (16, 64)


def slice_index(subjects: list[Subject], *, min_foreground: float = 0.05) -> list[tuple[int, int]]:
    """(subject, slice) pairs along the last axis whose foreground covers at least `min_foreground`.

    A subject's `extra["allowed_slices"]` (boolean per slice) restricts the slices further (validation slabs).
    """
    index = []
    for s, subject in enumerate(subjects):
        keep = subject.brain.mean(axis=(0, 1)) >= min_foreground
        allowed = subject.extra.get("allowed_slices")
        if allowed is not None:
            keep &= np.asarray(allowed, bool)
        index.extend((s, int(k)) for k in np.nonzero(keep)[0])
    return index


def context_stack(image: np.ndarray, k: int, context: int) -> np.ndarray:
    """Slices k - context .. k + context along the last axis (edges repeat), as (2c + 1, X, Y)."""
    depth = image.shape[-1]
    picks = [min(max(k + o, 0), depth - 1) for o in range(-context, context + 1)]
    return np.moveaxis(image[..., picks], -1, 0)


def _crop_window(brain: np.ndarray, size: int, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left corner of a `size` window centred on a random brain pixel, kept inside the image."""
    candidates = np.argwhere(brain)
    if len(candidates) == 0:
        centre = np.array(brain.shape) // 2
    else:
        centre = candidates[int(rng.integers(len(candidates)))]
    return tuple(int(np.clip(c - size // 2, 0, max(n - size, 0))) for c, n in zip(centre, brain.shape))


def _pad_to(array: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad the last two axes up to `size` (centred)."""
    pad = [(0, 0)] * (array.ndim - 2)
    for n in array.shape[-2:]:
        extra = max(size - n, 0)
        pad.append((extra // 2, extra - extra // 2))
    return np.pad(array, pad)


class RestorationDataset:
    """Degraded / clean slice pairs for training and validating a restoration model.

    Args:
        subjects: normalised subjects (see `mrigan.data.subjects`).
        conditioning: which channels to build.
        degradation: what to draw degradations from.
        crop: side of the square training crop (None: whole slices padded to a multiple of `multiple`).
        multiple: whole slices are padded to one square side, a multiple of this (the U-Net's 2 ** depth),
            large enough for every subject.
        augment: flips and intensity jitter.
        intensity_jitter: (low, high) range of the random intensity scale (seed 000: 0.9-1.1).
        seed: base seed; sample i of epoch e uses the generator seeded by (seed, e, i).
        min_foreground: skip slices with less foreground than this fraction.

    Each item is a dict of float32 arrays: "input" (C, H, W), "target" (1, H, W), "mask" (1, H, W),
    "brain" (1, H, W), and "label" (int, -1 when unknown).
    """

    def __init__(
        self, subjects: list[Subject], *, conditioning: Conditioning | None = None,
        degradation: DegradationConfig | None = None, crop: int | None = 128, multiple: int = 64,
        augment: bool = True, seed: int = 0, min_foreground: float = 0.05,
        intensity_jitter: tuple[float, float] = (0.9, 1.1),
    ) -> None:
        self.subjects = subjects
        self.conditioning = conditioning or Conditioning()
        self.degradation = degradation or DegradationConfig()
        self.crop = crop
        self.multiple = multiple
        self.augment = augment
        self.intensity_jitter = tuple(intensity_jitter)
        self.seed = seed
        self.epoch = 0
        self.index = slice_index(subjects, min_foreground=min_foreground)
        if not self.index:
            raise ValueError("no slice with enough foreground in the given subjects")
        # whole slices of every subject are padded to one square side, so they batch together
        largest = max(max(subject.image.shape[:2]) for subject in subjects)
        self.side = int(np.ceil(largest / multiple) * multiple)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.index)

    def degrade(self, stack: np.ndarray, rng: np.random.Generator):
        """Apply one drawn degradation chain to a (S, H, W) stack; returns the physics `Degraded` record."""
        from mrigan.physics import Compose, RandomHole, RandomNoise

        config = self.degradation
        add_noise = rng.random() < config.noise_probability
        add_hole = rng.random() < config.hole_probability
        if not (add_noise or add_hole):
            add_noise = True
        operators = []  # noise first, then holes: missing pixels stay exactly 0
        if add_noise:
            operators.append(RandomNoise(kind=config.noise_kinds, sigma=config.noise_sigma, reference=1.0).sample(rng))
        if add_hole:
            operators.append(RandomHole(kinds=config.hole_kinds, square_size=config.square_size).sample(rng))
        # physics works on (X, Y, Z) with slices last
        return Compose(*operators)(np.moveaxis(stack, 0, -1))

    def __getitem__(self, i: int) -> dict[str, np.ndarray | int]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        s, k = self.index[i]
        subject = self.subjects[s]
        stack = context_stack(subject.image, k, self.conditioning.context)
        brain = subject.brain[..., k]
        if self.crop is not None:
            stack, brain = _pad_to(stack, self.crop), _pad_to(brain, self.crop)
            top, left = _crop_window(brain, self.crop, rng)
            stack = stack[:, top : top + self.crop, left : left + self.crop]
            brain = brain[top : top + self.crop, left : left + self.crop]
        else:
            stack, brain = _pad_to(stack, self.side), _pad_to(brain, self.side)
        if self.augment:
            if rng.random() < 0.5:
                stack, brain = stack[:, ::-1], brain[::-1]
            if rng.random() < 0.5:
                stack, brain = stack[:, :, ::-1], brain[:, ::-1]
            stack = np.clip(stack * rng.uniform(*self.intensity_jitter), 0.0, 1.0)
        stack = np.ascontiguousarray(stack, dtype=np.float32)
        degraded = self.degrade(stack, rng)
        degraded_stack = np.moveaxis(degraded.image, -1, 0)
        centre = stack.shape[0] // 2
        mask = degraded.maps.get("mask", np.ones(degraded.image.shape, np.float32))[..., centre]
        sigma = degraded.maps.get("sigma", np.zeros(degraded.image.shape, np.float32))[..., centre]
        label = subject.label
        return {
            "input": self.conditioning.build(degraded_stack, mask, sigma, label),
            "target": stack[centre : centre + 1].copy(),
            "mask": mask[None].astype(np.float32),
            "brain": np.ascontiguousarray(brain[None], dtype=np.float32),
            "label": -1 if label is None else int(label),
        }
