"""NIfTI through mrigan.io on real MNI152 / Colin27 blocks."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest

from mrigan.errors import InputError
from mrigan.io import read, write


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii"])
def test_round_trip_keeps_geometry_data_and_header(tmp_path, t1_nifti, mni_crop, suffix):
    data, affine, _ = mni_crop
    volume = read(t1_nifti)
    assert volume.source_format == "nifti"
    assert volume.data.dtype == np.float32 and volume.data.flags.c_contiguous
    assert volume.shape == data.shape == (40, 48, 12)
    assert volume.spacing == (1.0, 1.0, 1.0)
    assert volume.orientation == ("R", "A", "S")
    np.testing.assert_allclose(volume.affine, affine)
    np.testing.assert_array_equal(volume.data, data)
    assert volume.meta["dtype"] == "uint8"

    back = read(write(volume, tmp_path / f"copy{suffix}"))
    assert back.shape == volume.shape
    assert back.spacing == volume.spacing
    assert back.orientation == volume.orientation
    np.testing.assert_allclose(back.affine, volume.affine, atol=1e-5)
    np.testing.assert_array_equal(back.data, volume.data)
    # whole numbers that still fit keep the source dtype; the header's codes are kept
    assert back.header.get_data_dtype() == np.uint8
    assert (int(back.header["qform_code"]), int(back.header["sform_code"])) == (
        int(volume.header["qform_code"]),
        int(volume.header["sform_code"]),
    )


def test_non_integer_data_is_stored_as_float32_exactly(tmp_path, t1_nifti):
    volume = read(t1_nifti)
    processed = volume.with_data(volume.data * 0.37 + 0.5)
    back = read(write(processed, tmp_path / "float.nii.gz"))
    assert back.header.get_data_dtype() == np.float32
    np.testing.assert_array_equal(back.data, processed.data)


def test_oblique_affine_and_new_voxel_size_survive(tmp_path, t1_nifti, rotation):
    volume = read(t1_nifti)
    zoomed = volume.with_data(volume.data[::2, ::2, :], zoom=(0.5, 0.5, 1.0))
    zoomed.affine = rotation(15, -10) @ zoomed.affine
    back = read(write(zoomed, tmp_path / "zoomed.nii.gz"))
    assert back.shape == (20, 24, 12)
    np.testing.assert_allclose(back.spacing, (2.0, 2.0, 1.0), atol=1e-5)
    np.testing.assert_allclose(back.affine, zoomed.affine, atol=1e-4)
    np.testing.assert_allclose(back.header.get_zooms(), (2.0, 2.0, 1.0), atol=1e-5)


def test_colin27_round_trip(tmp_path, colin_nifti):
    volume = read(colin_nifti)
    assert volume.shape == (40, 50, 10)
    back = read(write(volume, tmp_path / "colin.nii"))
    np.testing.assert_array_equal(back.data, volume.data)
    np.testing.assert_allclose(back.affine, volume.affine, atol=1e-5)
    assert back.orientation == volume.orientation == ("R", "A", "S")


def test_volume_without_nifti_header_gets_one(tmp_path, mni_crop):
    from mrigan.io import Volume

    data, affine, _ = mni_crop
    volume = Volume(data=data.astype(np.float32) / 255.0, affine=affine)
    path = write(volume, tmp_path / "fresh.nii.gz")
    image = nib.load(path)
    assert image.header.get_xyzt_units()[0] == "mm"
    assert int(image.header["sform_code"]) > 0
    np.testing.assert_allclose(image.affine, affine, atol=1e-5)


def test_4d_with_one_volume_is_squeezed(tmp_path, mni_crop):
    data, affine, _ = mni_crop
    path = tmp_path / "single_frame.nii.gz"
    nib.save(nib.Nifti1Image(data[..., None], affine), path)
    volume = read(path)
    assert volume.shape == data.shape


def test_2d_nifti_reads_as_2d(tmp_path, mni_crop):
    data, affine, _ = mni_crop
    path = tmp_path / "slice.nii"
    nib.save(nib.Nifti1Image(data[:, :, 5], affine), path)
    assert read(path).shape == (40, 48)


def test_real_4d_is_refused(tmp_path, mni_crop):
    data, affine, _ = mni_crop
    path = tmp_path / "timeseries.nii.gz"
    nib.save(nib.Nifti1Image(np.stack([data, data], axis=-1), affine), path)
    with pytest.raises(InputError, match=r"4D volume \(shape \(40, 48, 12, 2\)\); a 3D volume is needed") as info:
        read(path)
    assert "timeseries.nii.gz" in str(info.value)


def test_truncated_nifti_is_an_input_error(tmp_path, t1_nifti):
    blob = t1_nifti.read_bytes()
    path = tmp_path / "cut.nii.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(InputError, match="truncated or corrupt NIfTI") as info:
        read(path)
    assert "cut.nii.gz" in str(info.value)


def test_truncated_uncompressed_nifti_is_an_input_error(tmp_path, t1_nifti):
    path = tmp_path / "cut.nii"
    path.write_bytes(gzip.decompress(t1_nifti.read_bytes())[:2000])
    with pytest.raises(InputError, match="truncated or corrupt NIfTI") as info:
        read(path)
    assert "cut.nii" in str(info.value)


def test_nan_voxels_are_an_input_error(tmp_path, mni_crop):
    data, affine, _ = mni_crop
    values = data.astype(np.float32)
    values[0, 0, :3] = np.nan
    values[1, 1, 1] = np.inf
    path = tmp_path / "holes.nii.gz"
    nib.save(nib.Nifti1Image(values, affine), path)
    with pytest.raises(InputError, match="contains 4 NaN/Inf voxels") as info:
        read(path)
    assert "holes.nii.gz" in str(info.value)
