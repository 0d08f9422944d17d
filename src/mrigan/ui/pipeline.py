"""What one press of "Restore" does, as plain functions: read the upload, pick the region, degrade, run, score.

Units: each region is divided by its maximum (the "working" units, [0, 1]) before the optional degradation
and the method, as the bench does; outputs are mapped back to the input's units only when written. Every
method sees only the degraded image and its mask: noise levels are estimated, as they would be on a real scan.
A translation's target (another contrast or field strength: no common scale with the input) is divided by its
own maximum instead.
"""

from __future__ import annotations

import functools
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mrigan.errors import InputError, UsageError
from mrigan.io.volume import Volume

if TYPE_CHECKING:
    from mrigan.physics.base import Degraded
    from mrigan.ui.methods import Methods

AXIS_NAMES = ("x (sagittal for RAS NIfTI)", "y (coronal)", "z (axial: the slice axis)")
MAX_NOISE_PERCENT = 30.0
MAX_FACTOR = 8


@dataclass
class Scan:
    """One input as read.

    Attributes:
        volume: the image or volume, in its own units.
        name: what to call it (the uploaded file's name, or the sample's).
        path: the file or folder read (hashed into the provenance).
        kind: "image", "nifti", "dicom-file", "dicom-series", "npy" or "mat".
    """

    volume: Volume
    name: str
    path: Path
    kind: str

    @property
    def output_suffix(self) -> str:
        """The suffix an output in the input's format gets ("/" for a DICOM series folder)."""
        if self.kind == "dicom-series":
            return "/"
        if self.kind == "dicom-file":
            return ".dcm"
        if self.kind == "nifti":
            return ".nii.gz"
        if self.kind == "image":
            suffix = self.path.suffix.lower()
            return suffix if suffix in (".png", ".jpg", ".jpeg", ".tif", ".tiff") else ".png"
        return f".{self.kind}" if self.kind == "npy" else ".nii.gz"

    def describe(self) -> str:
        volume = self.volume
        spacing = " x ".join(f"{s:.3g}" for s in volume.spacing)
        return f"{self.name}: {self.kind}, shape {' x '.join(map(str, volume.shape))}, voxel {spacing} mm"


# ------------------------------------------------------------------------------------------------ reading


def check_upload_size(paths: Sequence[Path], max_bytes: int) -> int:
    """The total size of the files of one request.

    Raises:
        InputError: more than `max_bytes` together (the message names the cap and how to raise it).
    """
    total = sum(Path(p).stat().st_size for p in paths)
    if total > max_bytes:
        raise InputError(Path(paths[0]).name if len(paths) == 1 else f"{len(paths)} files",
                         f"upload of {total / 2**20:.1f} MB exceeds the cap of {max_bytes / 2**20:.0f} MB "
                         "(start the server with a larger `mrigan ui --max-upload-mb`)")
    return total


def read_uploads(paths: Sequence[Path], *, max_bytes: int, folder: Path) -> list[Scan]:
    """Read the files of one upload: several DICOM files are one series, anything else one scan per file.

    Args:
        paths: the uploaded files.
        max_bytes: the size cap of all of them together.
        folder: where several DICOM files are gathered into one series folder (reused when it exists).

    Raises:
        InputError: nothing uploaded, too large, or a file that is not a readable image.
    """
    from mrigan.io.readwrite import detect_format

    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("upload", "no file given: upload a scan or pick a sample")
    check_upload_size(paths, max_bytes)
    kinds = [detect_format(p) for p in paths]
    if len(paths) > 1 and all(kind == "dicom" for kind in kinds):
        if not folder.is_dir():
            _gather(paths, folder)
        return [Scan(_read(folder), f"{paths[0].name} (+{len(paths) - 1} DICOM files)", folder, "dicom-series")]
    return [_scan(path, kind) for path, kind in zip(paths, kinds, strict=True)]


def _gather(paths: Sequence[Path], folder: Path) -> None:
    """Copy files into a new `folder`, atomically: a concurrent request gathering the same files is harmless."""
    import tempfile

    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".gather-", dir=folder.parent))
    for number, path in enumerate(paths):
        shutil.copyfile(path, staging / f"{number:05d}_{path.name}")
    try:
        staging.rename(folder)
    except OSError:  # another request got there first
        shutil.rmtree(staging, ignore_errors=True)


def _scan(path: Path, kind: str | None) -> Scan:
    if kind is None:
        raise InputError(path.name, "not an image: upload PNG, JPEG, TIFF, DICOM or NIfTI "
                         "(the first bytes match none of them)")
    volume = _read(path)
    if kind == "dicom":
        kind = "dicom-file" if volume.ndim == 2 else "dicom-series"
    return Scan(volume, path.name, path, kind)


def _read(path: Path) -> Volume:
    """`mrigan.io.read`, with errors naming only the file (never the server's folders)."""
    try:
        volume = _read_cached(str(path), path.stat().st_mtime_ns)
    except InputError as error:
        raise InputError(path.name, error.problem) from None
    except (OSError, ValueError) as error:
        raise InputError(path.name, f"could not be read ({error})") from None
    if volume.ndim not in (2, 3):
        raise InputError(path.name, f"a {volume.ndim}D image; upload a 2D image or a 3D volume")
    if not np.isfinite(volume.data).all():
        raise InputError(path.name, "contains NaN or Inf values")
    return volume


@functools.lru_cache(maxsize=4)
def _read_cached(path: str, mtime_ns: int) -> Volume:
    from mrigan import io

    return io.read(path)


def read_sample(name: str) -> Scan:
    """A sample scan (`mrigan.data.samples`) by name.

    Raises:
        InputError: an unknown sample, or one whose files are not installed (the reason says how to get them).
    """
    from mrigan.data.samples import SAMPLES, load_sample, missing_reason

    if name not in SAMPLES:
        raise InputError(name, f"unknown sample; known: {', '.join(SAMPLES)}")
    reason = missing_reason(name)
    if reason:
        raise InputError(name, reason)
    volume = load_sample(name).t1
    return Scan(volume, name, Path(volume.source_path), "nifti")


# ------------------------------------------------------------------------------------------------ regions


@dataclass
class Region:
    """The part of a scan that is restored: one slice of a volume, a whole volume, or a 2D image.

    Attributes:
        data: the voxels, in the scan's units.
        template: the geometry and header outputs are written with (a one-voxel-thick slab for a slice).
        axis: the slice axis (None for a 2D image).
        index: the slice shown (and, unless `whole`, the one restored).
        whole: the whole volume is restored.
        orientation: how planes are turned for display: "image", "dicom" or "volume".
    """

    data: np.ndarray
    template: Volume
    axis: int | None
    index: int | None
    whole: bool
    orientation: str

    def plane(self, array: np.ndarray) -> np.ndarray:
        """The shown 2D plane of an array on this region's grid (or a zoomed copy of it)."""
        array = np.asarray(array)
        if array.ndim == 2:
            return array
        index = int(self.index * array.shape[self.axis] / self.data.shape[self.axis])
        return np.take(array, min(index, array.shape[self.axis] - 1), axis=self.axis)

    def to_volume(self, array: np.ndarray, zoom: Sequence[float] | None = None) -> Volume:
        """`array` (on this region's grid, or zoomed by `zoom` per region axis) as a Volume to write."""
        data = np.asarray(array, np.float32)
        if self.axis is not None and not self.whole:
            data = np.expand_dims(data, self.axis)
            zoom = None if zoom is None else (*zoom[: self.axis], 1.0, *zoom[self.axis:])
        if zoom is not None and all(z == 1.0 for z in zoom):
            zoom = None
        return self.template.with_data(data, zoom=None if zoom is None else tuple(zoom))


def slice_count(volume: Volume, axis: int) -> int:
    """Slices along `axis` (1 for a 2D image)."""
    return 1 if volume.ndim == 2 else int(volume.shape[axis])


def select_region(scan: Scan, *, axis: int = 2, index: int | None = None, whole: bool = False) -> Region:
    """The region to restore: a 2D image as it is; of a volume, slice `index` along `axis` or the whole.

    A slice keeps its place in the world: its template is a one-slice slab whose affine starts at it.

    Raises:
        UsageError: an axis or slice index outside the volume.
    """
    volume = scan.volume
    if volume.ndim == 2:
        orientation = "image"
        return Region(np.asarray(volume.data), volume, None, None, False, orientation)
    orientation = "dicom" if volume.source_format == "dicom" else "volume"
    if axis not in (0, 1, 2):
        raise UsageError(f"axis {axis}: expected 0, 1 or 2")
    count = volume.shape[axis]
    index = count // 2 if index is None else int(index)
    if not 0 <= index < count:
        raise UsageError(f"slice {index} is outside the volume (0 to {count - 1} along axis {axis})")
    if whole:
        return Region(np.asarray(volume.data), volume, axis, index, True, orientation)
    affine = np.array(volume.affine, dtype=float)
    affine[:3, 3] += affine[:3, axis] * index
    slab = Volume(np.expand_dims(np.take(volume.data, index, axis=axis), axis), affine, volume.source_format,
                  volume.header, volume.source_path, dict(volume.meta))
    return Region(np.take(volume.data, index, axis=axis), slab, axis, index, False, orientation)


# ------------------------------------------------------------------------------------------------ degrading


@dataclass
class Request:
    """The choices of one press of "Restore" (everything but the files).

    Attributes:
        task: "denoise", "inpaint", "sr" or "translate" (which adds no degradation).
        method: a method key ("model:NAME" / "baseline:NAME", see `mrigan.ui.methods`).
        axis, index, whole: the region (see `select_region`).
        noise_percent: Rician noise to add, % of the region's maximum (0: none).
        hole: side of a centred square hole to cut, in pixels (0: none).
        factor: resolution factor: for "sr" the downsampling added (or, without "add degradation", the
            upscaling asked); for the other tasks the k-space truncation added (same grid).
        degrade: add the degradation above to the input, which then serves as the target.
        seed: seed of the added noise.
        uncertainty: ask models for an uncertainty map.
        drawn_mask: pixels painted as missing on the shown plane (True = missing), for inpainting.
    """

    task: str = "denoise"
    method: str = "baseline:nlm"
    axis: int = 2
    index: int | None = None
    whole: bool = False
    noise_percent: float = 0.0
    hole: int = 0
    factor: int = 1
    degrade: bool = False
    seed: int = 0
    uncertainty: bool = False
    drawn_mask: np.ndarray | None = field(default=None, repr=False)

    def check(self) -> None:
        """Raises UsageError on values outside the page's ranges."""
        from mrigan.ui.methods import TASKS

        if self.task not in TASKS:
            raise UsageError(f"unknown task {self.task!r}; expected one of {', '.join(TASKS)}")
        if not 0 <= self.noise_percent <= MAX_NOISE_PERCENT:
            raise UsageError(f"noise {self.noise_percent}%: expected 0 to {MAX_NOISE_PERCENT:g}%")
        if self.hole < 0 or not 1 <= self.factor <= MAX_FACTOR:
            raise UsageError(f"hole {self.hole} / factor {self.factor}: expected a hole >= 0 and a factor 1 to "
                             f"{MAX_FACTOR}")
        if self.task == "sr" and self.factor < 2:
            raise UsageError("super-resolution needs a resolution factor of at least 2")
        if self.task == "translate" and self.degrade:
            raise UsageError("translation adds no degradation: untick \"Add degradation\" (to score the result, "
                             "upload a target scan of the target contrast / field strength on the same grid)")

    def degradation_specs(self) -> dict[str, str | None]:
        """The `mrigan degrade` specs of the added degradation (all None when none is added)."""
        if not self.degrade:
            return {"noise": None, "hole": None, "downsample": None}
        downsample = None
        if self.factor > 1:
            downsample = str(self.factor) if self.task == "sr" else f"kspace:{self.factor}"
        return {"noise": f"rician:{self.noise_percent / 100:g}" if self.noise_percent > 0 else None,
                "hole": f"square:{self.hole}" if self.hole > 0 else None, "downsample": downsample}


def degrade(clean: np.ndarray, request: Request) -> Degraded:
    """The method's input: `clean` with the added degradation, or as it is (an SR input marked for upscaling).

    The "sigma" map is dropped: methods estimate the noise level, as on a real scan.
    """
    from mrigan.physics import IN_PLANE_AXES, build_degradation

    degraded = build_degradation(**request.degradation_specs(), seed=request.seed)(clean)
    degraded.maps.pop("sigma", None)
    if request.task == "sr" and not request.degrade:
        zoom = tuple(1.0 / request.factor if axis in IN_PLANE_AXES else 1.0 for axis in range(clean.ndim))
        degraded.source_shape = tuple(round(n / z) for n, z in zip(clean.shape, zoom, strict=True))
        degraded.zoom = zoom
    return degraded


def known_mask(request: Request, degraded: Degraded, region: Region) -> np.ndarray | None:
    """The known-pixel mask (True = known) the method gets, or None (nothing missing).

    Inpainting: the added hole, the painted pixels (on every slice of a whole volume), and, when neither
    leaves anything missing, the default centred square of `mrigan enhance --mode inpaint`.
    """
    from mrigan.inference import default_inpaint_mask

    image = np.asarray(degraded.image)
    mask = degraded.maps.get("mask")
    known = None if mask is None else np.asarray(mask) > 0
    if request.task != "inpaint":
        return known
    known = np.ones(image.shape, bool) if known is None else known
    if request.drawn_mask is not None:
        drawn = np.asarray(request.drawn_mask, bool)
        if image.ndim == 3:
            drawn = np.broadcast_to(np.expand_dims(drawn, region.axis), image.shape)
        if drawn.shape != image.shape:
            raise UsageError(f"the painted mask ({drawn.shape}) does not match the image {image.shape}")
        known = known & ~drawn
    if known.all():
        known = default_inpaint_mask(image.shape)
    return known


# ------------------------------------------------------------------------------------------------ running


@dataclass
class Outcome:
    """One restored region and the evidence shown beside it.

    Attributes:
        scan, region, request: what was restored and how.
        scale: the region's maximum (working units = scan units / scale).
        clean: the region as given, in working units.
        degraded: what the method saw (image in working units, mask, degradation parameters).
        output: the method's output in working units, on the source grid.
        uncertainty: per-voxel std in working units, or None.
        target: the reference in working units (the clean region when a degradation was added, else the
            ground truth given), or None.
        target_scale: what the target was divided by: `scale`, or for a translation the target's own maximum.
        metrics: PSNR / SSIM of the output (and of the input, when on the same grid) against the target.
        seconds: the method's wall-clock time.
        method: what ran (name, kind, sha256, config, ...).
    """

    scan: Scan
    region: Region
    request: Request
    scale: float
    clean: np.ndarray
    degraded: Degraded
    output: np.ndarray
    uncertainty: np.ndarray | None
    target: np.ndarray | None
    metrics: dict[str, float]
    seconds: float
    method: dict[str, Any]
    target_scale: float | None = None

    @property
    def shown_input(self) -> np.ndarray:
        return np.asarray(self.degraded.image)


def restore(scan: Scan, request: Request, methods: Methods, *, target: Scan | None = None) -> Outcome:
    """Restore the requested region of `scan` and score it against the target, if there is one.

    Args:
        scan: the input.
        request: the page's choices.
        methods: where the method comes from.
        target: a ground truth on the input's grid (ignored when a degradation is added: the clean input is
            the target then); for "translate", a scan of the target domain (it is also histogram matching's
            reference).

    Raises:
        UsageError: bad choices. InputError: an empty image or a target that does not fit.
    """
    request.check()
    region = select_region(scan, axis=request.axis, index=request.index, whole=request.whole)
    scale = float(np.max(region.data))
    if not scale > 0:
        raise InputError(scan.name, "the image has no positive values (is it empty?)")
    clean = (np.asarray(region.data, np.float32) / scale).astype(np.float32)
    degraded = degrade(clean, request)
    known = known_mask(request, degraded, region)
    if known is not None:
        degraded.maps["mask"] = known.astype(np.float32)
        degraded.image = np.where(known, degraded.image, 0.0).astype(np.float32)
    if request.degrade:
        reference, target_scale = clean, scale
    else:
        own = request.task == "translate"  # another contrast: no common scale with the input
        reference, target_scale = _target_region(target, region, scan, None if own else scale)
    start = time.perf_counter()
    try:
        output, spread, method = methods.run(
            request.method, request.task, degraded, uncertainty=request.uncertainty,
            reference=reference if request.task == "translate" else None)
    except ValueError as error:
        raise InputError(scan.name, str(error)) from None
    seconds = time.perf_counter() - start
    return Outcome(scan, region, request, scale, clean, degraded, np.asarray(output, np.float32), spread,
                   reference, score(output, degraded.image, reference), seconds, method, target_scale)


def _target_region(target: Scan | None, region: Region, scan: Scan, scale: float | None
                   ) -> tuple[np.ndarray | None, float | None]:
    """The ground truth's voxels matching `region` divided by `scale` (None: by their own maximum), and that scale.

    Raises:
        InputError: a ground truth of another shape, or (own scale) one without positive values there.
    """
    if target is None:
        return None, None
    volume = target.volume
    if volume.shape == scan.volume.shape:
        axis = 2 if region.axis is None else region.axis
        data = select_region(target, axis=axis, index=region.index, whole=region.whole).data
    elif volume.ndim == 2 and region.data.ndim == 2 and volume.shape == region.data.shape:
        data = volume.data
    else:
        raise InputError(target.name, f"ground truth of shape {volume.shape} does not match the input "
                         f"{scan.volume.shape}")
    scale = float(np.max(data)) if scale is None else scale
    if not scale > 0:
        raise InputError(target.name, "the target has no positive values in this region (is it empty?)")
    return (np.asarray(data, np.float32) / scale).astype(np.float32), scale


def score(output: np.ndarray, shown_input: np.ndarray, target: np.ndarray | None) -> dict[str, float]:
    """PSNR (dB) and SSIM of the output and, on the same grid, of the input against the target.

    The data range is the target's (max - min): 1 for a clean input scaled to [0, 1].
    """
    from mrigan.metrics import psnr, ssim

    if target is None:
        return {}
    if np.shape(output) != np.shape(target):
        raise InputError("ground truth", f"shape {np.shape(target)} differs from the output's {np.shape(output)}")
    data_range = float(np.max(target) - np.min(target)) or 1.0
    metrics = {"psnr": psnr(output, target, data_range=data_range),
               "ssim": ssim(output, target, data_range=data_range)}
    if np.shape(shown_input) == np.shape(target):
        metrics.update(input_psnr=psnr(shown_input, target, data_range=data_range),
                       input_ssim=ssim(shown_input, target, data_range=data_range))
    return {key: float(value) for key, value in metrics.items()}
