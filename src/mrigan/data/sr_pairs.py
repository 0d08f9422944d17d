"""Super-resolution pairs: 2D high-resolution windows and their low-resolution versions, made on the fly.

The low-resolution image is always `resolution_operator(kind, scale)` applied to the high-resolution target
(anti-aliased decimation, k-space truncation, or thick slices; `mrigan.physics`), so a pair is exact physics,
not two independent resizes. Every sample is drawn from (seed, epoch, index) alone.

Models take one of two inputs (`INPUTS`): "low_res", the small image itself (SRCNN001, FullyConvSR, SRGAN,
RRDB upsample inside), or "upsampled", the low-resolution image interpolated back onto the target grid with
the bench's bicubic (cubic B-spline, pixel areas aligned; FCN, DCSRN).

Windows: training takes a square window centred on a random brain pixel of an axial slice; augmentation
(seed 002) rotates it by up to +-15 degrees, scales it, adds an optional elastic warp and flips it, all in one
resampling of the high-resolution slice (cubic spline). Validation windows are centred on each slice's brain
centroid, without augmentation. The seed-001 protocol (figshare `.mat` slices: a square around the tumour's
bounding box resized to the target size, 25 -> 50 px at 2x; class-balanced split by patient) is
`figshare_subjects` plus this dataset: such a subject carries its fixed window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mrigan.data.subjects import Subject
from mrigan.physics.base import Degraded, OperatorBase

DEGRADATIONS = ("decimate", "kspace", "thick")
INPUTS = ("low_res", "upsampled")


@dataclass
class DegradationConfig:
    """How the low-resolution image is made from the target.

    Attributes:
        kinds: drawn uniformly per sample: "decimate" (Gaussian anti-aliasing + block mean, the bench's x2 / x4),
            "kspace" (central 1 / scale of k-space, zero-filled, then block mean onto the coarse grid),
            "thick" (thick slices: block mean along the second axis only; "upsampled" inputs only).
        noise_sigma: (low, high) Rician noise level added to the low-resolution image (fraction of [0, 1]);
            (0, 0) adds none.
    """

    kinds: tuple[str, ...] = ("decimate",)
    noise_sigma: tuple[float, float] = (0.0, 0.0)


@dataclass
class AugmentConfig:
    """Seed-002 augmentation of the training windows (validation is never augmented).

    Attributes:
        flips: random flips along both axes.
        probability: chance that a window is also rotated / scaled / warped.
        rotation: maximum rotation in degrees (uniform in +-rotation).
        scaling: (low, high) range of the zoom.
        elastic_alpha: maximum elastic displacement in target pixels (0: no elastic warp).
        elastic_sigma: smoothness (Gaussian sigma, pixels) of the elastic displacement field.
    """

    flips: bool = True
    probability: float = 0.5
    rotation: float = 15.0
    scaling: tuple[float, float] = (0.9, 1.1)
    elastic_alpha: float = 0.0
    elastic_sigma: float = 6.0


def resolution_operator(kind: str, scale: int) -> OperatorBase:
    """The physics operator mapping a 2D target to its low-resolution image.

    Args:
        kind: one of `DEGRADATIONS`.
        scale: whole resolution factor (2 or 4).

    Returns:
        An operator; `op(target).image` is the low-resolution image, `.zoom` its grid.
    """
    from mrigan.physics import Compose, Decimate, KSpaceTruncation, ThickSlices

    if kind == "decimate":
        return Decimate(factor=scale, axes=(0, 1))
    if kind == "kspace":
        return Compose(KSpaceTruncation(factor=float(scale), axes=(0, 1)), ThickSlices(scale, axis=0),
                       ThickSlices(scale, axis=1))
    if kind == "thick":
        return ThickSlices(factor=scale, axis=1)
    raise ValueError(f"unknown degradation {kind!r}; expected one of {DEGRADATIONS}")


def bicubic(degraded: Degraded) -> np.ndarray:
    """The low-resolution image interpolated onto the target grid exactly as the bench's "bicubic" row does."""
    from mrigan.baselines.upsample import SplineUpsample

    return SplineUpsample(order=3)(degraded)


def _rotation_zoom(angle: float, zoom: float) -> np.ndarray:
    radians = np.deg2rad(angle)
    return zoom * np.array([[np.cos(radians), -np.sin(radians)], [np.sin(radians), np.cos(radians)]])


def window(
    image: np.ndarray, centre: Sequence[float], size: int, *, matrix: np.ndarray | None = None,
    displacement: np.ndarray | None = None, order: int = 3,
) -> np.ndarray:
    """Sample a `size` x `size` window of a 2D image around `centre` (zero outside the image).

    Output pixel p samples the image at centre + matrix @ (p - (size - 1) / 2) (+ displacement[:, p]).
    Where the matrix shrinks the image (|det| > 1) the image is first smoothed with a Gaussian of sigma
    (zoom - 1) / 2, as `mrigan.physics.Decimate` does.

    Args:
        image: 2D array.
        centre: window centre in image coordinates.
        size: window side.
        matrix: 2 x 2 map from window offsets to image offsets (rotation times zoom); None: identity.
        displacement: optional (2, size, size) extra offsets in image pixels (elastic warp).
        order: spline order (0 for masks).

    Returns:
        (size, size) float32.
    """
    from scipy.ndimage import gaussian_filter, map_coordinates

    matrix = np.eye(2) if matrix is None else np.asarray(matrix, dtype=np.float64)
    offsets = np.arange(size) - (size - 1) / 2.0
    grid = np.stack(np.meshgrid(offsets, offsets, indexing="ij")).reshape(2, -1)
    coords = (matrix @ grid).reshape(2, size, size) + np.asarray(centre, dtype=np.float64)[:, None, None]
    if displacement is not None:
        coords = coords + displacement
    zoom = float(np.sqrt(abs(np.linalg.det(matrix))))
    source = np.asarray(image, dtype=np.float64)
    if order > 0 and zoom > 1.0 + 1e-6:
        source = gaussian_filter(source, (zoom - 1.0) / 2.0, mode="nearest")
    return map_coordinates(source, coords, order=order, mode="grid-constant", cval=0.0).astype(np.float32)


@dataclass
class TumourWindow:
    """A fixed window of a figshare slice (seed 001): its centre and side in source pixels."""

    centre: tuple[float, float]
    side: float


def tumour_window(mask: np.ndarray, margin: int = 10) -> TumourWindow:
    """The square around a tumour's bounding box, `margin` pixels wider on every side."""
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        raise ValueError("the tumour mask is empty")
    side = max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 + 2 * margin
    centre = ((rows.min() + rows.max()) / 2.0, (cols.min() + cols.max()) / 2.0)
    return TumourWindow(centre=(float(centre[0]), float(centre[1])), side=float(side))


def figshare_subjects(folder: str | Path, margin: int = 10) -> list[Subject]:
    """The figshare brain-tumour slices (`.mat`) of a folder, each with its tumour window (seed-001 crops).

    The window (the tumour's bounding square) is resampled to the dataset's target side, e.g. 50 px; the
    whole window is scored (the brain mask is all ones).

    Subjects are grouped by patient id and labelled 0..2 (meningioma, glioma, pituitary), ready for the
    class-balanced split of `mrigan.data.subjects.split_subjects`.
    """
    from mrigan import io
    from mrigan.data.subjects import subject_from_array
    from mrigan.errors import InputError

    paths = sorted(Path(folder).rglob("*.mat"))
    if not paths:
        raise InputError(folder, "no figshare .mat files found")
    subjects = []
    for path in paths:
        volume = io.read(path)
        subject = subject_from_array(str(volume.meta["patient_id"]), volume.data, label=int(volume.meta["label"]) - 1,
                                     source=str(path), brain=np.ones(volume.data.shape, bool))
        subject.extra["window"] = tumour_window(volume.meta["tumor_mask"], margin)
        subjects.append(subject)
    return subjects


@dataclass
class _Draw:
    """The random choices of one sample."""

    centre: tuple[float, float]
    matrix: np.ndarray = field(default_factory=lambda: np.eye(2))
    displacement: np.ndarray | None = None
    flips: tuple[bool, bool] = (False, False)
    kind: str = "decimate"


class SRPairDataset:
    """High-resolution windows of 2D slices and their low-resolution versions.

    Args:
        subjects: normalised subjects (slices along the last axis); a subject with `extra["window"]`
            (a `TumourWindow`) always uses that window.
        scale: resolution factor.
        size: side of the target window (a multiple of `scale`).
        input: "low_res" or "upsampled" (see the module notes).
        degradation: how the low-resolution image is made.
        augment: augmentation settings, or None for none (validation).
        seed: sample i of epoch e draws from the generator seeded by (seed, e, i).
        min_foreground: slices with less brain than this fraction are skipped.

    Each item is a dict of float32 arrays: "input" (1, size / scale, size / scale) or (1, size, size),
    "target" (1, size, size), "bicubic" (1, size, size; the bench's bicubic of the low-resolution image) and
    "brain" (1, size, size).
    """

    def __init__(
        self, subjects: list[Subject], *, scale: int = 2, size: int = 64, input: str = "low_res",
        degradation: DegradationConfig | None = None, augment: AugmentConfig | None = None, seed: int = 0,
        min_foreground: float = 0.05,
    ) -> None:
        from mrigan.data.restoration import slice_index

        self.degradation = degradation or DegradationConfig()
        if input not in INPUTS:
            raise ValueError(f"input must be one of {INPUTS}, got {input!r}")
        unknown = [kind for kind in self.degradation.kinds if kind not in DEGRADATIONS]
        if unknown or not self.degradation.kinds:
            raise ValueError(f"degradation kinds must be among {DEGRADATIONS}, got {list(self.degradation.kinds)}")
        if "thick" in self.degradation.kinds and input != "upsampled":
            raise ValueError("thick slices reduce one axis only: use a model that takes the upsampled input")
        if size % scale:
            raise ValueError(f"the window side {size} must be a multiple of the scale {scale}")
        self.subjects = subjects
        self.scale = int(scale)
        self.size = int(size)
        self.input = input
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self.index = slice_index(subjects, min_foreground=min_foreground)
        if not self.index:
            raise ValueError("no slice with enough foreground in the given subjects")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.index)

    def _draw(self, subject: Subject, brain: np.ndarray, rng: np.random.Generator) -> _Draw:
        fixed = subject.extra.get("window")
        if fixed is not None:
            draw = _Draw(centre=fixed.centre, matrix=np.eye(2) * fixed.side / self.size)
        elif self.augment is None:
            points = np.argwhere(brain)
            centre = points.mean(axis=0) if len(points) else (np.array(brain.shape) - 1) / 2.0
            draw = _Draw(centre=(float(centre[0]), float(centre[1])))
        else:
            points = np.argwhere(brain)
            centre = points[int(rng.integers(len(points)))] if len(points) else (np.array(brain.shape) - 1) / 2.0
            draw = _Draw(centre=(float(centre[0]), float(centre[1])))
        kinds = self.degradation.kinds
        draw.kind = str(kinds[int(rng.integers(len(kinds)))])
        config = self.augment
        if config is None:
            return draw
        if rng.random() < config.probability:
            angle = rng.uniform(-config.rotation, config.rotation)
            draw.matrix = draw.matrix @ _rotation_zoom(angle, 1.0 / rng.uniform(*config.scaling))
            if config.elastic_alpha > 0:
                draw.displacement = _elastic_field(self.size, config.elastic_alpha, config.elastic_sigma, rng)
        if config.flips:
            draw.flips = (bool(rng.random() < 0.5), bool(rng.random() < 0.5))
        return draw

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        s, k = self.index[i]
        subject = self.subjects[s]
        brain = subject.brain[..., k]
        draw = self._draw(subject, brain, rng)
        target = np.clip(window(subject.image[..., k], draw.centre, self.size, matrix=draw.matrix,
                                displacement=draw.displacement), 0.0, 1.0)
        mask = window(brain.astype(np.float32), draw.centre, self.size, matrix=draw.matrix,
                      displacement=draw.displacement, order=0)
        for axis, flip in enumerate(draw.flips):
            if flip:
                target, mask = np.flip(target, axis), np.flip(mask, axis)
        target = np.ascontiguousarray(target, dtype=np.float32)
        degraded = self.low_resolution(target, draw.kind, rng)
        upsampled = bicubic(degraded)
        return {
            "input": (upsampled if self.input == "upsampled" else degraded.image)[None].astype(np.float32),
            "target": target[None],
            "bicubic": upsampled[None].astype(np.float32),
            "brain": np.ascontiguousarray(mask[None] > 0.5, dtype=np.float32),
        }

    def low_resolution(self, target: np.ndarray, kind: str, rng: np.random.Generator) -> Degraded:
        """The physics low-resolution image of `target` (plus Rician noise when configured)."""
        degraded = resolution_operator(kind, self.scale)(target)
        low, high = self.degradation.noise_sigma
        if high > 0:
            from mrigan.physics import RandomNoise

            degraded = RandomNoise(kind=("rician",), sigma=(low, high), reference=1.0).sample(rng).apply(degraded)
        return degraded


def _elastic_field(size: int, alpha: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth random (2, size, size) displacement field whose largest value is `alpha` pixels."""
    from scipy.ndimage import gaussian_filter

    field_ = np.stack([gaussian_filter(rng.uniform(-1, 1, (size, size)), sigma) for _ in range(2)])
    peak = np.abs(field_).max()
    return field_ * (alpha / peak) if peak > 0 else field_
