""".npy arrays and figshare brain-tumour .mat files through mrigan.io."""

from __future__ import annotations

import numpy as np
import pytest

from mrigan.errors import InputError
from mrigan.io import read, write


@pytest.mark.parametrize("dtype", ["uint8", "int16", "float32"])
def test_npy_round_trip_keeps_values_and_integer_dtype(tmp_path, mni_crop, dtype):
    values = (mni_crop[0].astype(np.float32) * 1.5 - (50 if dtype == "int16" else 0)).astype(dtype)
    path = tmp_path / "block.npy"
    np.save(path, values)
    volume = read(path)
    assert volume.source_format == "npy"
    assert volume.meta["dtype"] == dtype
    assert volume.shape == (40, 48, 12)
    np.testing.assert_array_equal(volume.data, values)
    back = np.load(write(volume, tmp_path / "copy.npy"))
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, values)


def test_processed_integer_npy_is_written_as_float32(tmp_path, mni_crop):
    path = tmp_path / "block.npy"
    np.save(path, mni_crop[0])
    volume = read(path)
    back = np.load(write(volume.with_data(volume.data / 3.0), tmp_path / "scaled.npy"))
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, volume.data / 3.0)


def test_2d_npy_reads_as_2d(tmp_path, mni_crop):
    path = tmp_path / "slice.npy"
    np.save(path, mni_crop[0][:, :, 0])
    assert read(path).shape == (40, 48)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (np.array([{"a": 1}, None], dtype=object), "object dtype"),
        (np.zeros((2, 3, 4, 5), np.float32), r"4D array \(shape \(2, 3, 4, 5\)\)"),
        (np.zeros((4, 4), np.complex64), "complex data"),
        (np.array([[1.0, np.nan], [np.inf, 2.0]]), "contains 2 NaN/Inf voxels"),
    ],
    ids=["object", "4d", "complex", "nan"],
)
def test_bad_npy_is_an_input_error(tmp_path, value, problem):
    path = tmp_path / "bad_array.npy"
    np.save(path, value, allow_pickle=True)
    with pytest.raises(InputError, match=problem) as info:
        read(path)
    assert "bad_array.npy" in str(info.value)


def test_figshare_v73_mat_reads_the_right_way_round(figshare_mat):
    path, fields = figshare_mat
    volume = read(path)
    assert volume.source_format == "mat"
    assert volume.shape == (48, 40)  # (H, W) as MATLAB shows it, not the stored (W, H)
    np.testing.assert_array_equal(volume.data, fields["image"])
    assert volume.meta["dtype"] == "int16"
    assert volume.meta["label"] == 2 and isinstance(volume.meta["label"], int)
    assert volume.meta["label_name"] == "glioma"
    assert volume.meta["patient_id"] == "MRIGAN-007"
    mask = volume.meta["tumor_mask"]
    assert mask.dtype == bool and mask.shape == volume.shape
    np.testing.assert_array_equal(mask, fields["tumorMask"])
    np.testing.assert_array_equal(volume.meta["tumor_border"], fields["tumorBorder"])
    assert path.read_bytes()[:10] == b"MATLAB 7.3"


def test_figshare_v5_mat_reads_the_same(tmp_path, mni_crop, figshare_mat):
    import scipy.io

    _, fields = figshare_mat
    path = tmp_path / "v5.mat"
    cjdata = {**fields, "label": float(fields["label"]), "tumorMask": fields["tumorMask"].astype(np.uint8)}
    scipy.io.savemat(path, {"cjdata": cjdata})
    volume = read(path)
    np.testing.assert_array_equal(volume.data, fields["image"])
    assert volume.meta["label"] == 2 and volume.meta["patient_id"] == "MRIGAN-007"
    np.testing.assert_array_equal(volume.meta["tumor_mask"], fields["tumorMask"])


def test_mat_without_cjdata_is_an_input_error(tmp_path):
    import h5py

    path = tmp_path / "other.mat"
    with h5py.File(path, "w", userblock_size=512) as mat:
        mat["x"] = np.zeros((3, 3))
    with pytest.raises(InputError, match="no 'cjdata' struct") as info:
        read(path)
    assert "other.mat" in str(info.value)


def test_mat_written_back_as_png_keeps_values(tmp_path, figshare_mat):
    path, fields = figshare_mat
    volume = read(path)
    out = write(volume.with_data(np.clip(volume.data, 0, 255)), tmp_path / "slice.png")
    np.testing.assert_array_equal(read(out).data, np.clip(fields["image"], 0, 255))
