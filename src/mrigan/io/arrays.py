"""NumPy arrays (.npy) and the figshare brain-tumour MATLAB files (.mat), plus checks shared by all formats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mrigan.errors import InputError
from mrigan.io.volume import Volume

#: Class labels of the figshare brain-tumour dataset (Cheng et al. 2015), as stored in `cjdata.label`.
FIGSHARE_LABELS = {1: "meningioma", 2: "glioma", 3: "pituitary tumour"}


def require_finite(data: np.ndarray, path: str | Path) -> None:
    """Raise InputError when `data` holds NaN or infinite values."""
    bad = int(data.size - np.count_nonzero(np.isfinite(data)))
    if bad:
        raise InputError(path, f"contains {bad} NaN/Inf voxels")


def dtype_name(dtype: Any) -> str:
    """The dtype's name in native byte order ("uint16" for big-endian ">u2" too), as kept in meta["dtype"]."""
    return str(np.dtype(dtype).newbyteorder("="))


def integer_storage_dtype(data: np.ndarray, source_dtype: Any) -> np.dtype | None:
    """The source's integer (or bool) dtype when every value of `data` is a whole number that fits in it.

    Writers store this dtype so that an integer input comes back as the same integers; otherwise (None)
    they store float32.
    """
    if source_dtype is None:
        return None
    try:
        dtype = np.dtype(source_dtype)
    except TypeError:
        return None
    if dtype.kind not in "biu" or data.size == 0:
        return None
    if dtype.kind == "b":
        low, high = 0, 1
    else:
        info = np.iinfo(dtype)
        low, high = info.min, info.max
    if float(data.min()) < low or float(data.max()) > high or not np.array_equal(data, np.rint(data)):
        return None
    return dtype


def read_npy(path: Path) -> Volume:
    """Read a 2D or 3D numeric .npy array (never unpickles objects)."""
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise InputError(path, "object dtype .npy (pickled Python objects) cannot be read safely") from None
        raise InputError(path, f"truncated or corrupt .npy ({error})") from None
    except (OSError, EOFError) as error:
        raise InputError(path, f"truncated or corrupt .npy ({error})") from None
    if not isinstance(array, np.ndarray):
        array.close()
        raise InputError(path, "not a .npy array (an .npz archive?)")
    if array.dtype.kind == "c":
        raise InputError(path, "complex data; save the magnitude (np.abs) as a real array")
    if array.dtype.kind not in "biuf":
        raise InputError(path, f"unsupported dtype {array.dtype} (a numeric array is needed)")
    if array.ndim not in (2, 3):
        raise InputError(path, f"{array.ndim}D array (shape {array.shape}); a 2D image or 3D volume is needed")
    data = np.ascontiguousarray(array, dtype=np.float32)
    require_finite(data, path)
    return Volume(data=data, affine=np.eye(4), source_format="npy", source_path=path, meta={"dtype": dtype_name(array.dtype)})


def save_npy(volume: Volume, path: Path, template: Volume) -> None:
    """Write the voxels as .npy: the template's integer dtype when the values still fit, else float32."""
    dtype = integer_storage_dtype(volume.data, template.meta.get("dtype")) or np.dtype(np.float32)
    with open(path, "wb") as handle:
        np.save(handle, np.asarray(volume.data).astype(dtype), allow_pickle=False)


def read_mat(path: Path) -> Volume:
    """Read one slice of the figshare brain-tumour dataset (`cjdata` struct; MATLAB v7.3 or v5 files).

    The image is returned (H, W), the way MATLAB shows it. `meta` holds "label" (1 meningioma, 2 glioma,
    3 pituitary tumour), "label_name", "tumor_mask" (bool, same shape as the image), "patient_id" (PID),
    "tumor_border" (the stored [x1, y1, x2, y2, ...] outline, float) and "dtype" (the stored image dtype).
    """
    import h5py

    if h5py.is_hdf5(path):
        fields = _read_mat_v73(path)
    else:
        fields = _read_mat_v5(path)
    image, mask = fields["image"], fields["tumorMask"]
    if image.ndim != 2:
        raise InputError(path, f"cjdata.image is {image.ndim}D (shape {image.shape}); a 2D slice is expected")
    if mask.shape != image.shape:
        raise InputError(path, f"cjdata.tumorMask has shape {mask.shape} but the image has {image.shape}")
    data = np.ascontiguousarray(image, dtype=np.float32)
    require_finite(data, path)
    label = int(fields["label"])
    meta = {
        "dtype": dtype_name(image.dtype),
        "label": label,
        "label_name": FIGSHARE_LABELS.get(label, "unknown"),
        "tumor_mask": mask.astype(bool),
        "patient_id": fields["PID"],
        "tumor_border": np.asarray(fields["tumorBorder"], dtype=float).ravel(),
    }
    return Volume(data=data, affine=np.eye(4), source_format="mat", source_path=path, meta=meta)


_CJDATA_FIELDS = ("image", "label", "tumorMask", "PID", "tumorBorder")


def _read_mat_v73(path: Path) -> dict[str, Any]:
    """MATLAB v7.3 (HDF5): arrays are stored column-major, so h5py sees them transposed."""
    import h5py

    try:
        with h5py.File(path, "r") as mat:
            group = mat.get("cjdata")
            if not isinstance(group, h5py.Group):
                raise InputError(path, "not a figshare brain-tumour .mat file (no 'cjdata' struct)")
            missing = [name for name in _CJDATA_FIELDS if name not in group]
            if missing:
                raise InputError(path, f"cjdata lacks the field(s) {', '.join(missing)}")
            return {
                "image": np.asarray(group["image"]).T,
                "tumorMask": np.asarray(group["tumorMask"]).T,
                "label": np.asarray(group["label"]).ravel()[0],
                "PID": _matlab_text(np.asarray(group["PID"])),
                "tumorBorder": np.asarray(group["tumorBorder"]).T,
            }
    except OSError as error:
        raise InputError(path, f"truncated or corrupt .mat ({error})") from None


def _read_mat_v5(path: Path) -> dict[str, Any]:
    """MATLAB v5 (scipy.io): arrays come back in MATLAB's own orientation."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)
    except (ValueError, TypeError, OSError, NotImplementedError) as error:
        raise InputError(path, f"not a recognised image format (not a readable .mat file: {error})") from None
    if "cjdata" not in mat:
        raise InputError(path, "not a figshare brain-tumour .mat file (no 'cjdata' struct)")
    cjdata = mat["cjdata"]
    missing = [name for name in _CJDATA_FIELDS if not hasattr(cjdata, name)]
    if missing:
        raise InputError(path, f"cjdata lacks the field(s) {', '.join(missing)}")
    fields = {name: getattr(cjdata, name) for name in _CJDATA_FIELDS}
    fields["image"] = np.asarray(fields["image"])
    fields["tumorMask"] = np.asarray(fields["tumorMask"])
    fields["label"] = np.asarray(fields["label"]).ravel()[0]
    fields["PID"] = str(fields["PID"])
    return fields


def _matlab_text(codes: np.ndarray) -> str:
    """A MATLAB char array (stored as uint16 character codes) as a Python string."""
    return "".join(chr(int(code)) for code in codes.T.ravel() if int(code) != 0)
