"""Degradation specs as the command line writes them, turned into operators.

Accepted forms (case-insensitive, no spaces):
    noise       "gaussian:SIGMA" or "rician:SIGMA", SIGMA a fraction of the image maximum ("0.05") or a
                percentage ("5%"), e.g. "rician:0.05".
    hole        "square:SIZE" (centred square of SIZE voxels), "boxes:N" or "boxes:N:MIN-MAX" (N random boxes,
                sides MIN..MAX voxels, default 8-32), "brush:N" or "brush:N:WIDTH" (N free-form strokes up to
                WIDTH voxels wide, default 12), e.g. "square:32", "boxes:3", "brush:5:16".
    downsample  "F" (anti-aliased decimation by the whole factor F in-plane: both axes of a 2D image, the
                first two of a 3D volume), "kspace:F" (keep the central 1/F of k-space in-plane, same grid),
                "thick:F" (average groups of F slices along the last axis), e.g. "2", "kspace:4", "thick:3".
An empty string or "none" means no such degradation.
"""

from __future__ import annotations

import numpy as np

from mrigan.errors import UsageError
from mrigan.physics.base import Compose, OperatorBase
from mrigan.physics.masks import BrushStrokes, RandomBoxes, SquareHole
from mrigan.physics.noise import GaussianNoise, RicianNoise
from mrigan.physics.resolution import Decimate, KSpaceTruncation, ThickSlices

NOISE_FORMS = (
    "'gaussian:SIGMA' or 'rician:SIGMA' (SIGMA a fraction of the image maximum, e.g. 'rician:0.05' or 'rician:5%')"
)
HOLE_FORMS = (
    "'square:SIZE', 'boxes:N', 'boxes:N:MIN-MAX', 'brush:N' or 'brush:N:WIDTH' (e.g. 'square:32', 'boxes:3', 'brush:5')"
)
DOWNSAMPLE_FORMS = "'F', 'kspace:F' or 'thick:F' with F a whole factor >= 1 (e.g. '2', 'kspace:4', 'thick:3')"


def _is_empty(spec: str | None) -> bool:
    return spec is None or spec.strip().lower() in ("", "none")


def _fail(what: str, spec: str, forms: str, reason: str = "") -> UsageError:
    detail = f" ({reason})" if reason else ""
    return UsageError(f"bad {what} spec {spec!r}{detail}: expected {forms}")


def _positive_int(text: str, what: str, spec: str, forms: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _fail(what, spec, forms, f"{text!r} is not a whole number") from None
    if value < 1:
        raise _fail(what, spec, forms, f"{value} is not >= 1")
    return value


def parse_noise(spec: str, seed: int = 0) -> GaussianNoise | RicianNoise:
    """Parse "rician:0.05" / "gaussian:3%" into a noise operator (see the module notes)."""
    parts = spec.strip().lower().split(":")
    if len(parts) != 2 or parts[0] not in ("gaussian", "rician"):
        raise _fail("noise", spec, NOISE_FORMS)
    text = parts[1]
    try:
        sigma = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
    except ValueError:
        raise _fail("noise", spec, NOISE_FORMS, f"{text!r} is not a number") from None
    if not np.isfinite(sigma) or sigma < 0:
        raise _fail("noise", spec, NOISE_FORMS, "SIGMA must be finite and >= 0")
    operator = GaussianNoise if parts[0] == "gaussian" else RicianNoise
    return operator(sigma=sigma, seed=seed)


def parse_hole(spec: str, seed: int = 0) -> SquareHole | RandomBoxes | BrushStrokes:
    """Parse "square:32" / "boxes:3" / "boxes:3:8-40" / "brush:5" / "brush:5:16" (see the module notes)."""
    parts = spec.strip().lower().split(":")
    kind = parts[0]
    if kind == "square" and len(parts) == 2:
        return SquareHole(size=_positive_int(parts[1], "hole", spec, HOLE_FORMS))
    if kind == "boxes" and len(parts) in (2, 3):
        n = _positive_int(parts[1], "hole", spec, HOLE_FORMS)
        min_size, max_size = 8, 32
        if len(parts) == 3:
            bounds = parts[2].split("-")
            if len(bounds) != 2:
                raise _fail("hole", spec, HOLE_FORMS, "box sizes must read MIN-MAX")
            min_size, max_size = (_positive_int(b, "hole", spec, HOLE_FORMS) for b in bounds)
            if min_size > max_size:
                raise _fail("hole", spec, HOLE_FORMS, "MIN is larger than MAX")
        return RandomBoxes(n=n, min_size=min_size, max_size=max_size, seed=seed)
    if kind == "brush" and len(parts) in (2, 3):
        n = _positive_int(parts[1], "hole", spec, HOLE_FORMS)
        width = _positive_int(parts[2], "hole", spec, HOLE_FORMS) if len(parts) == 3 else 12
        return BrushStrokes(n_strokes=n, max_width=width, seed=seed)
    raise _fail("hole", spec, HOLE_FORMS)


def parse_downsample(spec: str) -> Decimate | KSpaceTruncation | ThickSlices:
    """Parse "2" / "kspace:4" / "thick:3" (see the module notes)."""
    parts = spec.strip().lower().split(":")
    if len(parts) == 1:
        return Decimate(factor=_positive_int(parts[0], "downsample", spec, DOWNSAMPLE_FORMS))
    if len(parts) == 2 and parts[0] == "kspace":
        return KSpaceTruncation(factor=float(_positive_int(parts[1], "downsample", spec, DOWNSAMPLE_FORMS)))
    if len(parts) == 2 and parts[0] == "thick":
        return ThickSlices(factor=_positive_int(parts[1], "downsample", spec, DOWNSAMPLE_FORMS))
    raise _fail("downsample", spec, DOWNSAMPLE_FORMS)


def build_degradation(
    noise: str | None = None, hole: str | None = None, downsample: str | None = None, seed: int = 0
) -> Compose:
    """One degradation chain from CLI specs, applied as resolution loss, then noise, then holes.

    That order follows the acquisition (noise is added on the acquired grid) and keeps holes exactly zero;
    hole sizes are therefore in voxels of the downsampled grid. Each random operator gets its own seed,
    spawned from `seed` with `np.random.SeedSequence`.

    Args:
        noise: noise spec or None.
        hole: hole spec or None.
        downsample: downsampling spec or None.
        seed: the one seed the chain's seeds derive from.

    Returns:
        A `Compose` (empty, i.e. the identity, if every spec is None).
    """
    noise_seed, hole_seed = (int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(2))
    operators: list[OperatorBase] = []
    if not _is_empty(downsample):
        operators.append(parse_downsample(downsample))
    if not _is_empty(noise):
        operators.append(parse_noise(noise, seed=noise_seed))
    if not _is_empty(hole):
        operators.append(parse_hole(hole, seed=hole_seed))
    return Compose(*operators)
