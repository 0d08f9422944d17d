"""Fixtures for mrigan.io: small blocks of real templates (MNI152, Colin27), real DICOM, a figshare-style .mat."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

MNI_T1 = "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
COLIN27 = Path("/usr/share/mricron/templates/ch2.nii.gz")
BLOCK = (slice(78, 118), slice(90, 138), slice(80, 92))  # 40 x 48 x 12 voxels around the ventricles


def mni_t1_path() -> Path:
    """The template inside the installed nilearn, found without importing nilearn (a 3 s import)."""
    import importlib.util

    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("nilearn is not installed (its MNI152 template is the test data)")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / MNI_T1
    if not path.exists():
        pytest.skip(f"nilearn's MNI152 template is missing: {path}")
    return path


def _crop(path: Path, block: tuple[slice, ...]) -> tuple[np.ndarray, np.ndarray, object]:
    """A block of a NIfTI image in its stored dtype, the block's affine, and a copy of the header."""
    import nibabel as nib

    image = nib.load(path)
    data = image.dataobj[block]  # reads only as far into the file as the block needs
    start = np.array([s.start for s in block])
    affine = image.affine.copy()
    affine[:3, 3] = image.affine[:3, :3] @ start + image.affine[:3, 3]
    return np.ascontiguousarray(data), affine, image.header.copy()


@pytest.fixture(scope="session")
def mni_crop() -> tuple[np.ndarray, np.ndarray, object]:
    """(uint8 data 40x48x12, affine, header) from the MNI152 T1 shipped with nilearn."""
    return _crop(mni_t1_path(), BLOCK)


@pytest.fixture()
def t1_nifti(tmp_path: Path, mni_crop) -> Path:
    """The MNI152 block as .nii.gz with the template's own header (uint8, sform code 2)."""
    import nibabel as nib

    data, affine, header = mni_crop
    path = tmp_path / "mni_t1_block.nii.gz"
    nib.save(nib.Nifti1Image(data, affine, header), path)
    return path


@pytest.fixture()
def colin_nifti(tmp_path: Path) -> Path:
    """A block of Colin27 (mricron's ch2) as .nii.gz; skipped when the Debian mricron-data package is absent."""
    import nibabel as nib

    if not COLIN27.exists():
        pytest.skip(f"{COLIN27} not found: install the Debian package mricron-data")
    data, affine, header = _crop(COLIN27, (slice(60, 100), slice(80, 130), slice(70, 80)))
    path = tmp_path / "colin27_block.nii.gz"
    nib.save(nib.Nifti1Image(data, affine, header), path)
    return path


@pytest.fixture(scope="session")
def rotation():
    """rotation(degrees_x, degrees_z): a 4x4 rotation about x then z (an oblique acquisition)."""
    return _rotation


def _rotation(degrees_x: float, degrees_z: float) -> np.ndarray:
    ax, az = np.deg2rad(degrees_x), np.deg2rad(degrees_z)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    out = np.eye(4)
    out[:3, :3] = rz @ rx
    return out


@pytest.fixture()
def real_dicom(tmp_path: Path) -> Path:
    """A copy of pydicom's bundled MR_small.dcm (a real 64x64 MR slice, 0.3125 mm pixels)."""
    import shutil

    from pydicom.data import get_testdata_file

    target = tmp_path / "MR_small.dcm"
    shutil.copy(get_testdata_file("MR_small.dcm"), target)
    return target


def figshare_fields(mni_crop) -> dict[str, object]:
    """cjdata fields as MATLAB would show them: a real MNI slice (H=48 != W=40) as int16, mask, label, PID."""
    data = mni_crop[0]
    image = (data[:, :, 6].T.astype(np.int16) * 7)  # (H, W) = (48, 40), not symmetric
    mask = image > np.percentile(image, 90)
    rows, columns = np.nonzero(mask)
    border = np.stack([columns[:5], rows[:5]], axis=1).astype(float).ravel()
    return {"image": image, "label": 2, "PID": "MRIGAN-007", "tumorMask": mask, "tumorBorder": border}


@pytest.fixture()
def figshare_mat(tmp_path: Path, mni_crop) -> tuple[Path, dict[str, object]]:
    """A MATLAB v7.3 file in the figshare brain-tumour layout (HDF5 with a 512-byte user block)."""
    import h5py

    fields = figshare_fields(mni_crop)
    path = tmp_path / "1234.mat"
    with h5py.File(path, "w", userblock_size=512) as mat:
        group = mat.create_group("cjdata")
        group.attrs["MATLAB_class"] = np.bytes_("struct")

        def put(name: str, value: np.ndarray, matlab_class: str) -> None:
            # MATLAB writes column-major arrays, which HDF5 readers see transposed
            dataset = group.create_dataset(name, data=np.atleast_2d(value).T)
            dataset.attrs["MATLAB_class"] = np.bytes_(matlab_class)

        put("image", fields["image"], "int16")
        put("label", np.array([[float(fields["label"])]]), "double")
        put("PID", np.array([[ord(c) for c in fields["PID"]]], dtype=np.uint16), "char")
        put("tumorMask", fields["tumorMask"].astype(np.uint8), "logical")
        put("tumorBorder", fields["tumorBorder"][None, :], "double")
    with open(path, "r+b") as handle:
        handle.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created by: mrigan tests HDF5 schema 1.00 .".ljust(116))
        handle.write(b"\x00" * 8 + b"\x00\x02" + b"IM")
    return path, fields
