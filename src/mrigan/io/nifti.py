"""NIfTI-1/2 files (.nii, .nii.gz) through nibabel."""

from __future__ import annotations

import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError

from mrigan.errors import InputError
from mrigan.io.arrays import dtype_name, integer_storage_dtype, require_finite
from mrigan.io.volume import Volume

# what nibabel raises on a cut or damaged file; it reads lazily, so the data read can fail after load()
_DAMAGED = (EOFError, zlib.error, OSError, ValueError)


def read_nifti(path: Path) -> Volume:
    """Read a 2D or 3D NIfTI image; a 4D image whose 4th dimension is 1 is squeezed to 3D.

    Returns:
        A Volume with C-ordered float32 data (scl_slope/scl_inter applied), nibabel's best affine, the nibabel header
        and meta["dtype"] (the stored dtype).
    """
    try:
        image = _load(path)
    except ImageFileError as error:
        raise InputError(path, f"not a recognised image format ({error})") from None
    except _DAMAGED as error:
        raise InputError(path, f"truncated or corrupt NIfTI ({error})") from None
    shape = tuple(image.shape)
    if len(shape) > 3:
        if any(size != 1 for size in shape[3:]):
            raise InputError(path, f"4D volume (shape {shape}); a 3D volume is needed")
        shape = shape[:3]
    if len(shape) < 2:
        raise InputError(path, f"{len(shape)}D data (shape {shape}); a 2D image or 3D volume is needed")
    try:
        # nibabel hands back Fortran-ordered arrays; a C-ordered copy is what most consumers expect
        data = np.ascontiguousarray(image.get_fdata(dtype=np.float32).reshape(shape))
    except _DAMAGED as error:
        raise InputError(path, f"truncated or corrupt NIfTI ({error})") from None
    require_finite(data, path)
    return Volume(
        data=data,
        affine=np.asarray(image.affine, dtype=float),
        source_format="nifti",
        header=image.header,
        source_path=path,
        meta={"dtype": dtype_name(image.header.get_data_dtype())},
    )


def _load(path: Path) -> nib.Nifti1Image:
    """nibabel's image; a file without a NIfTI suffix (found by its magic bytes) is opened by class."""
    if path.name.lower().endswith((".nii", ".nii.gz")):
        return nib.load(path)
    with open(path, "rb") as handle:
        head = handle.read(348)
    image_class = nib.Nifti2Image if head[4:8] == b"n+2\x00" else nib.Nifti1Image
    holder = nib.fileholders.FileHolder(filename=str(path))
    return image_class.from_file_map({"header": holder, "image": holder})


def save_nifti(volume: Volume, path: Path, template: Volume) -> None:
    """Write `volume` as NIfTI (.nii or .nii.gz, from the path's name).

    The template's NIfTI header is reused when it has one (dims, zooms and affine updated, qform/sform codes
    kept). Voxels are stored in the template's integer dtype when they are whole numbers that fit it
    (uint8 in, uint8 out), else as float32 without scaling, so values are never quantised.
    """
    data = np.asarray(volume.data)
    affine = np.asarray(volume.affine, dtype=float)
    header = template.header if isinstance(template.header, nib.Nifti1Header) else None
    source_dtype = header.get_data_dtype() if header is not None else template.meta.get("dtype")
    storage = integer_storage_dtype(data, source_dtype) or np.dtype(np.float32)
    if header is not None:
        image_class = nib.Nifti2Image if isinstance(header, nib.Nifti2Header) else nib.Nifti1Image
        qform_code, sform_code = int(header["qform_code"]), int(header["sform_code"])
        image = image_class(data.astype(storage), affine, header.copy())
    else:
        qform_code = sform_code = 1 if template.source_format == "dicom" else 2  # scanner / aligned
        image = nib.Nifti1Image(data.astype(storage), affine)
        image.header.set_xyzt_units("mm", "sec")
    image.header.set_data_dtype(storage)
    image.header.set_slope_inter(1.0, 0.0)
    # a header with neither code set would lose the affine on reading: fall back to "aligned"
    image.set_sform(affine, code=sform_code or (qform_code or 2))
    image.set_qform(affine, code=qform_code)
    nib.save(image, path)
