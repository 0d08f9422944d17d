"""Dispatch, refusals, atomic writes and hashes of mrigan.io.read / write."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from mrigan.errors import InputError, OutputError
from mrigan.io import Volume, read, sha256_file, write


def test_missing_path_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file or folder") as info:
        read(tmp_path / "ghost_scan.nii.gz")
    assert "ghost_scan.nii.gz" in str(info.value)


@pytest.mark.parametrize("name", ["report.txt", "scan"])
def test_unknown_content_is_not_an_image(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"just some text, no magic bytes here\n" * 20)
    with pytest.raises(InputError, match="not a recognised image format") as info:
        read(path)
    assert name in str(info.value)


def test_formats_are_sniffed_when_the_name_says_nothing(tmp_path, t1_nifti, real_dicom):
    nifti = tmp_path / "nifti_without_suffix"
    nifti.write_bytes(gzip.decompress(t1_nifti.read_bytes()))
    dicom = tmp_path / "IM0001"
    shutil.copy(real_dicom, dicom)
    array = tmp_path / "array.bin"
    with open(array, "wb") as handle:
        np.save(handle, np.ones((3, 4), np.float32))
    assert read(nifti).shape == (40, 48, 12)
    assert read(dicom).shape == (64, 64)
    assert read(array).shape == (3, 4)


def test_write_refuses_the_input_even_with_overwrite(t1_nifti):
    volume = read(t1_nifti)
    before = sha256_file(t1_nifti)
    with pytest.raises(OutputError, match="refusing to overwrite an input"):
        write(volume, t1_nifti, overwrite=True)
    assert sha256_file(t1_nifti) == before


def test_write_refuses_a_file_inside_a_source_series(tmp_path, t1_nifti):
    from mrigan.io import write_dicom_series

    series = read(write_dicom_series(read(t1_nifti), tmp_path / "series"))
    with pytest.raises(OutputError, match="refusing to overwrite an input"):
        write(series, tmp_path / "series" / "inside.nii.gz")


def test_write_refuses_an_existing_output_unless_asked(tmp_path, t1_nifti):
    volume = read(t1_nifti)
    target = write(volume, tmp_path / "out.nii.gz")
    with pytest.raises(OutputError, match="already exists"):
        write(volume, target)
    write(volume.with_data(volume.data + 1), target, overwrite=True)
    np.testing.assert_array_equal(read(target).data, volume.data + 1)


def test_unsupported_targets_are_output_errors(tmp_path, t1_nifti):
    volume = read(t1_nifti)
    with pytest.raises(OutputError, match="unsupported output format '.xyz'"):
        write(volume, tmp_path / "out.xyz")
    with pytest.raises(OutputError, match="no file extension"):
        write(volume, tmp_path / "no_suffix")
    nan = volume.with_data(np.where(volume.data > 200, np.nan, volume.data))
    with pytest.raises(OutputError, match="NaN/Inf"):
        write(nan, tmp_path / "nan.nii.gz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mni_t1_block.nii.gz"]


@pytest.mark.parametrize("target", ["broken.nii.gz", "broken.png", "broken.npy", "broken_series/"])
def test_a_failing_writer_leaves_nothing_behind(tmp_path, t1_nifti, monkeypatch, target):
    import nibabel as nib
    import pydicom
    from PIL import Image

    calls = {"n": 0}

    def fail_after_a_while(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError("disk full (simulated)")
        return saving(*args, **kwargs)

    saving = pydicom.Dataset.save_as
    monkeypatch.setattr(pydicom.Dataset, "save_as", fail_after_a_while)
    monkeypatch.setattr(nib, "save", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full (simulated)")))
    monkeypatch.setattr(Image.Image, "save", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    monkeypatch.setattr(np, "save", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    volume = read(t1_nifti)
    if target.endswith(".png"):
        volume = volume.with_data(volume.data[:, :, 0])
    with pytest.raises(OSError, match="disk full"):
        write(volume, f"{tmp_path}/{target}")
    assert sorted(os.listdir(tmp_path)) == ["mni_t1_block.nii.gz"]


def test_like_gives_a_bare_array_the_template_header(tmp_path, t1_nifti):
    template = read(t1_nifti)
    output = Volume(data=template.data.copy(), affine=template.affine)
    path = write(output, tmp_path / "like.nii.gz", like=t1_nifti)
    back = read(path)
    assert back.header.get_data_dtype() == np.uint8
    assert int(back.header["sform_code"]) == int(template.header["sform_code"])
    with pytest.raises(OutputError, match="refusing to overwrite an input"):
        write(output, t1_nifti, like=template, overwrite=True)


def test_sha256_of_files_and_folders(tmp_path, t1_nifti):
    assert sha256_file(t1_nifti) == hashlib.sha256(t1_nifti.read_bytes()).hexdigest()
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, order in [(first, ["x", "y"]), (second, ["y", "x"])]:
        folder.mkdir()
        for name in order:
            (folder / name).write_bytes(name.encode() * 10)
    assert sha256_file(first) == sha256_file(second)
    (second / "y").write_bytes(b"changed")
    assert sha256_file(first) != sha256_file(second)
    with pytest.raises(InputError, match="no such file"):
        sha256_file(tmp_path / "missing")


def test_importing_mrigan_io_stays_light():
    code = (
        "import sys, mrigan.io; "
        "print(sorted(m for m in ('torch', 'nibabel', 'pydicom', 'PIL', 'h5py', 'tifffile', 'scipy') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_atomic_outputs_get_the_usual_mode_not_owner_only(tmp_path):
    from mrigan.io.atomic import write_atomic

    previous = os.umask(0o022)
    try:
        out = write_atomic(tmp_path / "out.txt", lambda p: p.write_text("x"))
        folder = write_atomic(tmp_path / "series", lambda p: (p / "a.dcm").write_text("x"), directory=True)
    finally:
        os.umask(previous)
    assert out.stat().st_mode & 0o777 == 0o644
    assert folder.stat().st_mode & 0o777 == 0o755
    assert not list(tmp_path.glob(".*tmp*"))
