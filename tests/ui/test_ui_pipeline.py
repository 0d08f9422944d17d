"""The UI's logic without a browser or gradio: reading uploads, regions, degradation, methods, scores, exports."""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from mrigan.errors import InputError, UsageError
from mrigan.io import Volume
from mrigan.ui import pipeline
from mrigan.ui.pipeline import Request


def test_methods_per_task_models_first_then_available_baselines(methods):
    denoise = [key for _, key in methods.choices("denoise")]
    assert denoise[0] == "model:tiny-restore" and "baseline:nlm" in denoise and "baseline:noisy" not in denoise
    assert "model:tiny-restore" in [key for _, key in methods.choices("inpaint")]
    sr = [key for _, key in methods.choices("sr")]
    assert {"baseline:nearest", "baseline:bicubic", "baseline:lanczos"} <= set(sr)
    assert not any(key.startswith("model:") for key in sr)  # a restoration model does not super-resolve
    with pytest.raises(UsageError, match="does not do the task"):
        methods.run("baseline:bicubic", "denoise", None)


def test_denoise_with_added_noise_is_scored_against_the_clean_input(slice_scan, methods):
    from mrigan.metrics import psnr

    request = Request(task="denoise", method="baseline:nlm", degrade=True, noise_percent=5, seed=3)
    outcome = pipeline.restore(slice_scan, request, methods)
    clean = slice_scan.volume.data / slice_scan.volume.data.max()
    np.testing.assert_allclose(outcome.target, clean, atol=1e-6)
    assert outcome.metrics["psnr"] == pytest.approx(psnr(outcome.output, clean, data_range=1.0))
    assert outcome.metrics["psnr"] > outcome.metrics["input_psnr"] + 3  # NLM removes most of 5 % noise
    assert outcome.degraded.params[0]["op"].lower().startswith("rician") and "sigma" not in outcome.degraded.maps
    again = pipeline.restore(slice_scan, request, methods)
    np.testing.assert_array_equal(again.shown_input, outcome.shown_input)  # the seed fixes the noise


def test_without_degradation_or_target_there_are_no_metrics(slice_scan, methods):
    outcome = pipeline.restore(slice_scan, Request(method="model:tiny-restore"), methods)
    assert outcome.metrics == {} and outcome.target is None
    assert outcome.method["sha256"] and outcome.method["kind"] == "trained model"


def test_a_ground_truth_file_is_the_target(slice_scan, methods):
    outcome = pipeline.restore(slice_scan, Request(method="baseline:nlm"), methods, target=slice_scan)
    assert outcome.metrics["input_psnr"] == np.inf and np.isfinite(outcome.metrics["psnr"])
    wrong = pipeline.Scan(Volume(np.ones((5, 5), np.float32)), "small.png", Path("small.png"), "image")
    with pytest.raises(InputError, match="does not match"):
        pipeline.restore(slice_scan, Request(method="baseline:nlm"), methods, target=wrong)


def test_inpaint_fills_the_painted_pixels_and_keeps_the_others(slice_scan, methods):
    painted = np.zeros(slice_scan.volume.shape, bool)
    painted[60:90, 50:100] = True
    request = Request(task="inpaint", method="model:tiny-restore", drawn_mask=painted, uncertainty=True)
    outcome = pipeline.restore(slice_scan, request, methods)
    clean = outcome.clean
    assert np.all(outcome.shown_input[painted] == 0)
    np.testing.assert_array_equal(outcome.output[~painted], clean[~painted])
    assert outcome.uncertainty is not None and np.all(outcome.uncertainty[~painted] == 0)
    default = pipeline.restore(slice_scan, Request(task="inpaint", method="baseline:biharmonic"), methods)
    assert 0.03 < float((default.degraded.maps["mask"] == 0).mean()) < 0.1  # the centred square, 25 % a side


def test_a_slice_of_a_volume_keeps_its_place_in_the_world(nifti_scan):
    volume = nifti_scan.volume
    for axis in (0, 1, 2):
        region = pipeline.select_region(nifti_scan, axis=axis, index=3)
        slice_origin = np.zeros(4)
        slice_origin[[axis, 3]] = 3, 1
        np.testing.assert_allclose(region.template.affine @ [0, 0, 0, 1], volume.affine @ slice_origin)
        assert region.data.shape == tuple(n for i, n in enumerate(volume.shape) if i != axis)
    with pytest.raises(UsageError, match="outside the volume"):
        pipeline.select_region(nifti_scan, axis=2, index=volume.shape[2])


def test_whole_volume_and_sr_upscaling_write_nifti_with_the_right_geometry(nifti_scan, methods, tmp_path):
    from mrigan.ui.export import write_enhanced
    from mrigan.ui.render import Planes, panels

    whole = pipeline.restore(nifti_scan, Request(method="baseline:nlm", whole=True, index=2, axis=1), methods)
    shown = [image for image in vars(panels(Planes.of(whole), 0.5, 1.0)).values() if image is not None]
    assert all(image.flags.c_contiguous and image.shape[:2] == (8, 64) for image in shown)  # encodable as PNG
    written = nib.load(write_enhanced(whole, tmp_path, "whole"))
    np.testing.assert_allclose(written.affine, nifti_scan.volume.affine)
    assert written.shape == nifti_scan.volume.shape

    upscaled = pipeline.restore(nifti_scan, Request(task="sr", method="baseline:bicubic", factor=2), methods)
    written = nib.load(write_enhanced(upscaled, tmp_path, "sr"))
    assert written.shape == (128, 128, 1)  # axial slice 64 x 64, twice as many pixels a side
    np.testing.assert_allclose(written.header.get_zooms()[:3], (0.5, 0.5, 1.0))


def test_a_dicom_series_upload_is_one_scan_and_comes_back_as_a_derived_series(mni_block, methods, tmp_path):
    import pydicom

    from mrigan import io
    from mrigan.ui.export import write_downloads

    data, affine = mni_block
    series = Path(io.write(Volume(data, affine, "nifti"), f"{tmp_path / 'dicom'}/"))
    files = sorted(series.iterdir())
    scans = pipeline.read_uploads(files, max_bytes=2**24, folder=tmp_path / "gathered")
    assert len(scans) == 1 and scans[0].kind == "dicom-series" and scans[0].volume.shape == data.shape
    outcome = pipeline.restore(scans[0], Request(method="baseline:nlm", degrade=True, noise_percent=3), methods)
    enhanced, _ = write_downloads([outcome], tmp_path / "out", 0.5, 1.0)
    assert enhanced.name == "enhanced.zip"
    with zipfile.ZipFile(enhanced) as archive:
        (member,) = archive.namelist()  # one slice
        dataset = pydicom.dcmread(archive.open(member))
    assert "DERIVED" in dataset.ImageType and str(dataset.PatientName) == ""
    assert dataset.Rows * dataset.Columns == data.shape[0] * data.shape[1]


@pytest.mark.parametrize("suffix", [".jpg", ".tif"])
def test_jpeg_and_tiff_come_back_in_their_own_format(brain_slice, methods, tmp_path, suffix):
    from PIL import Image

    from mrigan import io
    from mrigan.ui.export import write_enhanced

    upload = tmp_path / f"slice{suffix}"
    Image.open(brain_slice).save(upload)
    (scan,) = pipeline.read_uploads([upload], max_bytes=2**20, folder=tmp_path / "s")
    outcome = pipeline.restore(scan, Request(method="baseline:nlm"), methods)
    written = write_enhanced(outcome, tmp_path)
    assert written.suffix == suffix and io.read(written).shape == scan.volume.shape


def test_uploads_too_large_or_not_images_are_input_errors(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(InputError, match="not an image"):
        pipeline.read_uploads([text], max_bytes=2**20, folder=tmp_path / "s")
    big = tmp_path / "big.png"
    big.write_bytes(bytes(3 * 2**19))
    with pytest.raises(InputError, match=r"upload of 1.5 MB exceeds the cap of 1 MB.*--max-upload-mb"):
        pipeline.read_uploads([big], max_bytes=2**20, folder=tmp_path / "s")
    with pytest.raises(InputError, match="no file given"):
        pipeline.read_uploads([], max_bytes=2**20, folder=tmp_path / "s")


def test_bad_choices_are_usage_errors(slice_scan, methods):
    for request, message in [(Request(task="sr", method="baseline:bicubic"), "factor of at least 2"),
                             (Request(noise_percent=99), "noise 99"), (Request(task="segment"), "unknown task"),
                             (Request(method="nlm"), "unknown method")]:
        with pytest.raises(UsageError, match=message):
            pipeline.restore(slice_scan, request, methods)


def test_export_pack_holds_the_evidence_and_the_notice(slice_scan, methods, tmp_path):
    import mrigan
    from mrigan.ui.export import write_downloads

    request = Request(method="model:tiny-restore", degrade=True, noise_percent=5, uncertainty=True)
    outcome = pipeline.restore(slice_scan, request, methods)
    enhanced, pack = write_downloads([outcome], tmp_path, 0.5, 1.0)
    assert enhanced.suffix == ".png"
    with zipfile.ZipFile(pack) as archive:
        names = {Path(name).name for name in archive.namelist()}
        record = json.loads(archive.read("mrigan-export/provenance.json"))
        notice = archive.read("mrigan-export/NOTICE.txt").decode()
    assert names == {"input.png", "output.png", "target.png", "uncertainty.tif", "figure.png", "provenance.json",
                     "NOTICE.txt"}
    assert mrigan.RESEARCH_NOTICE in notice and record["notice"] == mrigan.RESEARCH_NOTICE
    assert record["method"]["name"] == "tiny-restore" and len(record["method"]["sha256"]) == 64
    assert record["inputs"]["input"]["path"] == slice_scan.name  # no server folder in the record
    assert record["metrics"]["psnr"] == pytest.approx(outcome.metrics["psnr"])
    assert record["options"]["degradation_specs"]["noise"] == "rician:0.05"


def test_workspace_prunes_old_files_and_refuses_paths_outside_it(tmp_path):
    from mrigan.ui.workspace import UISettings, Workspace

    workspace = Workspace(tmp_path, keep_seconds=60)
    old, new = workspace.new_request(), workspace.new_request()
    (old / "result.png").write_bytes(b"x")
    assert workspace.prune(now=time.time() + 30) == []
    assert set(workspace.prune(now=time.time() + 120)) == {old, new}
    assert workspace.check_inside(workspace.uploads / "a.png").is_relative_to(workspace.root)
    with pytest.raises(InputError, match="not a file uploaded to this server"):
        workspace.check_inside(workspace.root / ".." / "elsewhere.png")
    workspace.close()
    assert not workspace.root.exists() and tmp_path.exists()
    with pytest.raises(UsageError, match="--max-upload-mb"):
        UISettings(max_upload_mb=0)


def test_display_helpers():
    from mrigan.ui.app import painted_mask
    from mrigan.ui.render import auto_window, difference_rgb, orient, overlay_rgb, unorient

    plane = np.arange(12, dtype=float).reshape(3, 4)
    for orientation in ("image", "dicom", "volume"):
        np.testing.assert_array_equal(unorient(orient(plane, orientation), orientation), plane)
    level, width = auto_window(np.r_[np.zeros(50), np.linspace(1, 3, 1001)])
    assert level == pytest.approx(2.0, abs=0.02) and width == pytest.approx(2.0, abs=0.05)
    rgb = difference_rgb(np.array([[1.0, -1.0, 0.0]]), np.zeros((1, 3)))
    assert rgb[0, 0, 0] > rgb[0, 0, 2] and rgb[0, 1, 2] > rgb[0, 1, 0] and np.all(rgb[0, 2] > 240)
    assert overlay_rgb(np.zeros((2, 2), np.uint8), np.ones((2, 2))).shape == (2, 2, 3)
    layer = np.zeros((4, 6, 4), np.uint8)
    layer[1, 2, 3] = 255
    assert painted_mask({"layers": [layer]}, (4, 6)).sum() == 1
    assert painted_mask({"layers": [layer]}, (8, 12)).sum() == 4  # resampled onto the plane
    assert painted_mask(None, (4, 6)) is None and painted_mask({"layers": [np.zeros((4, 6, 4))]}, (4, 6)) is None
