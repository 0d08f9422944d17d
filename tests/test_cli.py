"""The CLI through the real entry point: help, degrade, simulate, and one clear line for every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest


COMMANDS = ["enhance", "degrade", "simulate", "train", "evaluate", "bench", "models", "export", "ui"]


def test_help_lists_every_command(run_mrigan):
    result = run_mrigan("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert f"  {command} " in result.stdout


def test_degrade_nifti_keeps_geometry_and_records_parameters(run_mrigan, mni_nifti, tmp_path):
    output = tmp_path / "noisy.nii.gz"
    result = run_mrigan("degrade", mni_nifti, "-o", output, "--noise", "rician:0.05", "--seed", "7")
    assert result.returncode == 0, result.stderr
    source, degraded = nib.load(mni_nifti), nib.load(output)
    assert degraded.shape == source.shape
    np.testing.assert_allclose(degraded.affine, source.affine)
    assert not np.allclose(degraded.get_fdata(), source.get_fdata())
    record = json.loads(Path(f"{output}.json").read_text())
    assert record["options"]["seed"] == 7
    assert record["degradation"][0]["op"].lower().startswith("rician")
    assert len(record["inputs"]["input"]["sha256"]) == 64

    again = tmp_path / "again.nii.gz"
    assert run_mrigan("degrade", mni_nifti, "-o", again, "--noise", "rician:0.05", "--seed", "7").returncode == 0
    np.testing.assert_array_equal(nib.load(again).get_fdata(), degraded.get_fdata())


def test_degrade_downsample_changes_voxel_size(run_mrigan, mni_nifti, tmp_path):
    output = tmp_path / "low.nii.gz"
    result = run_mrigan("degrade", mni_nifti, "-o", output, "--downsample", "2")
    assert result.returncode == 0, result.stderr
    source, low = nib.load(mni_nifti), nib.load(output)
    assert low.shape[:2] == (source.shape[0] // 2, source.shape[1] // 2) and low.shape[2] == source.shape[2]
    np.testing.assert_allclose(low.header.get_zooms()[:3], (2.0, 2.0, 1.0))
    # the field of view stays where it was: the first voxel's corner does not move
    corner = lambda img, z: img.affine[:3, :3] @ (-0.5 * np.ones(3)) + img.affine[:3, 3]  # noqa: E731
    np.testing.assert_allclose(corner(low, 2), corner(source, 1), atol=1e-4)


def test_degrade_hole_png(run_mrigan, mni_block, tmp_path):
    from PIL import Image

    data, _ = mni_block
    png = tmp_path / "slice.png"
    Image.fromarray(np.clip(data[..., 4], 0, 255).astype(np.uint8)).save(png)
    output = tmp_path / "holed.png"
    result = run_mrigan("degrade", png, "-o", output, "--hole", "square:16")
    assert result.returncode == 0, result.stderr
    holed = np.asarray(Image.open(output))
    assert holed.dtype == np.uint8 and holed.shape == data[..., 4].shape
    assert (holed == 0).sum() >= 16 * 16


def test_degrade_refuses_to_overwrite_input(run_mrigan, mni_nifti):
    before = mni_nifti.read_bytes()
    result = run_mrigan("degrade", mni_nifti, "-o", mni_nifti, "--noise", "gaussian:0.03", "--overwrite")
    assert result.returncode == 2
    assert "input" in result.stderr and str(mni_nifti.name) in result.stderr
    assert mni_nifti.read_bytes() == before
    assert not Path(f"{mni_nifti}.json").exists()


def test_degrade_refuses_existing_output_unless_asked(run_mrigan, mni_nifti, tmp_path):
    output = tmp_path / "out.nii.gz"
    output.write_bytes(b"keep me")
    result = run_mrigan("degrade", mni_nifti, "-o", output, "--noise", "gaussian:0.03")
    assert result.returncode == 2 and "already exists" in result.stderr
    assert output.read_bytes() == b"keep me"
    output.unlink()
    assert run_mrigan("degrade", mni_nifti, "-o", output, "--noise", "gaussian:0.03").returncode == 0


@pytest.mark.parametrize(
    "spec, option",
    [("rician", "--noise"), ("speckle:0.1", "--noise"), ("rician:-1", "--noise"), ("circle:3", "--hole")],
)
def test_bad_degradation_spec_is_a_usage_error(run_mrigan, mni_nifti, tmp_path, spec, option):
    output = tmp_path / "out.nii.gz"
    result = run_mrigan("degrade", mni_nifti, "-o", output, option, spec)
    assert result.returncode == 2
    assert result.stderr.startswith("mrigan: usage error:") and spec in result.stderr
    assert not output.exists()


def _bad_inputs(tmp_path: Path, mni_block) -> dict[str, Path]:
    """One file or folder per kind of bad input named in the foundation issue."""
    import pydicom
    from pydicom.dataset import FileMetaDataset

    data, affine = mni_block
    cases = {}
    cases["missing"] = tmp_path / "does_not_exist.nii.gz"
    cases["not an image"] = tmp_path / "notes.nii.gz"
    cases["not an image"].write_text("this is not a volume\n")
    full = tmp_path / "full.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), full)
    cases["truncated"] = tmp_path / "truncated.nii.gz"
    cases["truncated"].write_bytes(full.read_bytes()[: len(full.read_bytes()) // 2])
    cases["4d"] = tmp_path / "four_d.nii.gz"
    nib.save(nib.Nifti1Image(np.stack([data, data], axis=-1), affine), cases["4d"])
    cases["nan"] = tmp_path / "nan.nii.gz"
    with_nan = data.copy()
    with_nan[3, 3, 3] = np.nan
    with_nan[4, 4, 4] = np.inf
    nib.save(nib.Nifti1Image(with_nan, affine), cases["nan"])
    cases["empty dicom folder"] = tmp_path / "empty_series"
    cases["empty dicom folder"].mkdir()
    no_pixels = pydicom.Dataset()
    no_pixels.file_meta = FileMetaDataset()
    no_pixels.file_meta.MediaStorageSOPClassUID = pydicom.uid.MRImageStorage
    no_pixels.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    no_pixels.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    no_pixels.SOPClassUID = pydicom.uid.MRImageStorage
    no_pixels.SOPInstanceUID = no_pixels.file_meta.MediaStorageSOPInstanceUID
    no_pixels.Modality = "MR"
    cases["dicom without pixels"] = tmp_path / "no_pixels.dcm"
    no_pixels.save_as(cases["dicom without pixels"], enforce_file_format=True)
    cases["empty png"] = tmp_path / "empty.png"
    cases["empty png"].write_bytes(b"")
    return cases


@pytest.mark.parametrize(
    "case",
    ["missing", "not an image", "truncated", "4d", "nan", "empty dicom folder", "dicom without pixels", "empty png"],
)
def test_bad_input_gives_one_clear_line(run_mrigan, tmp_path, mni_block, case):
    bad = _bad_inputs(tmp_path, mni_block)[case]
    output = tmp_path / "out" / "result.nii.gz"
    result = run_mrigan("degrade", bad, "-o", output, "--noise", "rician:0.05")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mrigan: input error:") and bad.name in lines[0]
    assert "Traceback" not in result.stderr
    assert not output.exists() and not Path(f"{output}.json").exists()


def test_simulate_two_contrasts_share_the_grid(run_mrigan, tmp_path):
    t1 = tmp_path / "t1.nii.gz"
    t2 = tmp_path / "t2.nii.gz"
    for contrast, path in (("t1w", t1), ("t2w", t2)):
        result = run_mrigan("simulate", "--anatomy", "mni152", "--contrast", contrast, "--field", "3",
                            "--voxel", "3", "--seed", "1", "-o", path)
        assert result.returncode == 0, result.stderr
    a, b = nib.load(t1), nib.load(t2)
    assert a.shape == b.shape
    np.testing.assert_allclose(a.affine, b.affine)
    np.testing.assert_allclose(a.header.get_zooms(), (3.0, 3.0, 3.0), atol=1e-4)
    record = json.loads(Path(f"{t2}.json").read_text())
    assert record["options"]["contrast"] == "t2w" and record["options"]["field_t"] == 3.0
    assert not np.allclose(a.get_fdata(), b.get_fdata())


def test_simulate_takes_a_sequence_timing_and_records_it(run_mrigan, tmp_path):
    """Colin27's own T1w protocol (FLASH, 1.5 T, TR 18, TE 10, flip 30); a flip of 200 degrees is refused."""
    output = tmp_path / "flash.nii.gz"
    result = run_mrigan("simulate", "--anatomy", "mni152", "--sequence", "gre", "--field", "1.5", "--tr", "18",
                        "--te", "10", "--flip", "30", "--voxel", "3", "-o", output)
    assert result.returncode == 0, result.stderr
    record = json.loads(Path(f"{output}.json").read_text())
    assert (record["options"]["tr"], record["options"]["te"], record["options"]["flip_deg"]) == (18, 10, 30)
    assert record["simulation"]["tr_ms"] == 18 and record["simulation"]["flip_deg"] == 30
    bad = tmp_path / "bad.nii.gz"
    result = run_mrigan("simulate", "--sequence", "gre", "--flip", "200", "-o", bad)
    assert result.returncode == 2 and "--flip 200" in result.stderr and not bad.exists()


def test_simulate_from_a_tissue_folder(run_mrigan, tmp_path, mni_block):
    data, affine = mni_block
    folder = tmp_path / "tissues"
    folder.mkdir()
    brain = (data > 20).astype(np.float32)
    wm = brain * (data > 160)
    gm = brain * (data <= 160) * (data > 90)
    csf = brain - wm - gm
    for name, tissue in (("gm", gm), ("wm", wm), ("csf", csf)):
        nib.save(nib.Nifti1Image(tissue.astype(np.float32), affine), folder / f"{name}.nii.gz")
    output = tmp_path / "sim.nii.gz"
    result = run_mrigan("simulate", "--anatomy", folder, "--contrast", "t1w", "-o", output)
    assert result.returncode == 0, result.stderr
    simulated = nib.load(output)
    assert simulated.shape == data.shape
    values = simulated.get_fdata()
    assert values[wm > 0].mean() > values[gm > 0].mean()  # T1w: white matter brighter than grey


def test_simulate_folder_without_maps_is_an_input_error(run_mrigan, tmp_path):
    folder = tmp_path / "nothing"
    folder.mkdir()
    result = run_mrigan("simulate", "--anatomy", folder, "-o", tmp_path / "x.nii.gz")
    assert result.returncode == 2 and result.stderr.startswith("mrigan: input error:")
    assert "gm" in result.stderr


@pytest.mark.mricron
def test_bench_quick_prints_a_table(run_mrigan, tmp_path):
    result = run_mrigan("bench", "denoise", "--quick", "--methods", "noisy,nlm", "--slices", "2",
                        "--out", tmp_path / "bench")
    assert result.returncode == 0, result.stderr
    assert "| rician 5% | nlm |" in result.stdout
    assert (tmp_path / "bench" / "denoise.csv").exists()
    assert (tmp_path / "bench" / "denoise_rician_5.png").exists()


def test_bench_unknown_method_is_a_usage_error(run_mrigan, tmp_path):
    result = run_mrigan("bench", "denoise", "--quick", "--methods", "magic", "--out", tmp_path)
    assert result.returncode == 2
    assert "magic" in result.stderr
