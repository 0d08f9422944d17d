"""One `read` and one `write` for every format, chosen from the path; file hashes for provenance."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from mrigan.errors import InputError, OutputError
from mrigan.io.atomic import write_atomic
from mrigan.io.volume import Volume

IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}
READABLE = ".nii, .nii.gz, DICOM, .png, .jpg, .tif, .npy or figshare .mat"
WRITABLE = ".nii, .nii.gz, .png, .jpg, .tif, .npy, .dcm, or a folder path ending in '/' for a DICOM series"


def read(path: str | Path) -> Volume:
    """Read a NIfTI file, a DICOM file or series folder, a PNG/JPEG/TIFF image, a .npy array or a figshare .mat.

    The format comes from the name and, failing that, from the file's first bytes. Every problem with the
    input is raised as InputError(path, problem); nothing is ever written.

    Returns:
        A Volume with C-ordered float32 data: 3D (X, Y, Z) in the file's voxel order (DICOM: columns, rows, slices),
        or 2D (H, W) for images, single DICOM files, 2D .npy and .mat slices.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(path, "no such file or folder")
    if not os.access(path, os.R_OK):
        raise InputError(path, "permission denied")
    if path.is_dir():
        from mrigan.io.dicom import read_dicom

        return read_dicom(path)
    if path.stat().st_size == 0:
        raise InputError(path, "empty file (0 bytes)")
    kind = detect_format(path)
    if kind == "nifti":
        from mrigan.io.nifti import read_nifti

        return read_nifti(path)
    if kind == "dicom":
        from mrigan.io.dicom import read_dicom

        return read_dicom(path)
    if kind == "image":
        from mrigan.io.images import read_image

        return read_image(path)
    if kind == "npy":
        from mrigan.io.arrays import read_npy

        return read_npy(path)
    if kind == "mat":
        from mrigan.io.arrays import read_mat

        return read_mat(path)
    raise InputError(path, f"not a recognised image format (suffix '{path.suffix}'; {READABLE} are read)")


def detect_format(path: Path) -> str | None:
    """"nifti", "dicom", "image", "npy" or "mat" from the name, else from the magic bytes; None if unknown."""
    name = path.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        return "nifti"
    suffix = path.suffix.lower()
    if suffix in (".dcm", ".ima"):
        return "dicom"
    if suffix in IMAGE_FORMATS or suffix == ".bmp":
        return "image"
    if suffix in (".npy", ".mat"):
        return suffix[1:]
    with open(path, "rb") as handle:
        head = handle.read(1024)
    if head[128:132] == b"DICM":
        return "dicom"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"BM")):
        return "image"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"\x89HDF") or head[512:516] == b"\x89HDF" or head.startswith(b"MATLAB"):
        return "mat"
    if head[344:348] in (b"n+1\x00", b"n+2\x00") or head[4:8] == b"n+2\x00":
        return "nifti"
    return None


def write(
    volume: Volume, path: str | Path, *, overwrite: bool = False, like: Volume | str | Path | None = None
) -> Path:
    """Write `volume` in the format its target names, atomically, never over an input.

    Targets: `.nii` / `.nii.gz`, `.png`, `.jpg` / `.jpeg`, `.tif` / `.tiff` (2D only), `.npy`, `.dcm` (one
    2D image), and a folder for a DICOM series: a path ending in "/", an existing folder, or a path with no
    suffix when the volume came from DICOM. Derived DICOM is de-identified (see `mrigan.io.dicom`).

    Args:
        volume: what to write; its affine gives the geometry.
        path: the target.
        overwrite: replace an existing target (an input is never replaced).
        like: a Volume (or a path to read) whose header, source format and stored dtype serve as the template,
            e.g. the scan a network output was computed from; default: `volume` itself.

    Returns:
        The path written (absolute).

    Raises:
        OutputError: the target exists, is an input, or cannot hold this volume (3D to PNG, unknown suffix).
    """
    as_folder = str(path).endswith(("/", os.sep))
    target = Path(path).expanduser()
    if like is not None and not isinstance(like, Volume):
        like = read(like)
    template = like if like is not None else volume
    inputs = [volume.source_path, template.source_path]
    kind = _output_kind(target, template, as_folder=as_folder)
    data = np.asarray(volume.data)
    bad = int(data.size - np.count_nonzero(np.isfinite(data)))
    if bad:
        raise OutputError(target, f"data contains {bad} NaN/Inf voxels")
    if kind in ("dicom-series", "dicom-file"):
        from mrigan.io.dicom import check_writable

        check_writable(volume, target, single_file=kind == "dicom-file")
    if kind == "dicom-series":
        from mrigan.io.dicom import save_series

        def write_fn(tmp: Path) -> None:
            save_series(volume, tmp, template)

        return write_atomic(target, write_fn, overwrite=overwrite, inputs=inputs, directory=True)
    if kind in ("PNG", "JPEG", "TIFF") and volume.ndim != 2:
        raise OutputError(target, f"a {volume.ndim}D volume cannot be written as {kind}; write one slice")
    if kind == "nifti":
        from mrigan.io.nifti import save_nifti

        def write_fn(tmp: Path) -> None:
            save_nifti(volume, tmp, template)

    elif kind == "npy":
        from mrigan.io.arrays import save_npy

        def write_fn(tmp: Path) -> None:
            save_npy(volume, tmp, template)

    elif kind == "dicom-file":
        from mrigan.io.dicom import save_file

        def write_fn(tmp: Path) -> None:
            save_file(volume, tmp, template)

    else:
        from mrigan.io.images import save_image

        def write_fn(tmp: Path) -> None:
            save_image(volume, tmp, kind, template, target=target)

    return write_atomic(target, write_fn, overwrite=overwrite, inputs=inputs)


def _output_kind(target: Path, template: Volume, *, as_folder: bool) -> str:
    name = target.name.lower()
    if as_folder or target.is_dir():
        return "dicom-series"
    if name.endswith((".nii", ".nii.gz")):
        return "nifti"
    suffix = target.suffix.lower()
    if suffix in IMAGE_FORMATS:
        return IMAGE_FORMATS[suffix]
    if suffix == ".npy":
        return "npy"
    if suffix == ".dcm":
        return "dicom-file"
    if not suffix and template.source_format == "dicom":
        return "dicom-series"
    if not suffix:
        raise OutputError(target, f"no file extension; write to {WRITABLE}")
    raise OutputError(target, f"unsupported output format '{suffix}'; write to {WRITABLE}")


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file, or of a folder: a hash over its files' relative paths and digests.

    Folder members are taken recursively and in sorted order, so the digest does not depend on listing order.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file or folder")
    if path.is_file():
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()
    digest = hashlib.sha256()
    for member in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(member.relative_to(path).as_posix().encode() + b"\0")
        digest.update(sha256_file(member).encode() + b"\n")
    return digest.hexdigest()
