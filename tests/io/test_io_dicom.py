"""DICOM through mrigan.io: real MNI152 blocks as series, pydicom's real MR slice, de-identification."""

from __future__ import annotations

import random
import shutil
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest

from mrigan.errors import InputError, OutputError
from mrigan.io import read, window_level, write, write_dicom_series
from mrigan.io.dicom import BLANKED_KEYWORDS, REMOVED_KEYWORDS, STALE_PIXEL_KEYWORDS, quantise

IDENTIFYING = {
    "PatientName": "Doe^Jane",
    "PatientID": "HOSP-123456",
    "PatientBirthDate": "19700101",
    "PatientAddress": "1 Main Street, Springfield",
    "OtherPatientIDs": "ALT-999",
    "PatientTelephoneNumbers": "555-0100",
    "InstitutionName": "Springfield General",
    "InstitutionAddress": "2 Hospital Road",
    "ReferringPhysicianName": "House^Gregory",
    "OperatorsName": "Tech^Tom",
    "PerformingPhysicianName": "Who^Doctor",
    "AccessionNumber": "ACC0042",
}


def sitk_volume(folder_or_file: Path) -> tuple[np.ndarray, np.ndarray]:
    """Data (columns, rows, slices) and RAS affine as SimpleITK (GDCM) reads them: an independent reader."""
    import SimpleITK as sitk

    if folder_or_file.is_dir():
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder_or_file)))
        image = reader.Execute()
    else:
        image = sitk.ReadImage(str(folder_or_file))
    direction = np.array(image.GetDirection()).reshape(3, 3)
    lps = np.eye(4)
    lps[:3, :3] = direction * np.array(image.GetSpacing())
    lps[:3, 3] = image.GetOrigin()
    return sitk.GetArrayFromImage(image).transpose(2, 1, 0), np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


def files_of(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.dcm"))


@pytest.fixture()
def source_series(tmp_path, t1_nifti) -> Path:
    """The MNI block as a DICOM series dressed up as a scanner's original: identifying and private tags set,
    files renamed at random and InstanceNumbers scrambled, so only positions give the slice order."""
    folder = write_dicom_series(read(t1_nifti), tmp_path / "scanner_export")
    rng = random.Random(7)
    files = files_of(folder)
    instance_numbers = list(range(1, len(files) + 1))
    rng.shuffle(instance_numbers)
    names = [f"{rng.getrandbits(40):010x}" for _ in files]  # no suffix: found by the DICM preamble
    for path, number, name in zip(files, instance_numbers, names):
        ds = pydicom.dcmread(path)
        for keyword, value in IDENTIFYING.items():
            setattr(ds, keyword, value)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
        ds.SeriesDescription = "t1_mprage_sag"
        ds.InstanceNumber = number
        block = ds.private_block(0x0029, "ACME 1.0", create=True)
        block.add_new(0x01, "LO", "patient secret")
        ds.save_as(folder / name, enforce_file_format=True)
        path.unlink()
    return folder


def test_nifti_to_dicom_series_and_back(tmp_path, t1_nifti):
    volume = read(t1_nifti)
    folder = write(volume, str(tmp_path / "series") + "/")
    assert len(files_of(folder)) == volume.shape[2]
    back = read(folder)
    assert back.source_format == "dicom"
    assert back.shape == volume.shape
    assert back.spacing == pytest.approx(volume.spacing)
    assert back.orientation == volume.orientation == ("R", "A", "S")
    np.testing.assert_allclose(back.affine, volume.affine, atol=1e-3)
    np.testing.assert_array_equal(back.data, volume.data)  # whole numbers: stored exactly, no rescale
    assert "RescaleSlope" not in back.header[0]
    # an independent reader agrees on voxels and geometry
    data, affine = sitk_volume(folder)
    np.testing.assert_array_equal(data, volume.data)
    np.testing.assert_allclose(affine, volume.affine, atol=1e-3)


def test_float_data_round_trips_within_one_quantisation_step(tmp_path, t1_nifti):
    volume = read(t1_nifti)
    processed = volume.with_data(volume.data * 0.0371 - 1.5)
    back = read(write(processed, str(tmp_path / "float") + "/"))
    step = float(back.header[0].RescaleSlope)
    assert step < (processed.data.max() - processed.data.min()) / 60000
    assert np.abs(back.data - processed.data).max() <= step


def test_oblique_zoomed_series_round_trip(tmp_path, t1_nifti, rotation):
    volume = read(t1_nifti)
    oblique = volume.with_data(volume.data[:, ::2, :], zoom=(1.0, 0.5, 1.0))
    oblique.affine = rotation(20, 35) @ oblique.affine
    back = read(write_dicom_series(oblique, tmp_path / "oblique"))
    assert back.shape == oblique.shape
    np.testing.assert_allclose(back.spacing, (1.0, 2.0, 1.0), atol=1e-4)
    np.testing.assert_allclose(back.affine, oblique.affine, atol=1e-3)
    np.testing.assert_array_equal(back.data, oblique.data)
    _, affine = sitk_volume(tmp_path / "oblique")
    np.testing.assert_allclose(affine, oblique.affine, atol=1e-3)


def test_left_handed_affine_comes_back_with_slices_reversed(tmp_path, t1_nifti):
    """DICOM slices are ordered along row x column; an affine with the opposite handedness (here LAS) is the
    same world geometry with the slice axis reversed."""
    volume = read(t1_nifti)
    flip_x = np.diag([-1.0, 1.0, 1.0, 1.0])
    flip_x[0, 3] = volume.shape[0] - 1
    las = volume.with_data(volume.data[::-1])
    las.affine = volume.affine @ flip_x
    assert las.orientation == ("L", "A", "S")
    back = read(write_dicom_series(las, tmp_path / "las"))
    flip_z = np.diag([1.0, 1.0, -1.0, 1.0])
    flip_z[2, 3] = volume.shape[2] - 1
    np.testing.assert_array_equal(back.data[:, :, ::-1], las.data)
    np.testing.assert_allclose(back.affine @ flip_z, las.affine, atol=1e-3)


def test_series_order_comes_from_positions_not_names_or_instance_numbers(source_series, mni_crop):
    data, affine, _ = mni_crop
    names = [p.name for p in source_series.iterdir()]
    assert not any(name.endswith(".dcm") for name in names)
    volume = read(source_series)
    np.testing.assert_array_equal(volume.data, data)
    np.testing.assert_allclose(volume.affine, affine, atol=1e-3)
    positions = [float(ds.ImagePositionPatient[2]) for ds in volume.header]
    assert positions == sorted(positions)


def test_derived_series_is_new_and_deidentified(tmp_path, source_series):
    source = read(source_series)
    originals = source.header
    restored = source.with_data(source.data * 0.5 + 3.25)
    restored.meta["derivation"] = "restored by a test"
    folder = write(restored, tmp_path / "derived")  # no suffix + DICOM source: a series folder
    written = [pydicom.dcmread(path) for path in files_of(folder)]
    assert len(written) == len(originals)
    source_sops = {ds.SOPInstanceUID for ds in originals}
    assert len({ds.SeriesInstanceUID for ds in written}) == 1
    assert written[0].SeriesInstanceUID != originals[0].SeriesInstanceUID
    assert written[0].StudyInstanceUID != originals[0].StudyInstanceUID
    assert not source_sops & {ds.SOPInstanceUID for ds in written}
    assert len({ds.SOPInstanceUID for ds in written}) == len(written)
    for ds in written:
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert list(ds.ImageType[:2]) == ["DERIVED", "SECONDARY"]
        assert ds.SeriesDescription == "t1_mprage_sag (mrigan)"
        assert "restored by a test" in ds.DerivationDescription
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.DeidentificationMethod
        for keyword in IDENTIFYING:
            assert keyword not in ds or not str(ds.get(keyword) or ""), keyword
        assert not any(element.tag.is_private for element in ds)
        assert float(ds.WindowWidth) > 0
        assert ds.Modality == "MR"
    raw = b"".join(path.read_bytes() for path in files_of(folder))
    for secret in ["Doe^Jane", "HOSP-123456", "Springfield", "House^Gregory", "patient secret", "ACC0042"]:
        assert secret.encode() not in raw
    back = read(folder)
    assert np.abs(back.data - restored.data).max() <= float(written[0].RescaleSlope)
    low, high = np.percentile(restored.data, [1, 99])
    assert float(written[0].WindowCenter) == pytest.approx((low + high) / 2, rel=1e-6)


def test_write_dicom_series_from_nifti_builds_valid_mr_objects(tmp_path, t1_nifti):
    volume = read(t1_nifti)
    folder = write_dicom_series(volume, tmp_path / "export", series_description="T1 restored")
    ds = pydicom.dcmread(files_of(folder)[0])
    assert ds.SOPClassUID == pydicom.uid.MRImageStorage
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert ds.SeriesDescription == "T1 restored (mrigan)"
    assert ds.Rows == volume.shape[1] and ds.Columns == volume.shape[0]
    assert ds.BitsAllocated == 16 and ds.PhotometricInterpretation == "MONOCHROME2"
    assert float(ds.SliceThickness) == pytest.approx(1.0)
    assert [float(v) for v in ds.PixelSpacing] == [1.0, 1.0]
    with pytest.raises(OutputError, match="already exists"):
        write_dicom_series(volume, folder)


def test_one_real_dicom_file_reads_as_2d(real_dicom):
    volume = read(real_dicom)
    assert volume.shape == (64, 64)
    assert volume.spacing == pytest.approx((0.3125, 0.3125))
    assert volume.meta["dtype"] == "int16"
    ds = pydicom.dcmread(real_dicom)
    np.testing.assert_array_equal(volume.data, ds.pixel_array)  # (rows, columns), like any 2D image
    data, affine = sitk_volume(real_dicom)  # (columns, rows, 1)
    np.testing.assert_array_equal(volume.data, data[:, :, 0].T)
    np.testing.assert_allclose(volume.affine[:, [1, 0, 3]], affine[:, [0, 1, 3]], atol=1e-4)


@pytest.mark.parametrize("name", ["MR_small_implicit.dcm", "MR_small_bigendian.dcm", "MR_small_RLE.dcm"])
def test_derived_file_from_any_transfer_syntax(tmp_path, name):
    from pydicom.data import get_testdata_file

    source = tmp_path / name
    shutil.copy(get_testdata_file(name), source)
    volume = read(source)
    assert volume.meta["dtype"] == "int16"  # native byte order, whatever the file's
    back = read(write(volume, tmp_path / "derived.dcm"))
    np.testing.assert_array_equal(back.data, volume.data)
    np.testing.assert_allclose(back.affine[:, [0, 1, 3]], volume.affine[:, [0, 1, 3]], atol=1e-4)
    ds = pydicom.dcmread(tmp_path / "derived.dcm")
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert str(ds.PatientName) == "" and ds.PatientIdentityRemoved == "YES"


def test_empty_folder_is_an_input_error(tmp_path):
    folder = tmp_path / "empty_series"
    folder.mkdir()
    (folder / "notes.txt").write_text("not DICOM")
    with pytest.raises(InputError, match="no DICOM files in folder") as info:
        read(folder)
    assert "empty_series" in str(info.value)


def test_dicom_without_pixel_data_is_an_input_error(tmp_path, real_dicom):
    ds = pydicom.dcmread(real_dicom)
    del ds.PixelData
    path = tmp_path / "header_only.dcm"
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(InputError, match="DICOM file has no pixel data") as info:
        read(path)
    assert "header_only.dcm" in str(info.value)


def test_truncated_dicom_is_an_input_error(tmp_path, real_dicom):
    path = tmp_path / "cut.dcm"
    path.write_bytes(real_dicom.read_bytes()[:5000])
    with pytest.raises(InputError) as info:
        read(path)
    assert "cut.dcm" in str(info.value)


def test_folder_with_two_series_reads_the_largest_with_a_warning(tmp_path, t1_nifti):
    volume = read(t1_nifti)
    mixed = tmp_path / "mixed"
    write_dicom_series(volume, mixed / "big")
    write_dicom_series(volume.with_data(volume.data[:, :, :3]), mixed / "small", series_description="localiser")
    with pytest.warns(UserWarning, match=r"mixed: holds 2 DICOM series .*12 slices"):
        back = read(mixed)
    assert back.shape == volume.shape


def test_repeated_slice_positions_are_an_input_error(tmp_path, t1_nifti):
    folder = write_dicom_series(read(t1_nifti), tmp_path / "echoes")
    first = files_of(folder)[0]
    ds = pydicom.dcmread(first)
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(folder / "echo2.dcm", enforce_file_format=True)
    with pytest.raises(InputError, match="share a position"):
        read(folder)


def test_3d_volume_to_single_dcm_file_is_refused(tmp_path, t1_nifti):
    with pytest.raises(OutputError, match="needs a DICOM series"):
        write(read(t1_nifti), tmp_path / "volume.dcm")
    assert list(tmp_path.iterdir()) == [tmp_path / "mni_t1_block.nii.gz"]


def test_quantise_error_is_within_one_step():
    rng = np.random.default_rng(0)
    for data in [rng.normal(0, 1e-3, (8, 8, 3)), rng.uniform(-5e4, 9e5, (8, 8, 3)), np.full((4, 4, 2), 2.5)]:
        pixels, slope, intercept = quantise(data)
        assert pixels.dtype == np.uint16
        assert np.abs(pixels * slope + intercept - data).max() <= slope
    pixels, slope, intercept = quantise(np.array([[-1000.0, 0.0], [5.0, 3000.0]]))
    assert pixels.dtype == np.int16 and (slope, intercept) == (1.0, 0.0)


def test_window_level_maps_the_window_onto_8_bits():
    data = np.array([-100.0, 0.0, 50.0, 100.0, 400.0])
    display = window_level(data, center=50.0, width=100.0)
    assert display.dtype == np.uint8
    assert display.tolist() == [0, 0, 128, 255, 255]
    with pytest.raises(ValueError):
        window_level(data, 0.0, 0.0)


def test_deidentification_keywords_are_real_dicom_keywords():
    from pydicom.datadict import tag_for_keyword

    for keyword in (*BLANKED_KEYWORDS, *REMOVED_KEYWORDS, *STALE_PIXEL_KEYWORDS):
        assert tag_for_keyword(keyword) is not None, keyword


def test_reading_a_series_emits_no_warning(tmp_path, t1_nifti):
    folder = write_dicom_series(read(t1_nifti), tmp_path / "clean")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read(folder)


def test_dicom_series_to_nifti_keeps_geometry(tmp_path, source_series):
    import nibabel as nib

    volume = read(source_series)
    path = write(volume, tmp_path / "from_dicom.nii.gz")
    image = nib.load(path)
    assert int(image.header["sform_code"]) == 1  # scanner anatomical
    np.testing.assert_allclose(image.affine, volume.affine, atol=1e-4)
    np.testing.assert_array_equal(read(path).data, volume.data)


def test_resampled_dicom_volume_writes_a_consistent_series(tmp_path, source_series):
    volume = read(source_series)
    finer = volume.with_data(np.repeat(volume.data, 2, axis=2), zoom=(1.0, 1.0, 2.0))
    back = read(write(finer, f"{tmp_path}/finer/"))
    assert back.shape == (40, 48, 24)
    np.testing.assert_allclose(back.affine, finer.affine, atol=1e-3)
    np.testing.assert_array_equal(back.data, finer.data)
    assert float(back.header[0].SliceThickness) == pytest.approx(0.5)


def test_a_missing_slice_is_reported(tmp_path, t1_nifti):
    folder = write_dicom_series(read(t1_nifti), tmp_path / "gappy")
    files_of(folder)[5].unlink()
    with pytest.warns(UserWarning, match=r"gappy: slice gaps vary from 1\.000 to 2\.000 mm"):
        volume = read(folder)
    assert volume.shape == (40, 48, 11)


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy not installed (Debian package dicom3tools)")
def test_written_objects_pass_the_dicom3tools_validator(tmp_path, t1_nifti, real_dicom):
    import subprocess

    volume = read(t1_nifti)
    written = [
        files_of(write_dicom_series(volume, tmp_path / "whole"))[0],
        files_of(write_dicom_series(volume.with_data(volume.data * 0.3), tmp_path / "scaled"))[0],
        write(read(real_dicom), tmp_path / "derived.dcm"),
    ]
    for path in written:
        report = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True).stderr
        errors = [line for line in report.splitlines() if line.startswith("Error")]
        assert not errors, f"{path.name}: {errors}"
