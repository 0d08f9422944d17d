"""PNG / JPEG / TIFF through mrigan.io, on real MNI152 slices."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from mrigan.errors import InputError, OutputError
from mrigan.io import Volume, read, write


@pytest.fixture()
def slice_8bit(mni_crop) -> np.ndarray:
    """A real axial MNI slice, (H, W) = (48, 40), uint8."""
    return np.ascontiguousarray(mni_crop[0][:, :, 6].T)


def test_png_8bit_round_trip_is_exact(tmp_path, slice_8bit):
    path = tmp_path / "slice8.png"
    Image.fromarray(slice_8bit).save(path)
    volume = read(path)
    assert volume.source_format == "image"
    assert volume.shape == (48, 40)
    assert volume.meta["dtype"] == "uint8"
    np.testing.assert_array_equal(volume.data, slice_8bit)
    np.testing.assert_array_equal(volume.affine, np.eye(4))
    back = write(volume, tmp_path / "copy8.png")
    np.testing.assert_array_equal(np.array(Image.open(back)), slice_8bit)
    assert Image.open(back).mode == "L"


def test_png_16bit_round_trip_is_exact(tmp_path, slice_8bit):
    values = slice_8bit.astype(np.uint16) * 251 + 7
    path = tmp_path / "slice16.png"
    Image.fromarray(values).save(path)
    volume = read(path)
    assert volume.meta["dtype"] == "uint16"
    np.testing.assert_array_equal(volume.data, values)
    back = write(volume, tmp_path / "copy16.png")
    stored = np.array(Image.open(back))
    assert stored.dtype == np.uint16
    np.testing.assert_array_equal(stored, values)


def test_rgb_png_is_converted_to_grey_with_a_warning(tmp_path, slice_8bit):
    rgb = np.stack([slice_8bit, slice_8bit // 2, 255 - slice_8bit], axis=-1)
    path = tmp_path / "colour_scan.png"
    Image.fromarray(rgb, mode="RGB").save(path)
    with pytest.warns(UserWarning, match=r"colour_scan\.png.*grey"):
        volume = read(path)
    assert volume.shape == (48, 40)
    expected = np.array(Image.open(path).convert("L")).astype(np.float32)
    assert np.abs(volume.data - expected).max() <= 1


def test_grey_stored_as_rgba_reads_without_warning(tmp_path, slice_8bit):
    rgba = np.stack([slice_8bit, slice_8bit, slice_8bit, np.full_like(slice_8bit, 255)], axis=-1)
    path = tmp_path / "grey_rgba.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        volume = read(path)
    np.testing.assert_array_equal(volume.data, slice_8bit)


@pytest.mark.parametrize("dtype", ["uint16", "float32"])
def test_tiff_round_trip(tmp_path, slice_8bit, dtype):
    import tifffile

    values = (slice_8bit.astype(np.float32) * 3.5).astype(dtype)
    path = tmp_path / f"slice_{dtype}.tif"
    tifffile.imwrite(path, values)
    volume = read(path)
    assert volume.meta["dtype"] == dtype
    np.testing.assert_array_equal(volume.data, values)
    back = tifffile.imread(write(volume, tmp_path / f"copy_{dtype}.tiff"))
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, values)


def test_jpeg_is_written_and_read_as_8bit(tmp_path, slice_8bit):
    volume = Volume(data=slice_8bit.astype(np.float32), source_format="image", meta={"dtype": "uint8"})
    back = read(write(volume, tmp_path / "slice.jpg"))
    assert back.meta["dtype"] == "uint8"
    assert np.abs(back.data - volume.data).mean() < 3  # lossy, quality 95


def test_values_outside_the_stored_range_are_clipped_with_a_warning(tmp_path, slice_8bit):
    volume = Volume(data=slice_8bit.astype(np.float32) * 2.0 - 10.4)
    with pytest.warns(UserWarning, match=r"bright\.png: \d+ pixels outside \[0, 255\]"):
        path = write(volume, tmp_path / "bright.png")
    stored = np.array(Image.open(path))
    np.testing.assert_array_equal(stored, np.clip(np.rint(volume.data), 0, 255))


def test_3d_volume_cannot_be_written_as_png(tmp_path, t1_nifti):
    with pytest.raises(OutputError, match="3D volume cannot be written as PNG"):
        write(read(t1_nifti), tmp_path / "volume.png")
    assert not (tmp_path / "volume.png").exists()


def test_empty_png_is_an_input_error(tmp_path):
    path = tmp_path / "nothing.png"
    path.touch()
    with pytest.raises(InputError, match=r"empty file \(0 bytes\)") as info:
        read(path)
    assert "nothing.png" in str(info.value)


def test_text_named_png_is_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not an image\n")
    with pytest.raises(InputError, match="not a recognised image format") as info:
        read(path)
    assert "notes.png" in str(info.value)


def test_truncated_png_is_an_input_error(tmp_path, slice_8bit):
    path = tmp_path / "cut.png"
    Image.fromarray(slice_8bit).save(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError) as info:
        read(path)
    assert "cut.png" in str(info.value)
