"""The running server without a browser: concurrent restores, the upload cap, paths outside its folder, the CLI."""

from __future__ import annotations

import re
import signal
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from ui_helpers import E2E_REQUEST, free_port, mrigan_command, require


def api_arguments(upload: Path | None, seed: int = 0, **changes) -> dict:
    """The /restore endpoint's arguments for the end-to-end request (with `changes`)."""
    from gradio_client import handle_file

    arguments = dict(files=[handle_file(str(upload))] if upload else None, sample="", target_file=None, axis=2,
                     index=0, whole=False, task=E2E_REQUEST["task"], method=E2E_REQUEST["method"],
                     degrade=E2E_REQUEST["degrade"], noise=E2E_REQUEST["noise_percent"], hole=0, factor=1,
                     seed=seed, uncertainty=False, editor=None, level=0.5, width=1.0)
    return {**arguments, **changes}


def test_ten_concurrent_restores_all_complete_with_correct_outputs(server, brain_slice, direct, tmp_path,
                                                                    monkeypatch):
    require("gradio_client", "the Python client of a Gradio server")
    from gradio_client import Client
    from PIL import Image

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the client's own scratch folders
    client = Client(server.url, verbose=False, download_files=str(tmp_path / "downloads"))
    jobs = [client.submit(**api_arguments(brain_slice, seed), api_name="/restore") for seed in range(10)]
    results = [job.result(timeout=180) for job in jobs]

    shown = []
    for seed, result in enumerate(results):
        details, enhanced, pack = result[8], Path(result[9]), Path(result[10])
        expected = direct(seed)
        assert details["metrics"]["psnr"] == pytest.approx(expected.metrics["psnr"], abs=1e-4)
        pixels = np.asarray(Image.open(enhanced), dtype=np.float64)
        np.testing.assert_allclose(pixels, np.clip(np.rint(expected.output * expected.scale), 0, 255), atol=1)
        assert pack.name == "mrigan-export.zip"
        shown.append(round(details["metrics"]["input_psnr"], 6))
    assert len(set(shown)) == 10  # each answer belongs to its own request (its seed's noise)


def test_a_sample_volume_slice_through_the_api(server, tmp_path, monkeypatch):
    require("gradio_client", "the Python client of a Gradio server")
    from gradio_client import Client
    from PIL import Image

    from mrigan.data.samples import load_sample

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    client = Client(server.url, verbose=False, download_files=str(tmp_path / "downloads"))
    result = client.predict(**api_arguments(None, sample="mni152", axis=1, index=100), api_name="/restore")
    shape = load_sample("mni152").t1.shape
    assert Image.open(result[1]).size == (shape[0], shape[2])  # the coronal plane, x across, z up
    assert nib_shape(result[9]) == (shape[0], 1, shape[2])  # the enhanced slice as a one-slice NIfTI


def test_sr_and_translation_models_through_the_api(server, brain_slice, shipped_methods, tmp_path, monkeypatch):
    require("gradio_client", "the Python client of a Gradio server")
    from gradio_client import Client
    from PIL import Image

    from mrigan.ui import pipeline

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    client = Client(server.url, verbose=False, download_files=str(tmp_path / "downloads"))
    sr = {"task": "sr", "method": "model:sr-rrdb-x2", "factor": 2, "noise": 0}
    details = client.predict(**api_arguments(brain_slice, **sr), api_name="/restore")[8]
    (scan,) = pipeline.read_uploads([brain_slice], max_bytes=2**20, folder=tmp_path / "series")
    expected = pipeline.restore(scan, pipeline.Request(task="sr", method="model:sr-rrdb-x2", factor=2, degrade=True),
                                shipped_methods)
    assert details["method"]["name"] == "sr-rrdb-x2" and details["method"]["scale"] == 2
    assert details["metrics"]["psnr"] == pytest.approx(expected.metrics["psnr"], abs=0.01)
    with pytest.raises(Exception, match="upscales by 2 only"):
        client.predict(**api_arguments(brain_slice, **{**sr, "factor": 3}), api_name="/restore")

    translated = client.predict(**api_arguments(brain_slice, task="translate", method="model:pix2pix-7t-9t4",
                                                degrade=False), api_name="/restore")
    assert translated[8]["method"]["translation"] == "T2*w GRE 7T, 2x voxels -> T2*w GRE 9.4T"
    assert Image.open(translated[9]).size == Image.open(brain_slice).size  # the input's grid


def nib_shape(path: str) -> tuple[int, ...]:
    import nibabel as nib

    return nib.load(path).shape


def test_upload_cap_and_paths_outside_the_workspace_are_refused(server, brain_slice):
    import httpx

    api = server.url.rstrip("/") + "/gradio_api"
    too_big = httpx.post(f"{api}/upload", files={"files": ("big.png", bytes(2 * 2**20))}, timeout=30)
    assert too_big.status_code == 413
    uploaded = httpx.post(f"{api}/upload", files={"files": (brain_slice.name, brain_slice.read_bytes())}, timeout=30)
    assert all(Path(path).resolve().is_relative_to(server.workspace.root) for path in uploaded.json())

    outside = {"path": "/etc/hostname", "meta": {"_type": "gradio.FileData"}}
    data = [[outside], "", None, 2, 0, False, "denoise", "baseline:nlm", False, 5, 0, 1, 0, False, None, 0.5, 1.0]
    event = httpx.post(f"{api}/call/restore", json={"data": data}, timeout=30).json()["event_id"]
    answer = httpx.get(f"{api}/call/restore/{event}", timeout=60).text
    assert "event: error" in answer and Path("/etc/hostname").read_text().strip() not in answer


def test_cli_refuses_a_missing_model_in_one_line(run_mrigan, tmp_path):
    result = run_mrigan("ui", "--model", tmp_path / "missing.json")
    assert result.returncode == 2 and "input error" in result.stderr and "missing.json" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_serves_the_page_and_cleans_up_when_stopped(tiny_model, tmp_path):
    require("gradio", "the web UI's library")
    import httpx

    port = free_port()
    process = subprocess.Popen([*mrigan_command(), "ui", "--model", str(tiny_model), "--port", str(port)],
                               stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        line = ""
        while "serving on" not in line:
            line = process.stderr.readline()
            assert line or process.poll() is None, "mrigan ui exited before serving"
        workspace = Path(re.search(r"temporary files in (\S+);", line).group(1))
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=30)
        assert page.status_code == 200 and workspace.is_dir()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert not workspace.exists()
