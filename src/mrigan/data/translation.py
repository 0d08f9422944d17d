"""Translation data: two simulated acquisitions of one anatomy, as pairs, as unpaired sets, and stitched back.

Every volume comes from tissue maps (`mrigan.commands.load_tissues`: GM / WM / CSF of a sample anatomy) through
`mrigan.physics.simulate_contrast`, once per domain: a source (e.g. T1w at 3 T, or 7 T at twice the voxel size)
and a target (T2w at 3 T, or 9.4 T at the anatomy's own voxel size). Each domain is simulated twice, with its
noise ("as acquired", what a scanner gives and what a model sees) and without ("true", what a translation is
scored against). A coarser domain is resampled back onto the anatomy's grid with a cubic spline (seed 004's
"upsample the 7 T volume 2x and register it"; here the grids agree by construction), so the four images and the
brain mask of a `TranslationVolume` share one grid, voxel for voxel. Intensities are mapped to [0, 1] by robust
min-max (0.1 / 99.9 percentiles of the non-zero voxels), as at inference.

Datasets (each sample drawn from (seed, epoch, index) alone, so a resumed run sees the same data):

* `PairedTranslationDataset`: input and target cut at the same place of the same slice (whole slices, 2D
  crops, or 3D patches as seed 004's 64 x 64 patches, 300 per volume);
* `UnpairedTranslationDataset`: CycleGAN's two sets; the A and B slices come from disjoint slabs of each
  volume (or from different subjects) and are drawn independently, so no pair can leak into training.

A user's own data replaces the simulation in `paired_folder` (registered pairs in `source/` and `target/`,
matched by file name) and `domain_folders` (CycleGAN's two unpaired folders): every file is checked before any is
loaded (partners, channels, shapes, patch size), subjects are split 70 / 20 / 10 (seeded; the test part is never
loaded) and normalised as above (optional N4 first). Such volumes have no noise-free version: their "true"
images are the images as given.

`stitch` runs a patch model over a whole volume on a TorchIO grid and blends the overlaps (Hann window by
default), so volumes come back without seams; `seam_score` measures what is left of them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

from mrigan.data.restoration import slice_index
from mrigan.data.subjects import Subject, central_slab

OVERLAP_MODES = ("hann", "average", "crop")
CHANNELS = ("input", "input_true", "target", "target_true", "brain", "field")
"""The images a paired sample holds, in the order `PairedTranslationDataset` stacks them."""


@dataclass
class DomainConfig:
    """One domain of a translation: what `mrigan simulate` would acquire.

    Attributes:
        contrast: "t1w", "t2w" or "pdw".
        sequence: "se" (spin echo) or "gre" (spoiled gradient echo; "t2w" is then T2*-weighted).
        field_t: main field (T); relaxation times follow it (`mrigan.physics.tissue_properties`).
        voxel_scale: voxel size as a multiple of the anatomy's own (2: half the resolution per axis).
        snr: SNR of the brightest pure tissue at 3 T and the anatomy's own voxel size (None: no noise); the
            simulation scales it by (field_t / 3) ** snr_field_exponent and by the voxel volume.
        snr_field_exponent: 1 is the classic linear growth with B0 (Pohmann et al. 2016 measured ~1.65).
        tr, te, flip_deg: repetition time, echo time (ms) and flip angle (degrees, gradient echo only); None: the
            sequence's default (`mrigan.physics.contrast.SEQUENCES`). E.g. Colin27's own T1w: gre, 1.5 T, TR 18,
            TE 10, flip 30.
    """

    contrast: Literal["t1w", "t2w", "pdw"] = "t1w"
    sequence: Literal["se", "gre"] = "se"
    field_t: float = 3.0
    voxel_scale: float = 1.0
    snr: float | None = 40.0
    snr_field_exponent: float = 1.0
    tr: float | None = None
    te: float | None = None
    flip_deg: float | None = None

    def __post_init__(self) -> None:
        if self.field_t <= 0 or self.voxel_scale <= 0:
            raise ValueError(f"field_t and voxel_scale must be positive, got {self.field_t}, {self.voxel_scale}")
        for name in ("tr", "te", "flip_deg"):
            if getattr(self, name) is not None and not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive or null, got {getattr(self, name)}")
        if self.snr is not None and self.snr <= 0:
            raise ValueError(f"snr must be positive or null, got {self.snr}")

    def describe(self) -> str:
        """E.g. "T2w SE 3T" or "T2*w GRE 7T, 2x voxels"."""
        weighting = "T2*" if (self.contrast, self.sequence) == ("t2w", "gre") else self.contrast[:2].upper()
        voxels = "" if self.voxel_scale == 1 else f", {self.voxel_scale:g}x voxels"
        timing = ", ".join(f"{label} {value:g}" for label, value in (("TR", self.tr), ("TE", self.te),
                                                                     ("flip", self.flip_deg)) if value is not None)
        return f"{weighting}w {self.sequence.upper()} {self.field_t:g}T{voxels}" + (f" ({timing})" if timing else "")


@dataclass(kw_only=True)
class TranslationVolume(Subject):
    """A `Subject` whose `image` is the source as acquired, with the target and both noise-free versions.

    All arrays are (X, Y, Z) float32 in [0, 1] on the grid of `brain`. `extra["allowed_slices"]` (boolean per
    slice along Z), when set, limits the slices that datasets take from this volume (validation slabs,
    CycleGAN's disjoint A / B slabs).
    """

    target: np.ndarray
    image_true: np.ndarray
    target_true: np.ndarray

    def arrays(self) -> list[np.ndarray]:
        """Source, source true, target, target true and brain, in the order of `CHANNELS`."""
        return [self.image, self.image_true, self.target, self.target_true, self.brain.astype(np.float32)]


@functools.lru_cache(maxsize=4)
def _tissues(anatomy: str) -> tuple[tuple[float, ...], dict[str, np.ndarray], np.ndarray]:
    """(spacing, tissue maps, brain mask) of a sample anatomy, loaded once per process."""
    from mrigan.commands import load_tissues

    reference, tissues = load_tissues(anatomy)
    brain = sum(tissues.values()) > 0.1
    return tuple(float(s) for s in reference.spacing), tissues, brain


def zoomed_tissues(
    tissues: dict[str, np.ndarray], spacing: Sequence[float], zoom: float,
) -> tuple[tuple[float, ...], dict[str, np.ndarray], np.ndarray]:
    """Tissue maps resampled onto a grid `zoom` times finer per axis (linear), with their spacing and brain mask.

    The anatomy is unchanged; its structures span `zoom` times more voxels, as a brain of that size would on the
    anatomy's own grid. Simulating on the zoomed maps gives the physics (noise, voxel size) at the new grid.
    """
    from scipy.ndimage import zoom as resample

    if zoom <= 0:
        raise ValueError(f"zoom must be positive, got {zoom}")
    if zoom == 1:
        return tuple(spacing), tissues, sum(tissues.values()) > 0.1
    zoomed = {name: np.clip(resample(p, zoom, order=1, grid_mode=True, mode="nearest"), 0.0, 1.0).astype(np.float32)
              for name, p in tissues.items()}
    return tuple(float(s) / zoom for s in spacing), zoomed, sum(zoomed.values()) > 0.1


def simulate_domain(
    tissues: dict[str, np.ndarray], spacing: Sequence[float], domain: DomainConfig, *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate one domain of an anatomy, as acquired and noise-free, on the tissue maps' grid.

    Args:
        tissues: GM / WM / CSF probability maps on one grid.
        spacing: their voxel size (mm).
        domain: what to simulate.
        seed: seed of the noise.

    Returns:
        (acquired, true): float32 arrays of the maps' shape in [0, 1]. Both go through the one linear map that
        robust min-max gives the acquired image (its 0.1 / 99.9 percentiles of the non-zero voxels -> 0 / 1,
        clipped), so they differ by the noise only.
    """
    from mrigan.physics import simulate_contrast

    shape = next(iter(tissues.values())).shape
    voxel_mm = [s * domain.voxel_scale for s in spacing]
    native_mm3 = float(np.prod(spacing))
    images = []
    for snr in (domain.snr, None):
        image, new_spacing, _ = simulate_contrast(
            tissues, spacing, contrast=domain.contrast, sequence=domain.sequence, field_t=domain.field_t,
            voxel_mm=voxel_mm, snr_at_3t=None if snr is None else snr / native_mm3,
            snr_field_exponent=domain.snr_field_exponent, seed=seed, tr=domain.tr, te=domain.te,
            flip_deg=domain.flip_deg,
        )
        images.append(to_grid(image, new_spacing, spacing, shape))
    acquired = images[0]
    low, high = np.percentile(acquired[acquired != 0], [0.1, 99.9])
    return tuple(np.clip((image - low) / max(high - low, 1e-6), 0.0, 1.0).astype(np.float32) for image in images)


def to_grid(image: np.ndarray, spacing: Sequence[float], new_spacing: Sequence[float],
            shape: Sequence[int]) -> np.ndarray:
    """Resample onto the grid of `shape` and `new_spacing` that shares the field of view's corner (cubic spline)."""
    from mrigan.physics.resolution import resample_to_spacing

    resampled = resample_to_spacing(image, spacing, new_spacing, order=3, antialias=True)
    pad = [(0, max(n - m, 0)) for n, m in zip(shape, resampled.shape, strict=True)]
    resampled = np.pad(resampled, pad, mode="edge")
    return np.ascontiguousarray(resampled[tuple(slice(0, n) for n in shape)], dtype=np.float32)


def _central_slices(
    tissues: dict[str, np.ndarray], brain: np.ndarray, count: int,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The `count` axial slices around the middle of the brain's slices."""
    covered = np.nonzero(brain.any(axis=(0, 1)))[0]
    start = max(int(covered.mean()) - count // 2, 0) if covered.size else 0
    keep = slice(start, start + count)
    return {name: p[..., keep] for name, p in tissues.items()}, brain[..., keep]


def translation_volumes(
    samples: Sequence[str], source: DomainConfig, target: DomainConfig, *, seed: int = 0,
    max_slices: int | None = None, zooms: Sequence[float] = (1.0,),
) -> list[TranslationVolume]:
    """Source / target volumes of each sample anatomy (colin27 too: the task, not the data, forbids it).

    Args:
        samples: sample anatomy names (see `mrigan.data.samples.SAMPLES`) or folders of gm / wm / csf maps.
        source, target: the two domains.
        seed: base seed of the noise (each anatomy, zoom and domain draws its own).
        max_slices: keep only this many central axial slices of the brain (quick runs, tests); None keeps all.
        zooms: each anatomy on grids this many times finer (`zoomed_tissues`); a zoom other than 1 gives the
            volume the subject id "ANATOMY@ZOOMx".

    Returns:
        One `TranslationVolume` per anatomy and zoom (anatomy-major).
    """
    volumes = []
    for number, anatomy in enumerate(samples):
        for zoom_number, zoom in enumerate(zooms):
            spacing, tissues, brain = _tissues(anatomy)
            if max_slices is not None and zoom != 1:  # zoom only the slices that will be kept (and a margin)
                tissues, brain = _central_slices(tissues, brain, int(np.ceil(max_slices / zoom)) + 2)
            spacing, tissues, brain = zoomed_tissues(tissues, spacing, float(zoom))
            if max_slices is not None:
                tissues, brain = _central_slices(tissues, brain, max_slices)
            entropy = [seed, number] if zoom == 1 else [seed, number, zoom_number, 1]
            seeds = np.random.SeedSequence(entropy).generate_state(2)
            image, image_true = simulate_domain(tissues, spacing, source, seed=int(seeds[0]))
            target_image, target_true = simulate_domain(tissues, spacing, target, seed=int(seeds[1]))
            name = anatomy if zoom == 1 else f"{anatomy}@{zoom:g}x"
            volumes.append(TranslationVolume(
                subject_id=name, image=image, brain=brain, source=f"sample:{anatomy}", spacing=spacing,
                target=target_image, image_true=image_true, target_true=target_true,
            ))
    return volumes


# ------------------------------------------------------------------------------------------------ splits
def with_slices(volume: TranslationVolume, allowed: np.ndarray) -> TranslationVolume:
    """The same volume, its slices limited to `allowed` (combined with any limit it already has)."""
    previous = volume.extra.get("allowed_slices")
    allowed = np.asarray(allowed, bool) if previous is None else np.asarray(allowed, bool) & previous
    return replace(volume, extra={**volume.extra, "allowed_slices": allowed})


def hold_out_slab(
    volume: TranslationVolume, fraction: float, *, min_depth: int = 1, guard: int = 0,
    min_foreground: float = 0.05,
) -> tuple[TranslationVolume, TranslationVolume]:
    """(train, validation): the central slab of the brain's slices validates; `guard` slices beside it go to neither.

    Args:
        volume: the whole volume.
        fraction: share of the brain's slices in the slab.
        min_depth: the slab has at least this many slices (a 3D patch's depth).
        guard: slices on each side of the slab kept out of training (neighbouring slices look alike; 3D
            training patches never reach into the slab anyway).
        min_foreground: slices with this much brain count as the brain's.
    """
    train, slab = central_slab(volume.brain, fraction, min_foreground=min_foreground, guard=guard,
                               min_depth=min_depth)
    return with_slices(volume, train), with_slices(volume, slab)


def alternate_slabs(volume: TranslationVolume, thickness: int) -> tuple[TranslationVolume, TranslationVolume]:
    """Two copies of a volume for CycleGAN's domains: A keeps the even slabs of `thickness` slices, B the odd ones."""
    even = (np.arange(volume.image.shape[-1]) // max(thickness, 1)) % 2 == 0
    return with_slices(volume, even), with_slices(volume, ~even)


# ------------------------------------------------------------------------------------------------ user folders
USER_SUFFIXES = (".nii", ".nii.gz", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".npy")
"""Files a user folder may hold: one subject per file (NIfTI volumes, or 2D images taken as one-slice volumes)."""


@dataclass
class FolderSplit:
    """A user folder split by subject.

    Attributes:
        train, validation: the volumes of those subjects, preprocessed (see `load_user_volume`).
        test: the test subjects' names; their files are checked but never loaded, so they stay out of training
            and validation.
    """

    train: list[TranslationVolume]
    validation: list[TranslationVolume]
    test: list[str]


def subject_name(path: Path) -> str:
    """A file's subject name: its name without the image suffix (`sub-01.nii.gz` -> `sub-01`)."""
    name = path.name
    lower = name.lower()
    suffix = next((s for s in sorted(USER_SUFFIXES, key=len, reverse=True) if lower.endswith(s)), "")
    return name[: len(name) - len(suffix)]


def user_files(folder: str | Path) -> dict[str, Path]:
    """Subject name -> file of every image or volume in `folder` (not recursive; hidden files ignored).

    Raises:
        InputError: no such folder, no image in it, or two files of one subject (`a.nii` and `a.nii.gz`).
    """
    from mrigan.errors import InputError

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise InputError(folder, "no such folder")
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file() or not path.name.lower().endswith(USER_SUFFIXES):
            continue
        name = subject_name(path)
        if name in files:
            raise InputError(path, f"a second file of subject {name!r} (also {files[name].name}); keep one")
        files[name] = path
    if not files:
        raise InputError(folder, f"no images or volumes in this folder ({', '.join(USER_SUFFIXES)})")
    return files


def probe(path: Path) -> tuple[tuple[int, ...], int]:
    """(spatial shape, channels) of an image file from its header, without reading the voxels.

    Channels: 1 for grey (with or without alpha), 3 for colour (RGB, RGBA, palette), the 4th dimension of a
    4D NIfTI. The shape is (X, Y, Z) for volumes and (H, W) for 2D images, as `mrigan.io.read` returns them.
    A file no header reader understands is read whole, and `mrigan.io.read` names its problem.
    """
    lower = path.name.lower()
    try:
        if lower.endswith((".nii", ".nii.gz")):
            import nibabel as nib

            shape = tuple(int(n) for n in nib.load(path).shape)
            return shape[:3], int(np.prod(shape[3:])) if len(shape) > 3 else 1
        if lower.endswith((".png", ".jpg", ".jpeg")):
            from PIL import Image

            with Image.open(path) as image:
                colour = image.mode == "P" or bool({"R", "G", "B"} & set(image.getbands()))
                return (image.height, image.width), 3 if colour else 1
        if lower.endswith((".tif", ".tiff")):
            import tifffile

            with tifffile.TiffFile(path) as tiff:
                shape = tuple(tiff.pages[0].shape)
            return shape[:2], 3 if len(shape) == 3 and shape[-1] >= 3 else 1
        if lower.endswith(".npy"):
            shape = tuple(np.load(path, mmap_mode="r").shape)
            return shape[:3], int(np.prod(shape[3:])) if len(shape) > 3 else 1
    except Exception:  # noqa: BLE001 - a damaged header: let the reader name the problem
        pass
    from mrigan import io

    return io.read(path).shape, 1


def _channel_words(channels: int, shape: tuple[int, ...], path: Path) -> str:
    if path.name.lower().endswith((".nii", ".nii.gz", ".npy")):
        return f"{len(shape) + 1}D ({channels} volumes)" if channels > 1 else f"{len(shape)}D"
    return "colour (RGB)" if channels == 3 else "grey"


def check_channels(probes: dict[Path, tuple[tuple[int, ...], int]]) -> None:
    """Refuse files whose channel counts differ (colour and grey images, 4D and 3D volumes) with one clear line."""
    from mrigan.errors import InputError

    first, (first_shape, first_channels) = next(iter(probes.items()))
    for path, (shape, channels) in probes.items():
        if channels != first_channels:
            raise InputError(path, (
                f"{_channel_words(channels, shape, path)} but {first.parent.name}/{first.name} is "
                f"{_channel_words(first_channels, first_shape, first)}: every image of a training set needs the "
                "same channels (convert them all to grey 3D volumes / grey images)"))


def _as_3d(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape) + (1,) * (3 - len(shape))


def check_patch(path: Path, shape: tuple[int, ...], patch: Sequence[int]) -> None:
    """Refuse a volume (or image, one slice deep) smaller than one training patch."""
    from mrigan.errors import InputError

    if any(n < p for n, p in zip(_as_3d(shape), patch, strict=False)):
        raise InputError(path, f"shape {tuple(shape)} is smaller than one {'x'.join(map(str, patch))} training "
                               "patch (data.patch); use larger volumes or a smaller data.patch")


def split_by_subject(
    names: Sequence[str], fractions: Sequence[float] = (0.7, 0.2, 0.1), *, seed: int = 0
) -> tuple[list[str], list[str], list[str]]:
    """Seeded train / validation / test split of subject names (each name is one subject).

    Part sizes are the rounded shares; a part with a non-zero fraction gets at least one subject (taken from
    the largest part), so 5 subjects at 70/20/10 split 3 / 1 / 1.

    Raises:
        ValueError: fractions that are not three non-negative shares summing to 1, or fewer subjects than
            parts to fill.
    """
    names = sorted(set(names))
    fractions = [float(f) for f in fractions]
    if len(fractions) != 3 or min(fractions) < 0 or not np.isclose(sum(fractions), 1.0) or fractions[0] == 0:
        raise ValueError(f"split fractions must be three shares (train > 0) summing to 1, got {fractions}")
    needed = sum(f > 0 for f in fractions)
    if len(names) < needed:
        raise ValueError(f"{len(names)} subject(s) cannot fill a {'/'.join(f'{100 * f:g}' for f in fractions)} "
                         f"split by subject; {needed} or more are needed")
    counts = [int(round(f * len(names))) for f in fractions]
    counts[0] = len(names) - counts[1] - counts[2]
    for part in range(3):
        while fractions[part] > 0 and counts[part] < 1:
            counts[int(np.argmax(counts))] -= 1
            counts[part] += 1
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    return (sorted(order[: counts[0]]), sorted(order[counts[0] : counts[0] + counts[1]]),
            sorted(order[counts[0] + counts[1] :]))


def load_user_volume(path: Path, *, n4: bool = False) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    """Read a user file as a (X, Y, Z) array in [0, 1], its foreground mask and its voxel size.

    Steps: N4 bias-field correction (when `n4`), then clipping to the 0.1 / 99.9 percentiles of the non-zero
    voxels mapped to 0 / 1 (`mrigan.preprocess.robust_minmax`, as at inference). A 2D image becomes one slice.
    """
    from mrigan import io
    from mrigan.errors import InputError
    from mrigan.preprocess import foreground_mask, n4_bias_correction, robust_minmax

    volume = io.read(path)
    data = volume.data
    try:
        if n4:
            data = n4_bias_correction(data, volume.spacing)[0]
        image = robust_minmax(data, low=0.1, high=99.9)
    except ValueError as error:
        raise InputError(path, str(error)) from None
    brain = foreground_mask(image)  # 2D images get a 2D mask: closing a one-slice volume would erase it
    spacing = tuple(volume.spacing) + (1.0,) * (3 - volume.ndim)
    if image.ndim == 2:
        image, brain = image[..., None], brain[..., None]
    return np.ascontiguousarray(image, dtype=np.float32), brain, spacing


def _usable(path: Path, brain: np.ndarray, min_foreground: float) -> None:
    from mrigan.errors import InputError

    if not (brain.mean(axis=(0, 1)) >= min_foreground).any():
        raise InputError(path, f"no slice with {100 * min_foreground:g}% foreground (data.min_foreground); "
                               "is it empty?")


def paired_folder(
    folder: str | Path, *, patch: Sequence[int], fractions: Sequence[float] = (0.7, 0.2, 0.1), seed: int = 0,
    n4: bool = False, min_foreground: float = 0.05,
) -> FolderSplit:
    """A user's registered pairs: `folder/source/` and `folder/target/`, files matched by subject name.

    Every file is checked before any is loaded: each subject has its partner, every file has the same
    channels, the two files of a pair have one shape (one grid: `mrigan register --fixed-out` writes such
    pairs), and no volume is smaller than one training `patch`. Subjects are then split `fractions` by subject
    (seeded); train and validation pairs are loaded (`load_user_volume`), the test part is not.

    Raises:
        InputError: naming the offending file, for each of the problems above.
    """
    from mrigan.errors import InputError

    folder = Path(folder).expanduser()
    sources, targets = user_files(folder / "source"), user_files(folder / "target")
    for names, others, side in ((sources, targets, "target"), (targets, sources, "source")):
        for name, path in names.items():
            if name not in others:
                raise InputError(path, f"no partner in {folder / side} (pairs are matched by file name, "
                                       f"e.g. source/{name}.nii.gz and target/{name}.nii.gz)")
    probes = {path: probe(path) for name in sources for path in (sources[name], targets[name])}
    check_channels(probes)
    for name in sources:
        source_shape, target_shape = _as_3d(probes[sources[name]][0]), _as_3d(probes[targets[name]][0])
        if source_shape != target_shape:
            raise InputError(targets[name], (
                f"shape {target_shape} but its source {sources[name].name} has {source_shape}: a paired model "
                "needs both on one grid (`mrigan register SOURCE TARGET -o ... --fixed-out ...` writes such pairs)"))
        check_patch(sources[name], source_shape, patch)
    train, validation, test = _split(folder, list(sources), fractions, seed)
    loaded = {}
    for name in train + validation:
        source, source_brain, spacing = load_user_volume(sources[name], n4=n4)
        target, target_brain, _ = load_user_volume(targets[name], n4=n4)
        brain = source_brain | target_brain
        _usable(sources[name], brain, min_foreground)
        loaded[name] = TranslationVolume(
            subject_id=name, image=source, brain=brain, source=str(sources[name]), spacing=spacing,
            target=target, image_true=source, target_true=target,
        )
    return FolderSplit([loaded[n] for n in train], [loaded[n] for n in validation], test)


def _split(folder: Path, names: list[str], fractions: Sequence[float], seed: int):
    from mrigan.errors import InputError

    try:
        return split_by_subject(names, fractions, seed=seed)
    except ValueError as error:
        raise InputError(folder, str(error)) from None


def domain_folders(
    folder_a: str | Path, folder_b: str | Path, *, patch: Sequence[int], fractions: Sequence[float] = (0.7, 0.2, 0.1),
    seed: int = 0, n4: bool = False, min_foreground: float = 0.05,
) -> tuple[FolderSplit, FolderSplit]:
    """CycleGAN's two unpaired domains from a user's folders, one subject per file, each split by subject.

    Every file of both folders is checked first (same channels, none smaller than one `patch`). A subject
    found in both folders (same file name) lands in the same part of both splits; otherwise each folder is
    split on its own. Each domain's volume holds its image as both `image` and `target` (domain A is read
    from `image`, B from `target`).

    Raises:
        InputError: naming the offending file or folder.
    """
    from mrigan.errors import InputError

    folders = [Path(folder_a).expanduser(), Path(folder_b).expanduser()]
    files = [user_files(folder) for folder in folders]
    probes = {path: probe(path) for domain in files for path in domain.values()}
    check_channels(probes)
    for path, (shape, _) in probes.items():
        check_patch(path, shape, patch)
    parts = _domain_parts(folders, files, fractions, seed)
    splits = []
    for folder, domain, (train, validation, test) in zip(folders, files, parts, strict=True):
        if not train or not validation:
            raise InputError(folder, f"{len(domain)} subjects leave no {'training' if not train else 'validation'} "
                                     "subject in this domain's split; add subjects")
        volumes = {}
        for name in train + validation:
            image, brain, spacing = load_user_volume(domain[name], n4=n4)
            _usable(domain[name], brain, min_foreground)
            volumes[name] = TranslationVolume(subject_id=name, image=image, brain=brain, source=str(domain[name]),
                                              spacing=spacing, target=image, image_true=image, target_true=image)
        splits.append(FolderSplit([volumes[n] for n in train], [volumes[n] for n in validation], list(test)))
    return splits[0], splits[1]


def _domain_parts(folders: list[Path], files: list[dict[str, Path]], fractions: Sequence[float], seed: int):
    """Each domain's (train, validation, test) names: one split of all names when the folders share a subject."""
    if set(files[0]) & set(files[1]):
        union = _split(folders[0], sorted(set(files[0]) | set(files[1])), fractions, seed)
        return [tuple([n for n in part if n in domain] for part in union) for domain in files]
    return [_split(folder, list(domain), fractions, seed) for folder, domain in zip(folders, files, strict=True)]


def user_test_subjects(
    *, pairs: str | Path | None = None, domain_a: str | Path | None = None, domain_b: str | Path | None = None,
    fractions: Sequence[float] = (0.7, 0.2, 0.1), seed: int = 0,
) -> dict[str, list[str]]:
    """The test subjects of user folders, split as `paired_folder` / `domain_folders` split them (names only).

    Returns:
        {"pairs": names} or {"domain_a": names, "domain_b": names}.
    """
    if pairs is not None:
        folder = Path(pairs).expanduser()
        return {"pairs": _split(folder, list(user_files(folder / "source")), fractions, seed)[2]}
    folders = [Path(domain_a).expanduser(), Path(domain_b).expanduser()]
    parts = _domain_parts(folders, [user_files(folder) for folder in folders], fractions, seed)
    return {"domain_a": list(parts[0][2]), "domain_b": list(parts[1][2])}


def unpaired_validation(
    volumes_a: list[TranslationVolume], volumes_b: list[TranslationVolume]
) -> list[TranslationVolume]:
    """Validation volumes for unpaired domains: A's and B's validation subjects side by side, zero-padded
    (centred) to one grid, A as `image` and B as `target` (different anatomies: only round trips can be scored).

    Each of max(len(A), len(B)) volumes holds A subject i and B subject i (cycling through the shorter list);
    the brain mask is the union of both.
    """
    from mrigan.preprocess import center_crop_or_pad

    combined = []
    for i in range(max(len(volumes_a), len(volumes_b))):
        a, b = volumes_a[i % len(volumes_a)], volumes_b[i % len(volumes_b)]
        shape = tuple(max(m, n) for m, n in zip(a.image.shape, b.image.shape, strict=True))
        pad = lambda array: center_crop_or_pad(array, shape)  # noqa: E731
        brain = pad(a.brain.astype(np.float32)) + pad(b.brain.astype(np.float32)) > 0
        combined.append(TranslationVolume(
            subject_id=f"{a.subject_id}|{b.subject_id}", image=pad(a.image), brain=brain, spacing=a.spacing,
            source=f"{a.source} | {b.source}", target=pad(b.image), image_true=pad(a.image), target_true=pad(b.image),
        ))
    return combined


# ------------------------------------------------------------------------------------------------ windows
def _pad_in_plane(stack: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Zero-pad axes 1 and 2 of (C, X, Y, ...) to at least `size` (centred)."""
    pad = [(0, 0)] * stack.ndim
    for axis, wanted in zip((1, 2), size, strict=True):
        extra = max(wanted - stack.shape[axis], 0)
        pad[axis] = (extra // 2, extra - extra // 2)
    return np.pad(stack, pad)


def _corner(brain: np.ndarray, size: Sequence[int], rng: np.random.Generator, anywhere: float = 0.0) -> tuple[int, int]:
    """Top-left corner of a `size` window centred on a random brain pixel of a 2D mask, inside the image.

    With probability `anywhere` the centre is any pixel instead, so that background (which a stitched grid
    covers too) is seen in training.
    """
    candidates = np.argwhere(np.ones_like(brain) if rng.random() < anywhere else brain)
    centre = candidates[int(rng.integers(len(candidates)))] if len(candidates) else np.array(brain.shape) // 2
    return tuple(int(np.clip(c - s // 2, 0, n - s)) for c, s, n in zip(centre, size, brain.shape, strict=True))


def _valid_starts(allowed: np.ndarray, depth: int) -> np.ndarray:
    """First slices of every run of `depth` consecutive allowed slices."""
    runs = np.convolve(allowed.astype(int), np.ones(depth, int), mode="valid")
    return np.nonzero(runs == depth)[0]


def _flip(stack: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random in-plane flips of a (C, X, Y, ...) stack (the same for every channel)."""
    for axis in (1, 2):
        if rng.random() < 0.5:
            stack = np.flip(stack, axis=axis)
    return stack


class PairedTranslationDataset:
    """Source / target pairs cut at the same place of the same anatomy.

    Args:
        volumes: `TranslationVolume`s (their `allowed_slices` respected).
        patch: None for whole axial slices (zero-padded, centred, to one square side, a multiple of `multiple`);
            (h, w) for 2D crops of axial slices; (h, w, d) for 3D patches.
        samples_per_volume: patches drawn per volume per epoch (seed 004: 300); None takes every slice with
            enough brain once (2D only).
        multiple: whole slices are padded to a multiple of this (the generator's 2 ** depth).
        augment: random in-plane flips (the same for input and target).
        clean_targets: "target" is the noise-free target ("target_true") rather than the target as acquired.
        seed: sample i of epoch e is drawn from the generator seeded by (seed, e, i) (epoch 0 without augment).
        min_foreground: slices (and 3D patch centres' slices) need this fraction of brain.
        anywhere: chance that a patch is centred on any pixel rather than on a brain pixel.

    Each item: "input", "input_true", "target", "target_true", "brain", "field" (1 inside the image, 0 in the
    padding), each (1, *patch) float32, and "volume", "slice" (first slice of a 3D patch), "corner" (in-plane
    corner in the padded slice).
    """

    def __init__(
        self, volumes: list[TranslationVolume], *, patch: Sequence[int] | None = (64, 64),
        samples_per_volume: int | None = None, multiple: int = 1, augment: bool = True, clean_targets: bool = True,
        seed: int = 0, min_foreground: float = 0.05, anywhere: float = 0.0,
    ) -> None:
        if patch is not None and len(patch) not in (2, 3):
            raise ValueError(f"patch must be (h, w) or (h, w, d), got {patch}")
        if patch is not None and len(patch) == 3 and samples_per_volume is None:
            raise ValueError("3D patches need samples_per_volume")
        self.volumes = volumes
        self.patch = None if patch is None else tuple(int(p) for p in patch)
        self.augment, self.clean_targets, self.seed, self.epoch = augment, clean_targets, seed, 0
        self.min_foreground, self.anywhere = min_foreground, anywhere
        eligible = slice_index(volumes, min_foreground=min_foreground)
        if not eligible:
            raise ValueError("no slice with enough brain in the given volumes")
        if samples_per_volume is None:
            self.index = eligible
        else:
            self.index = [(v, -1) for v in range(len(volumes)) for _ in range(samples_per_volume)]
        self.slices_of = [np.array([k for w, k in eligible if w == v], int) for v in range(len(volumes))]
        largest = max(max(v.image.shape[:2]) for v in volumes)
        self.side = int(np.ceil(largest / multiple) * multiple)
        self.starts = [self._starts(v) for v in volumes] if self.patch is not None and len(self.patch) == 3 else []

    def _starts(self, volume: TranslationVolume) -> np.ndarray:
        allowed = np.asarray(volume.extra.get("allowed_slices", np.ones(volume.image.shape[-1], bool)), bool)
        allowed = allowed & (volume.brain.mean(axis=(0, 1)) >= self.min_foreground)
        starts = _valid_starts(allowed, self.patch[2])
        if starts.size == 0:
            raise ValueError(f"{volume.subject_id}: no {self.patch[2]} consecutive usable slices for a 3D patch")
        return starts

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.index)

    def _slab(self, i: int, rng: np.random.Generator) -> tuple[int, int, np.ndarray]:
        """(volume, first slice, stack (C, X, Y[, d])) of sample i, before windowing."""
        v, k = self.index[i]
        if self.patch is not None and len(self.patch) == 3:
            k = int(rng.choice(self.starts[v]))
            picks = slice(k, k + self.patch[2])
        else:
            if k < 0:
                if self.slices_of[v].size == 0:
                    raise ValueError(f"{self.volumes[v].subject_id}: no slice with enough brain")
                k = int(rng.choice(self.slices_of[v]))
            picks = k
        arrays = [a[..., picks] for a in self.volumes[v].arrays()]
        return v, k, np.stack([*arrays, np.ones_like(arrays[0])])

    def __getitem__(self, i: int) -> dict[str, np.ndarray | int]:
        rng = np.random.default_rng([self.seed, self.epoch if self.augment else 0, i])
        v, k, stack = self._slab(i, rng)
        size = (self.side, self.side) if self.patch is None else self.patch[:2]
        stack = _pad_in_plane(stack, size)
        brain = stack[CHANNELS.index("brain")]
        brain = brain if brain.ndim == 2 else brain.any(axis=-1)
        top, left = _corner(brain > 0.5, size, rng, self.anywhere) if self.patch is not None else (0, 0)
        stack = stack[:, top : top + size[0], left : left + size[1]]
        if self.augment:
            stack = _flip(stack, rng)
        stack = np.ascontiguousarray(stack, dtype=np.float32)
        item = {key: stack[c : c + 1] for c, key in enumerate(CHANNELS)}
        if self.clean_targets:
            item["target"] = item["target_true"]
        return {**item, "volume": v, "slice": k, "corner": np.array([top, left])}


class UnpairedTranslationDataset:
    """CycleGAN's unpaired sets: A slices (source as acquired) and B slices (target as acquired), drawn apart.

    Item i is A slice `index_a[i]` and a B slice drawn at random from the generator of (seed, epoch, i), each
    with its own random crop and flips. Give `volumes_a` and `volumes_b` with disjoint slices
    (`alternate_slabs`) or different subjects, so that no B slice is ever the counterpart of an A slice.

    Args:
        volumes_a: volumes whose `image` (and allowed slices) make domain A.
        volumes_b: volumes whose `target` (and allowed slices) make domain B.
        crop: side of the square training crop.
        augment: random flips.
        seed: base seed.
        min_foreground: slices need this fraction of brain.
        anywhere: chance that a crop is centred on any pixel rather than on a brain pixel.

    Each item: "a", "b" (1, crop, crop) float32, their brain masks "a_brain", "b_brain" (1, crop, crop) float32,
    and "a_volume", "a_slice", "b_volume", "b_slice".
    """

    def __init__(
        self, volumes_a: list[TranslationVolume], volumes_b: list[TranslationVolume], *, crop: int = 64,
        augment: bool = True, seed: int = 0, min_foreground: float = 0.05, anywhere: float = 0.0,
    ) -> None:
        self.volumes_a, self.volumes_b = volumes_a, volumes_b
        self.index_a = slice_index(volumes_a, min_foreground=min_foreground)
        self.index_b = slice_index(volumes_b, min_foreground=min_foreground)
        if not self.index_a or not self.index_b:
            raise ValueError("domain A or B has no slice with enough brain")
        self.crop, self.augment, self.seed, self.epoch, self.anywhere = crop, augment, seed, 0, anywhere

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.index_a)

    def _draw(self, volume: TranslationVolume, key: str, k: int, rng: np.random.Generator) -> np.ndarray:
        """(2, crop, crop): the crop of `key` and of the brain mask, flipped together."""
        stack = _pad_in_plane(np.stack([getattr(volume, key)[..., k], volume.brain[..., k]]), (self.crop,) * 2)
        top, left = _corner(stack[1] > 0.5, (self.crop,) * 2, rng, self.anywhere)
        stack = stack[:, top : top + self.crop, left : left + self.crop]
        return np.ascontiguousarray(_flip(stack, rng) if self.augment else stack, dtype=np.float32)

    def __getitem__(self, i: int) -> dict[str, np.ndarray | int]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        a_volume, a_slice = self.index_a[i]
        b_volume, b_slice = self.index_b[int(rng.integers(len(self.index_b)))]
        a = self._draw(self.volumes_a[a_volume], "image", a_slice, rng)
        b = self._draw(self.volumes_b[b_volume], "target", b_slice, rng)
        return {
            "a": a[:1], "b": b[:1], "a_brain": a[1:], "b_brain": b[1:],
            "a_volume": a_volume, "a_slice": a_slice, "b_volume": b_volume, "b_slice": b_slice,
        }


# ------------------------------------------------------------------------------------------------ stitching
@dataclass
class PatchGrid:
    """A grid of patches over a volume: patch size and stride, 2D (h, w) patches of axial slices or 3D patches.

    Attributes:
        patch: (h, w) or (h, w, d).
        stride: step between patches per axis (seed 004: 20); the overlap, patch - stride, must be even.
        overlap_mode: "hann" (Hann-weighted blend), "average" (plain mean) or "crop" (each patch gives up half
            the overlap on its inner sides: border trimming).
    """

    patch: tuple[int, ...] = (64, 64)
    stride: int | tuple[int, ...] = 20
    overlap_mode: str = "hann"
    patch3: tuple[int, int, int] = field(init=False)
    overlap3: tuple[int, int, int] = field(init=False)

    def __post_init__(self) -> None:
        self.patch = tuple(int(p) for p in self.patch)
        if len(self.patch) not in (2, 3) or any(p < 1 for p in self.patch):
            raise ValueError(f"patch must be 2 or 3 positive sizes, got {self.patch}")
        stride = (self.stride,) * len(self.patch) if isinstance(self.stride, int) else tuple(self.stride)
        if len(stride) != len(self.patch):
            raise ValueError(f"give one stride or one per patch axis, got {self.stride} for patch {self.patch}")
        if any(not 1 <= s <= p for s, p in zip(stride, self.patch, strict=True)):
            raise ValueError(f"stride {stride} must be between 1 and the patch size {self.patch}")
        overlap = tuple(p - s for p, s in zip(self.patch, stride, strict=True))
        if any(o % 2 for o in overlap):
            raise ValueError(f"patch - stride must be even on every axis (TorchIO's grid), got overlap {overlap}")
        if self.overlap_mode not in OVERLAP_MODES:
            raise ValueError(f"overlap_mode must be one of {OVERLAP_MODES}, got {self.overlap_mode!r}")
        self.stride = stride
        self.patch3 = (*self.patch, 1)[:3]
        self.overlap3 = (*overlap, 0)[:3]

    def starts(self, size: int, axis: int) -> list[int]:
        """First voxels of the patches along one axis of `size` voxels (TorchIO's grid: the last one flush)."""
        patch, step = self.patch3[axis], self.patch3[axis] - self.overlap3[axis]
        starts = list(range(0, size - patch + 1, step))
        return starts if starts and starts[-1] == size - patch else [*starts, size - patch]

    def borders(self, size: int, axis: int) -> list[int]:
        """Where one patch's contribution ends and the next one's begins (voxel b - 1 | b) along an axis.

        Patch edges for "hann" and "average"; for "crop", the cuts half an overlap inside them.
        """
        starts, patch = self.starts(size, axis), self.patch3[axis]
        if self.overlap_mode == "crop":
            return sorted({s + self.overlap3[axis] // 2 for s in starts[1:]})
        return sorted({s for s in starts if s > 0} | {s + patch for s in starts if s + patch < size})


def stitch(
    volume: np.ndarray, predict: Callable, grid: PatchGrid, *, batch_size: int = 32, device: str = "cpu",
) -> np.ndarray:
    """Run a patch model over a whole volume and blend the patches back (TorchIO GridSampler / GridAggregator).

    Patches are cut, predicted and added to the aggregator `batch_size` at a time, so memory does not grow with
    the number of patches (the aggregator keeps two volume-sized buffers).

    Args:
        volume: (X, Y, Z) array.
        predict: maps a (N, 1, h, w) (2D grid) or (N, 1, h, w, d) (3D grid) float32 tensor to one of the same
            shape, e.g. a generator in eval mode.
        grid: patch size, stride and overlap mode.
        batch_size: patches per call of `predict`.
        device: where `predict` runs.

    Returns:
        float32 (X, Y, Z): an identity `predict` gives back `volume` (to float rounding) in every mode.

    Raises:
        ValueError: the volume is smaller than one patch.
    """
    import torch
    import torchio as tio

    volume = np.asarray(volume, dtype=np.float32)
    if volume.ndim != 3 or any(n < p for n, p in zip(volume.shape, grid.patch3, strict=True)):
        raise ValueError(f"a volume of shape {volume.shape} is smaller than one {'x'.join(map(str, grid.patch))} patch")
    tensor = torch.from_numpy(volume)[None]
    subject = tio.Subject(image=tio.ScalarImage(tensor=tensor))
    sampler = tio.GridSampler(subject, patch_size=grid.patch3, patch_overlap=grid.overlap3)
    aggregator = tio.GridAggregator(sampler, overlap_mode=grid.overlap_mode)
    locations = torch.as_tensor(sampler.locations, dtype=torch.int64)
    with torch.no_grad():
        for begin in range(0, len(locations), batch_size):
            chunk = locations[begin : begin + batch_size]
            patches = torch.stack([tensor[:, i0:i1, j0:j1, k0:k1] for i0, j0, k0, i1, j1, k1 in chunk.tolist()])
            inputs = patches[..., 0] if len(grid.patch) == 2 else patches
            outputs = predict(inputs.to(device)).float().cpu()
            aggregator.add_batch(outputs[..., None] if len(grid.patch) == 2 else outputs, chunk)
    return aggregator.get_output_tensor()[0].numpy().astype(np.float32)


def seam_score(image: np.ndarray, grid: PatchGrid, mask: np.ndarray | None = None) -> float:
    """Mean |intensity jump| across the grid's patch borders over the mean jump between other neighbours.

    About 1 when stitching left no seams; larger when patch borders show (`PatchGrid.borders`). Jumps are
    taken along each axis the patches tile (in-plane for a 2D grid), between voxels both inside `mask` when one
    is given.

    Args:
        image: the stitched (X, Y, Z) volume.
        grid: the grid it was stitched on.
        mask: optional boolean mask of the voxels to judge (e.g. the brain).
    """
    image = np.asarray(image, dtype=np.float64)
    inside = np.ones(image.shape, bool) if mask is None else np.asarray(mask, bool)
    border_jumps, other_jumps = [], []
    for axis in range(len(grid.patch)):
        size = image.shape[axis]
        borders = grid.borders(size, axis)
        jumps = np.abs(np.diff(image, axis=axis))
        valid = np.take(inside, range(1, size), axis=axis) & np.take(inside, range(size - 1), axis=axis)
        at_border = np.zeros(size - 1, bool)
        at_border[[b - 1 for b in borders]] = True
        shape = [1] * image.ndim
        shape[axis] = size - 1
        at_border = at_border.reshape(shape)
        border_jumps.append(jumps[valid & at_border])
        other_jumps.append(jumps[valid & ~at_border])
    border, other = np.concatenate(border_jumps), np.concatenate(other_jumps)
    if border.size == 0 or other.size == 0 or other.mean() == 0:
        return float("nan")
    return float(border.mean() / other.mean())
