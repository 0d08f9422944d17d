"""Reading and writing MRI as a `Volume`: NIfTI, DICOM series, PNG/JPEG/TIFF, .npy and figshare .mat.

`read(path)` and `write(volume, path)` choose the format from the path. Importing this package is cheap:
nibabel, pydicom, Pillow and h5py are imported by the functions that need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mrigan.io.readwrite import read, sha256_file, write
from mrigan.io.volume import Volume

if TYPE_CHECKING:
    from mrigan.io.dicom import write_dicom_series
    from mrigan.io.images import window_level

__all__ = ["Volume", "read", "sha256_file", "window_level", "write", "write_dicom_series"]

_LAZY = {"write_dicom_series": "mrigan.io.dicom", "window_level": "mrigan.io.images"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
