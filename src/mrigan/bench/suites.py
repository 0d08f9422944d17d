"""The bench suites: which degradations, on which held-out slices, scored how.

Protocol (also in the README): models train on MNI152 and inia19 only. Every number is measured on Colin27,
a brain no model saw: a contiguous block of axial slices centred on the brain, intensities mapped to [0, 1]
by robust min-max (0.1 / 99.9 percentiles of the non-zero voxels). Degradations are seeded, so every method
sees exactly the same corrupted input. PSNR / SSIM use data_range = 1 and are reported on the whole slice,
inside the brain mask ("fg") and, for inpainting, inside the hole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mrigan.physics.base import Degraded

N_SLICES = 40
QUICK_SLICES = 6


@dataclass
class Case:
    """One degradation of the held-out block: `degrade(clean) -> Degraded`."""

    name: str
    degrade: Callable[[np.ndarray], Degraded]
    score_masks: tuple[str, ...] = ("", "fg")


@dataclass
class Suite:
    """A task's cases; `headline` is the metric the table sorts and the README quotes."""

    name: str
    task: str
    cases: list[Case]
    headline: str = "psnr_fg"
    columns: tuple[str, ...] = ("psnr_fg", "ssim_fg", "psnr", "ssim")
    notes: list[str] = field(default_factory=list)


def _noise_case(level: float, seed: int) -> Case:
    from mrigan.physics import RicianNoise

    return Case(f"rician {level:.0%}", RicianNoise(sigma=level, seed=seed, reference=1.0))


def _hole_case(size: int) -> Case:
    from mrigan.physics import SquareHole

    return Case(f"hole {size}px", SquareHole(size=size), score_masks=("", "fg", "hole"))


def _downsample_case(factor: int) -> Case:
    from mrigan.physics import Decimate

    return Case(f"x{factor}", Decimate(factor=factor, axes=(0, 1)))


def make_suite(name: str, *, quick: bool = False) -> Suite:
    """Build a suite by name: "denoise", "inpaint" or "sr"."""
    if name == "denoise":
        levels = [0.05] if quick else [0.03, 0.05, 0.09]
        return Suite("denoise", "denoise", [_noise_case(level, seed=1000 + i) for i, level in enumerate(levels)])
    if name == "inpaint":
        sizes = [32] if quick else [32, 64]
        return Suite(
            "inpaint", "inpaint", [_hole_case(size) for size in sizes], headline="psnr_hole",
            columns=("psnr_hole", "ssim_hole", "psnr_fg", "ssim_fg"),
        )
    if name == "sr":
        factors = [2] if quick else [2, 4]
        return Suite("sr", "sr", [_downsample_case(f) for f in factors])
    raise KeyError(name)


SUITES = ("denoise", "inpaint", "sr")
TRANSLATION_SUITES = ("translate", "field")
"""Simulated translation suites, run by `mrigan.bench.translation` (not in SUITES: the README's tables list)."""
ALL_SUITES = SUITES + TRANSLATION_SUITES
