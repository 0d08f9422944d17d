"""Subjects: normalised volumes (or 2D images as one-slice volumes) with a brain mask, an id and a class.

Sources a user brings: NIfTI / DICOM volumes, folders of PNG / JPEG / TIFF with class sub-folders (the
4-class brain-tumour layout: `glioma/`, `meningioma/`, `pituitary/`, `notumor/`, optionally under
`Training/` and `Testing/`), figshare `.mat` files, BIDS and IXI / BraTS folders of NIfTI files; and the
sample anatomies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
VOLUME_SUFFIXES = (".nii", ".nii.gz")


@dataclass
class Subject:
    """One subject's image data, ready for slicing.

    Attributes:
        subject_id: groups slices for splitting (never split one subject across train / test).
        image: (X, Y, Z) float32 in [0, 1]; a 2D image is stored with Z = 1.
        brain: boolean foreground mask of the same shape.
        label: class index, or None.
        source: where it came from.
    """

    subject_id: str
    image: np.ndarray
    brain: np.ndarray
    label: int | None = None
    source: str = ""
    spacing: tuple[float, ...] = (1.0, 1.0, 1.0)
    extra: dict = field(default_factory=dict)


def central_slab(
    brain: np.ndarray, fraction: float, *, min_foreground: float = 0.05, guard: int = 0, min_depth: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) masks over the last axis: the central slab of the brain's slices validates.

    Args:
        brain: (X, Y, Z) brain mask.
        fraction: share of the brain's slices in the slab (its depth is even: centre +- half).
        min_foreground: slices with this much brain count as the brain's.
        guard: slices on each side of the slab kept out of training too (2.5D context, look-alike neighbours).
        min_depth: the slab has at least this many slices (a 3D patch's depth).
    """
    depth = brain.shape[-1]
    covered = np.nonzero(brain.mean(axis=(0, 1)) >= min_foreground)[0]
    centre = int(covered.mean()) if covered.size else depth // 2
    half = max(1, int(round(fraction * covered.size / 2)), -(-min_depth // 2))
    start = int(np.clip(centre - half, 0, max(depth - 2 * half, 0)))
    slab = np.zeros(depth, bool)
    slab[start : start + 2 * half] = True
    blocked = np.zeros(depth, bool)
    blocked[max(start - guard, 0) : start + 2 * half + guard] = True
    return ~blocked, slab


def subject_from_array(
    subject_id: str, data: np.ndarray, *, brain: np.ndarray | None = None, label: int | None = None,
    source: str = "", spacing: tuple[float, ...] = (1.0, 1.0, 1.0),
) -> Subject:
    """Normalise (robust min-max on non-zero voxels) and wrap a 2D or 3D array as a Subject."""
    from mrigan.preprocess import foreground_mask, robust_minmax

    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 2:
        data = data[..., None]
        brain = None if brain is None else brain[..., None]
    image = robust_minmax(data)
    if brain is None:
        brain = foreground_mask(image)
    return Subject(subject_id, image, brain.astype(bool), label, source, spacing)


def subjects_from_samples(names: tuple[str, ...] | list[str]) -> list[Subject]:
    """The sample anatomies as subjects (T1, normalised, with their brain masks)."""
    from mrigan.data.samples import load_sample

    subjects = []
    for name in names:
        sample = load_sample(name)
        subjects.append(
            subject_from_array(name, sample.t1.data, brain=sample.brain_mask, source=f"sample:{name}",
                               spacing=sample.t1.spacing)
        )
    return subjects


def class_names_of(root: Path) -> list[str]:
    """Class sub-folder names, sorted, looking through a `Training/` or `Testing/` level if present."""
    root = Path(root)
    levels = [p for p in (root / "Training", root / "Testing", root / "train", root / "test") if p.is_dir()]
    folders = levels or [root]
    names = sorted({p.name for level in folders for p in level.iterdir() if p.is_dir()})
    return names


def subjects_from_folder(root: str | Path, *, class_names: list[str] | None = None) -> list[Subject]:
    """Every image or volume under `root`; a class sub-folder gives the label.

    Images of one class folder are separate subjects unless their names share a subject prefix
    (`sub-01_...`, `IXI012-...`, `BraTS..._00012_...`); figshare `.mat` files group by their PID.
    """
    from mrigan import io
    from mrigan.errors import InputError

    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "not a folder")
    class_names = class_names if class_names is not None else class_names_of(root)
    files = sorted(
        p for p in root.rglob("*")
        if p.is_file() and (p.suffix.lower() in IMAGE_SUFFIXES + (".mat", ".npy") or p.name.endswith(VOLUME_SUFFIXES))
    )
    if not files:
        raise InputError(root, "no images or volumes found (PNG, JPEG, TIFF, NIfTI, .npy, .mat)")
    subjects = []
    for path in files:
        label = next((class_names.index(part) for part in path.relative_to(root).parts[:-1]
                      if part in class_names), None)
        volume = io.read(path)
        # figshare slices carry their patient's id (`mrigan.io.arrays.read_mat` stores it as "patient_id")
        patient = volume.meta.get("patient_id")
        subject_id = str(patient) if patient else subject_id_of(path)
        if volume.meta.get("label") is not None and label is None:
            label = int(volume.meta["label"]) - 1  # figshare labels are 1..3
        subjects.append(
            subject_from_array(str(subject_id), volume.data, label=label, source=str(path),
                               spacing=tuple(volume.spacing) + (1.0,) * (3 - volume.ndim))
        )
    return subjects


_SUBJECT_PATTERNS = (
    re.compile(r"(sub-[A-Za-z0-9]+)"),  # BIDS
    re.compile(r"(IXI\d+)"),  # IXI
    re.compile(r"(BraTS\w*?_\d+)"),  # BraTS
)


def subject_id_of(path: Path) -> str:
    """A subject id from a file name (BIDS, IXI, BraTS patterns), else the file's stem."""
    for pattern in _SUBJECT_PATTERNS:
        match = pattern.search(path.name)
        if match:
            return match.group(1)
    return path.name.split(".")[0]


def split_subjects(
    subjects: list[Subject], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), *, seed: int = 0
) -> tuple[list[Subject], list[Subject], list[Subject]]:
    """Train / validation / test split grouped by subject id and stratified by class.

    Subjects of one id always land in the same part; within each class, ids are shuffled (seeded) and cut by
    `fractions`, so every class keeps its share in every part.
    """
    if not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must sum to 1, got {fractions}")
    rng = np.random.default_rng(seed)
    ids_by_label: dict[int | None, list[str]] = {}
    label_of: dict[str, int | None] = {}
    for subject in subjects:
        if subject.subject_id not in label_of:
            label_of[subject.subject_id] = subject.label
            ids_by_label.setdefault(subject.label, []).append(subject.subject_id)
    part_of: dict[str, int] = {}
    for label in sorted(ids_by_label, key=lambda v: (v is None, v)):
        ids = list(ids_by_label[label])
        rng.shuffle(ids)
        bounds = np.round(np.cumsum(fractions) * len(ids)).astype(int)
        for i, subject_id in enumerate(ids):
            part_of[subject_id] = int(np.searchsorted(bounds, i, side="right"))
    parts: tuple[list[Subject], list[Subject], list[Subject]] = ([], [], [])
    for subject in subjects:
        parts[min(part_of[subject.subject_id], 2)].append(subject)
    return parts
