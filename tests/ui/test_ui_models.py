"""Super-resolution and translation models in the UI: listed per task (SR per factor), run as the bench runs them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from mrigan.errors import UsageError
from mrigan.io import Volume
from mrigan.ui import pipeline
from mrigan.ui.pipeline import Request

pytestmark = pytest.mark.usefixtures("seeded_single_thread_torch")

SR_X2 = Request(task="sr", method="model:sr-rrdb-x2", factor=2, degrade=True)
TRANSLATE = Request(task="translate", method="model:pix2pix-7t-9t4")


def keys(methods, task: str, factor: int | None = None) -> list[str]:
    return [key for _, key in methods.choices(task, factor)]


def test_sr_lists_the_models_of_the_factor_and_translate_names_the_domains(shipped_methods):
    assert keys(shipped_methods, "sr", 2)[0] == "model:sr-rrdb-x2"
    assert "model:sr-rrdb-x4" not in keys(shipped_methods, "sr", 2)
    assert not any(key.startswith("model:") for key in keys(shipped_methods, "sr", 3))  # no x3 model
    assert "model:sr-rrdb-x4" in keys(shipped_methods, "sr", 4)
    assert "baseline:bicubic" in keys(shipped_methods, "sr", 3)
    labels = {key: label for label, key in shipped_methods.choices("sr", 2)}
    assert labels["model:sr-rrdb-x2"] == "sr-rrdb-x2 (model, x2)"
    for task in ("denoise", "inpaint"):
        assert not {"model:sr-rrdb-x2", "model:pix2pix-7t-9t4"} & set(keys(shipped_methods, task))

    labels = {key: label for label, key in shipped_methods.choices("translate")}
    assert labels["model:pix2pix-7t-9t4"] == "pix2pix-7t-9t4 (model: T2*w GRE 7T, 2x voxels -> T2*w GRE 9.4T)"
    assert "baseline:histmatch" in labels and "baseline:identity" not in labels  # identity is the input row
    note = shipped_methods.note("translate", "model:pix2pix-7t-9t4")
    assert r"T2\*w GRE 7T, 2x voxels -> T2\*w GRE 9.4T" in note and "target" in note  # Markdown: * escaped
    assert "sr-rrdb-x2 (x2), sr-rrdb-x4 (x4)" in shipped_methods.note("sr", "baseline:bicubic")


def test_sr_model_runs_as_the_bench_onto_the_baselines_grid_and_beats_them(slice_scan, shipped_methods):
    from mrigan.bench.sr_models import SRModelMethod
    from mrigan.models_catalog import models_dir, resolve_model

    model = pipeline.restore(slice_scan, SR_X2, shipped_methods)
    rows = {name: pipeline.restore(slice_scan, replace(SR_X2, method=f"baseline:{name}"), shipped_methods)
            for name in ("nearest", "bicubic")}
    assert model.output.shape == rows["bicubic"].output.shape == slice_scan.volume.shape
    assert np.isfinite(model.output).all() and 0.0 <= model.output.min() and model.output.max() <= 1.0
    assert model.metrics["psnr"] > rows["bicubic"].metrics["psnr"] + 1 > rows["nearest"].metrics["psnr"] + 1
    bench = SRModelMethod(resolve_model("sr-rrdb-x2"), device="cpu")
    np.testing.assert_array_equal(model.output, bench(model.degraded))  # the bench's numbers are the UI's

    card = json.loads(resolve_model("sr-rrdb-x2").read_text())
    described = model.method
    assert described["name"] == "sr-rrdb-x2" and described["sha256"] == card["sha256"] == bench.card["sha256"]
    assert described["card"] == "sr_rrdb_x2.json" and described["scale"] == 2 and described["config"]
    assert described["held_out_metrics"]["sr_x2_psnr_fg"] == card["metrics"]["heldout"]["sr_x2_psnr_fg"]
    assert str(models_dir()) not in json.dumps(described, default=str)  # never the server's folders


def test_sr_model_upscales_an_uploaded_slice_with_the_right_geometry(nifti_scan, shipped_methods, tmp_path):
    from mrigan.metrics import psnr
    from mrigan.ui.export import write_enhanced

    request = Request(task="sr", method="model:sr-rrdb-x2", factor=2)  # the upload is the low-resolution scan
    upscaled = pipeline.restore(nifti_scan, request, shipped_methods)
    bicubic = pipeline.restore(nifti_scan, replace(request, method="baseline:bicubic"), shipped_methods)
    assert upscaled.output.shape == bicubic.output.shape == (128, 128) and upscaled.metrics == {}
    # same grid as bicubic: close to it (a one-pixel shift scores ~27 dB here)
    assert psnr(upscaled.output, bicubic.output, data_range=1.0) > 35
    written = nib.load(write_enhanced(upscaled, tmp_path, "sr"))
    assert written.shape == (128, 128, 1)
    np.testing.assert_allclose(written.header.get_zooms()[:3], (0.5, 0.5, 1.0))


def test_translate_keeps_the_grid_and_is_scored_against_a_target_in_its_own_units(nifti_scan, shipped_methods,
                                                                                  tmp_path):
    from mrigan.ui.export import write_result

    alone = pipeline.restore(nifti_scan, TRANSLATE, shipped_methods)
    assert alone.output.shape == alone.clean.shape == (64, 64) and np.isfinite(alone.output).all()
    assert alone.metrics == {} and alone.target is None and alone.degraded.params == []  # nothing added
    assert not np.allclose(alone.output, alone.clean, atol=0.01)
    described = alone.method
    assert described["name"] == "pix2pix-7t-9t4" and len(described["sha256"]) == 64
    assert described["card"] == "pix2pix_7t_9t4.json" and described["held_out_metrics"]["psnr"] == 23.071
    assert described["translation"] == described["run"]["translation"] == "T2*w GRE 7T, 2x voxels -> T2*w GRE 9.4T"
    assert described["source"]["field_t"] == 7.0 and described["target"]["field_t"] == 9.4

    # a target of another contrast (a monotonic remapping, on another scale) on the same grid
    data = nifti_scan.volume.data
    target = pipeline.Scan(Volume(7.0 * np.sqrt(data), nifti_scan.volume.affine), "target.nii.gz",
                           Path("target.nii.gz"), "nifti")
    scored = pipeline.restore(nifti_scan, TRANSLATE, shipped_methods, target=target)
    np.testing.assert_allclose(scored.target, np.sqrt(alone.clean), atol=1e-5)  # divided by its own maximum
    assert np.isfinite(scored.metrics["psnr"]) and scored.metrics["input_psnr"] < 20
    matched = pipeline.restore(nifti_scan, replace(TRANSLATE, method="baseline:histmatch"), shipped_methods,
                               target=target)
    assert matched.metrics["psnr"] > matched.metrics["input_psnr"] + 20  # a monotonic remapping is undone
    files = write_result(matched, tmp_path, 0.5, 1.0)
    written = np.asarray(nib.load(files["target"]).dataobj)[:, :, 0]
    np.testing.assert_allclose(written, target.volume.data[:, :, 4], rtol=1e-5, atol=1e-3)  # the target's units


def test_a_user_given_sr_card_loads_at_start_and_is_offered(shipped_methods):
    from mrigan.models_catalog import resolve_model
    from mrigan.ui.methods import Methods

    given = Methods([str(resolve_model("sr-rrdb-x4"))], device="cpu", shipped=False)
    assert keys(given, "sr", 4)[0] == "model:sr-rrdb-x4" and keys(given, "sr", 2)[0] == "baseline:nearest"
    assert given.describe("model:sr-rrdb-x4")["card"] == "sr_rrdb_x4.json"


def test_wrong_models_and_choices_are_usage_errors_that_say_what_to_do(slice_scan, shipped_methods):
    cases = [
        (replace(SR_X2, factor=4), r"sr-rrdb-x2 upscales by 2 only, and the resolution factor is 4: set the factor "
                                   r"to 2"),
        (replace(SR_X2, method="model:pix2pix-7t-9t4"), r"does not do the task 'sr' \(a 'translate' model"),
        (Request(task="denoise", method="model:sr-rrdb-x2"), r"does not do the task 'denoise'.*super_resolve"),
        (replace(TRANSLATE, degrade=True), "translation adds no degradation"),
        (replace(TRANSLATE, method="baseline:histmatch"), "upload a target"),
        (replace(TRANSLATE, method="baseline:bicubic"), "does not do the task 'translate'"),
        (replace(TRANSLATE, method="model:no-such-model"), "unknown model 'no-such-model'"),
    ]
    for request, message in cases:
        with pytest.raises(UsageError, match=message):
            pipeline.restore(slice_scan, request, shipped_methods)


def test_the_page_lists_sr_models_by_factor_and_says_what_a_model_expects(shipped_methods):
    from ui_helpers import require

    require("gradio", "the web UI's library")
    from mrigan.ui.app import Handlers

    handlers = Handlers(None, shipped_methods, None)
    update = handlers.method_choices("sr", 2.0, "baseline:lanczos")
    assert update["value"] == "baseline:lanczos" and ("sr-rrdb-x2 (model, x2)", "model:sr-rrdb-x2") in update["choices"]
    assert handlers.method_choices("sr", 4, "model:sr-rrdb-x2")["value"] == "model:sr-rrdb-x4"  # the new scale's
    assert handlers.method_choices("translate", 1, "model:sr-rrdb-x2")["value"] == "model:pix2pix-7t-9t4"
    assert "9.4T" in handlers.method_note("translate", "model:pix2pix-7t-9t4")
