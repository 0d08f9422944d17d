"""`mrigan enhance` and `mrigan models` through the real entry point.

The main paths run the console script in a subprocess; refusals run `mrigan.cli.main` in-process (the same
code the console script calls), which keeps this file fast.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest


@pytest.fixture(scope="module")
def model_card(tiny_restore_model) -> Path:
    """The tiny restoration model of tests/conftest.py."""
    return tiny_restore_model


def run_in_process(*args, capsys) -> tuple[int, str, str]:
    from mrigan.cli import main

    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_enhance_nifti_keeps_geometry_writes_sidecar_and_uncertainty(run_mrigan, mni_nifti, model_card, tmp_path):
    output = tmp_path / "out" / "restored.nii.gz"
    result = run_mrigan("enhance", mni_nifti, "-m", model_card, "-o", output, "--uncertainty", "mc-dropout",
                        "--samples", "3", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    source, restored = nib.load(mni_nifti), nib.load(output)
    assert restored.shape == source.shape and restored.get_data_dtype() == source.get_data_dtype()
    np.testing.assert_allclose(restored.affine, source.affine)
    assert np.isfinite(restored.get_fdata()).all() and not np.allclose(restored.get_fdata(), source.get_fdata())

    spread = nib.load(tmp_path / "out" / "restored_uncertainty.nii.gz")
    assert spread.shape == source.shape
    values = spread.get_fdata()
    assert np.isfinite(values).all() and values.min() >= 0 and values.max() > 0

    import mrigan

    record = json.loads((tmp_path / "out" / "restored.nii.gz.json").read_text())
    card = json.loads(model_card.read_text())
    assert record["command"] == "enhance" and record["mrigan_version"] == mrigan.__version__
    assert record["notice"] == mrigan.RESEARCH_NOTICE and record["created_utc"]
    assert record["model"]["name"] == "tiny-restore" and record["model"]["sha256"] == card["sha256"]
    assert record["model"]["config"]["conditioning"] == card["config"]["conditioning"]
    assert len(record["inputs"]["input"]["sha256"]) == 64
    options = record["options"]
    assert options["mode"] == options["mode_used"] == "denoise" and options["noise_sigma"] is None
    assert options["noise_sigma_source"] == "estimated" and options["noise_sigma_used"] >= 0
    assert options["uncertainty_method"] == "mc-dropout" and options["samples"] == 3 and options["device"] == "cpu"
    assert record["output"]["uncertainty"].endswith("restored_uncertainty.nii.gz")


def test_enhance_dicom_series_gives_a_derived_series_on_the_same_grid(run_mrigan, mni_block, model_card, tmp_path):
    from mrigan import io

    data, affine = mni_block
    series = io.write_dicom_series(io.Volume(data=data, affine=affine, source_format="nifti"), tmp_path / "series")
    output = tmp_path / "restored_series"
    result = run_mrigan("enhance", series, "-m", model_card, "-o", output, "--uncertainty", "tta", "--samples", "2")
    assert result.returncode == 0, result.stderr
    source, restored = io.read(series), io.read(output)
    assert output.is_dir() and restored.source_format == "dicom" and restored.shape == source.shape
    np.testing.assert_allclose(restored.affine, source.affine, atol=1e-4)
    assert (tmp_path / "restored_series.json").is_file()
    assert nib.load(tmp_path / "restored_series_uncertainty.nii.gz").shape == source.shape
    record = json.loads((tmp_path / "restored_series.json").read_text())
    assert record["options"]["uncertainty_method"] == "tta"


def test_enhance_folder_batch_reports_the_bad_file_and_writes_the_others(
    run_mrigan, mni_block, mni_nifti, model_card, tmp_path
):
    from PIL import Image

    data, _ = mni_block
    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "scan.nii.gz").write_bytes(mni_nifti.read_bytes())
    Image.fromarray(np.clip(data[..., 4], 0, 255).astype(np.uint8)).save(batch / "slice.png")
    (batch / "broken.nii.gz").write_bytes(b"not a nifti at all" * 40)
    output = tmp_path / "restored"
    result = run_mrigan("enhance", batch, "-m", model_card, "-o", output, "--mode", "inpaint")
    assert result.returncode == 2
    assert "broken.nii.gz" in result.stderr and "Traceback" not in result.stderr
    assert "1 of 3 inputs failed" in result.stderr
    assert nib.load(output / "scan.nii.gz").shape == data.shape and (output / "scan.nii.gz.json").is_file()
    png = np.asarray(Image.open(output / "slice.png"))
    assert png.dtype == np.uint8 and png.shape == data[..., 4].shape
    assert (output / "slice.png.json").is_file() and not (output / "broken.nii.gz").exists()


def test_tampered_weights_are_refused(run_mrigan, mni_nifti, model_card, tmp_path):
    import shutil

    copy = tmp_path / "model"
    copy.mkdir()
    for path in (model_card, model_card.with_suffix(".safetensors")):
        shutil.copy(path, copy / path.name)
    weights = copy / model_card.with_suffix(".safetensors").name
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0xFF
    weights.write_bytes(bytes(raw))
    output = tmp_path / "out.nii.gz"
    result = run_mrigan("enhance", mni_nifti, "-m", copy / model_card.name, "-o", output)
    assert result.returncode == 2 and "sha256" in result.stderr and "Traceback" not in result.stderr
    assert not output.exists() and not Path(f"{output}.json").exists()


def test_inpaint_keeps_known_pixels_exactly(mni_nifti, model_card, tmp_path, capsys):
    source = nib.load(mni_nifti)
    mask = np.ones(source.shape, np.uint8)
    mask[20:30, 24:40, :] = 0
    mask_path = tmp_path / "mask.nii.gz"
    nib.save(nib.Nifti1Image(mask, source.affine), mask_path)
    output = tmp_path / "inpainted.nii.gz"
    code, out, err = run_in_process("enhance", mni_nifti, "-m", model_card, "-o", output, "--mode", "inpaint",
                                    "--mask", mask_path, capsys=capsys)
    assert code == 0, err
    before, after = source.get_fdata(), nib.load(output).get_fdata()
    np.testing.assert_array_equal(after[mask == 1], before[mask == 1])
    assert not np.allclose(after[mask == 0], before[mask == 0])
    record = json.loads(Path(f"{output}.json").read_text())
    assert record["inputs"]["mask"]["sha256"] and record["options"]["mask"] == str(mask_path)
    assert record["options"]["noise_sigma_used"] == 0.0


def test_pickle_model_is_refused_without_unpickling(mni_nifti, tmp_path, capsys):
    marker = tmp_path / "unpickled"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    model = tmp_path / "model.pt"
    model.write_bytes(pickle.dumps(Payload()))
    output = tmp_path / "out.nii.gz"
    code, out, err = run_in_process("enhance", mni_nifti, "-m", model, "-o", output, capsys=capsys)
    assert code == 2 and "never unpickles" in err
    assert not marker.exists() and not output.exists()


@pytest.mark.parametrize(
    ("mask_shape", "values", "message"),
    [((64, 32, 8), (0, 1), "mask shape (64, 32, 8) does not match the input (64, 64, 8)"),
     ((64, 64, 8), (0, 0.5, 1), "not binary")],
)
def test_bad_masks_are_refused(mni_nifti, model_card, tmp_path, capsys, mask_shape, values, message):
    mask = np.resize(np.array(values, np.float32), mask_shape)
    mask_path = tmp_path / "mask.nii.gz"
    nib.save(nib.Nifti1Image(mask, np.eye(4)), mask_path)
    output = tmp_path / "out.nii.gz"
    code, out, err = run_in_process("enhance", mni_nifti, "-m", model_card, "-o", output, "--mask", mask_path,
                                    capsys=capsys)
    assert code == 2 and message in err and "mask.nii.gz" in err
    assert not output.exists()


def test_output_over_the_input_or_an_existing_file_is_refused(mni_nifti, model_card, tmp_path, capsys):
    before = mni_nifti.read_bytes()
    code, _, err = run_in_process("enhance", mni_nifti, "-m", model_card, "-o", mni_nifti, "--overwrite",
                                  capsys=capsys)
    assert code == 2 and "input" in err and mni_nifti.read_bytes() == before

    output = tmp_path / "out.nii.gz"
    output.write_bytes(b"keep me")
    code, _, err = run_in_process("enhance", mni_nifti, "-m", model_card, "-o", output, capsys=capsys)
    assert code == 2 and "already exists" in err and output.read_bytes() == b"keep me"
    code, _, err = run_in_process("enhance", mni_nifti, "-m", model_card, "-o", output, "--overwrite",
                                  capsys=capsys)
    assert code == 0, err
    assert nib.load(output).shape == nib.load(mni_nifti).shape


def test_unknown_model_name(mni_nifti, tmp_path, capsys):
    code, _, err = run_in_process("enhance", mni_nifti, "-m", "no-such-model", "-o", tmp_path / "o.nii.gz",
                                  capsys=capsys)
    assert code == 2 and "not a shipped model name" in err


def test_models_lists_the_catalog(run_mrigan):
    result = run_mrigan("models")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split()[:2] == ["name", "task"] and "held-out PSNR" in result.stdout
    result = run_mrigan("models", "--json")
    assert result.returncode == 0 and isinstance(json.loads(result.stdout), list)


def test_uncertainty_paths_and_batch_detection(mni_block, tmp_path):
    from mrigan import io
    from mrigan.commands import enhance_inputs, uncertainty_path

    nifti = io.Volume(data=np.zeros((4, 4, 2)), source_format="nifti")
    dicom = io.Volume(data=np.zeros((4, 4, 2)), source_format="dicom")
    assert uncertainty_path(Path("a/out.nii.gz"), nifti) == Path("a/out_uncertainty.nii.gz")
    assert uncertainty_path(Path("out.npy"), nifti) == Path("out_uncertainty.npy")
    assert uncertainty_path(Path("series_out"), dicom) == Path("series_out_uncertainty.nii.gz")
    assert uncertainty_path(Path("slice.png"), nifti) == Path("slice_uncertainty.tif")  # float32, not rounded

    data, affine = mni_block
    series = io.write_dicom_series(io.Volume(data=data[..., :2], affine=affine), tmp_path / "series")
    assert enhance_inputs(series) is None and enhance_inputs(tmp_path / "series" / "missing") is None
    (tmp_path / "notes.txt").write_text("not an image")
    items, skipped = enhance_inputs(tmp_path)
    assert items == [series] and skipped == [tmp_path / "notes.txt"]


@pytest.fixture(scope="module")
def sr_model_card(tmp_path_factory) -> Path:
    """An untrained 2x SR model (its fixed bicubic skip makes it bicubic), saved as a real card + safetensors."""
    from dataclasses import asdict

    import torch

    from mrigan.checkpoint import save_model
    from mrigan.tasks.super_resolve import SuperResolveTask
    from mrigan.training import load_run_config

    torch.manual_seed(0)
    config = load_run_config("configs/sr/cnn_mse.yaml", ["generator.kwargs={channels: [4], kernel_sizes: [3]}"])
    task = SuperResolveTask(config)
    card = task.model_card("generator")
    return save_model(task.generator, tmp_path_factory.mktemp("sr") / "sr2", name="tiny-sr2", task="super_resolve",
                      config=asdict(config), training=card.pop("training"), metrics={}, extra=card)


def test_enhance_with_an_sr_model_upscales_in_plane_and_halves_the_voxel_size(mni_nifti, sr_model_card, tmp_path,
                                                                             capsys):
    output = tmp_path / "sr.nii.gz"
    code, _, err = run_in_process("enhance", mni_nifti, "-m", sr_model_card, "-o", output, "--scale", "2",
                                  capsys=capsys)
    assert code == 0, err
    source, upscaled = nib.load(mni_nifti), nib.load(output)
    assert upscaled.shape == (2 * source.shape[0], 2 * source.shape[1], source.shape[2])
    np.testing.assert_allclose(upscaled.header.get_zooms(), np.array(source.header.get_zooms()) / [2, 2, 1])
    centre = lambda img: img.affine @ np.r_[(np.array(img.shape) - 1) / 2, 1]  # noqa: E731
    np.testing.assert_allclose(centre(upscaled), centre(source), atol=1e-4)  # same field of view
    data = upscaled.get_fdata()[::2, ::2]
    assert np.corrcoef(data.ravel(), source.get_fdata().ravel())[0, 1] > 0.95
    sidecar = json.loads(Path(f"{output}.json").read_text())
    assert sidecar["model"]["task"] == "super_resolve" and sidecar["options"]["scale"] == 2


def test_an_sr_model_keeps_a_zero_background_black(mni_block, sr_model_card):
    from mrigan.commands import load_enhancer
    from mrigan.io import Volume

    image = np.pad(mni_block[0][:, :, 2], 12)  # a skull-stripped-like slice on an exact-zero border
    result = load_enhancer(str(sr_model_card), device="cpu").restore(Volume(image))
    upscaled = result.volume.data
    assert upscaled.shape == (2 * image.shape[0], 2 * image.shape[1])
    assert np.all(upscaled[:20] == 0) and np.all(upscaled[:, -20:] == 0)  # not the brain's low percentile
    assert upscaled[::2, ::2][image > 0].mean() == pytest.approx(image[image > 0].mean(), rel=0.05)


@pytest.mark.parametrize("args, message", [
    (["--scale", "4"], "upscales by 2 only"),
    (["--uncertainty", "tta"], "uncertainty"),
    (["--mode", "inpaint"], "restoration models"),
])
def test_sr_model_refuses_what_it_cannot_do(mni_nifti, sr_model_card, tmp_path, capsys, args, message):
    output = tmp_path / "sr.nii.gz"
    code, _, err = run_in_process("enhance", mni_nifti, "-m", sr_model_card, "-o", output, *args, capsys=capsys)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not output.exists() and not Path(f"{output}.json").exists()


def test_restoration_model_refuses_a_scale(mni_nifti, model_card, tmp_path, capsys):
    code, _, err = run_in_process("enhance", mni_nifti, "-m", model_card, "-o", tmp_path / "o.nii.gz", "--scale", "2",
                                  capsys=capsys)
    assert code == 2 and "does not upscale" in err


def test_enhance_through_plane_gives_finer_slices(mni_nifti, sr_model_card, tmp_path, capsys):
    output = tmp_path / "thin.nii.gz"
    code, _, err = run_in_process("enhance", mni_nifti, "-m", sr_model_card, "-o", output, "--through-plane",
                                  capsys=capsys)
    assert code == 0, err
    source, finer = nib.load(mni_nifti), nib.load(output)
    assert finer.shape == (source.shape[0], source.shape[1], 2 * source.shape[2])
    np.testing.assert_allclose(finer.header.get_zooms(), np.array(source.header.get_zooms()) / [1, 1, 2])
    assert np.corrcoef(finer.get_fdata()[..., ::2].ravel(), source.get_fdata().ravel())[0, 1] > 0.95
    assert json.loads(Path(f"{output}.json").read_text())["options"]["axes"] == "through-plane"


def test_through_plane_refuses_a_2d_image_and_a_restoration_model(mni_nifti, sr_model_card, model_card, tmp_path,
                                                                 capsys):
    import imageio.v3 as iio

    png = tmp_path / "slice.png"
    iio.imwrite(png, (255 * nib.load(mni_nifti).get_fdata()[:, :, 0] / nib.load(mni_nifti).get_fdata().max())
                .astype(np.uint8))
    code, _, err = run_in_process("enhance", png, "-m", sr_model_card, "-o", tmp_path / "o.png", "--through-plane",
                                  capsys=capsys)
    assert code == 2 and "3D volume" in err and not (tmp_path / "o.png").exists()
    code, _, err = run_in_process("enhance", mni_nifti, "-m", model_card, "-o", tmp_path / "o.nii.gz",
                                  "--through-plane", capsys=capsys)
    assert code == 2 and "super-resolution" in err and not (tmp_path / "o.nii.gz").exists()
