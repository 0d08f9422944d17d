"""The one image type of mrigan: voxels plus the geometry and header they came with."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Volume:
    """A 2D image or 3D volume with its geometry.

    Attributes:
        data: voxel values as float32, in the source's own intensity units. Shape (X, Y, Z) for volumes in
            the file's voxel order (NIfTI i, j, k; DICOM columns, rows, slices), (H, W) for 2D images.
        affine: 4x4 voxel-to-world matrix in RAS+ millimetres (3x3 block used for 2D images as well).
        source_format: "nifti", "dicom", "image", "npy" or "mat".
        header: the source's header object (nibabel header, list of pydicom datasets, ...), or None.
        source_path: the file or folder read; writers never overwrite it.
        meta: anything else worth keeping (stored dtype, bit depth, class label, tumour mask, ...).
    """

    data: np.ndarray
    affine: np.ndarray = field(default_factory=lambda: np.eye(4))
    source_format: str = "npy"
    header: Any = None
    source_path: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def spacing(self) -> tuple[float, ...]:
        """Voxel size in mm along each data axis."""
        norms = np.sqrt((np.asarray(self.affine)[:3, :3] ** 2).sum(axis=0))
        return tuple(float(v) for v in norms[: self.ndim])

    @property
    def orientation(self) -> tuple[str, ...]:
        """Axis codes such as ("R", "A", "S")."""
        import nibabel as nib

        return tuple(nib.aff2axcodes(self.affine))

    def with_data(self, data: np.ndarray, *, zoom: tuple[float, ...] | None = None) -> Volume:
        """A copy with new voxels on the same grid; `zoom` (new/old size per axis) rescales the voxel size.

        The world extent is kept: the centre of the first voxel moves by half the change of voxel size.
        """
        affine = np.array(self.affine, dtype=float)
        if zoom is not None:
            scale = np.ones(3)
            scale[: len(zoom)] = [1.0 / z for z in zoom]
            old_origin = affine[:3, 3].copy()
            affine[:3, :3] = affine[:3, :3] * scale[None, :]
            # keep the corner of the field of view fixed: shift by half of (new - old) voxel along each axis
            affine[:3, 3] = old_origin + affine[:3, :3] @ ((1.0 - 1.0 / scale) * 0.5)
        return replace(self, data=np.asarray(data, dtype=np.float32), affine=affine, meta=dict(self.meta))
