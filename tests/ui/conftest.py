"""Fixtures of the web UI's tests: a tiny real model, a real brain slice, a running server, a headless browser.

Whatever is missing (gradio, Playwright, Debian's chromium) skips the tests that need it, with the reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from ui_helpers import CHROMIUM, E2E_REQUEST, free_port, require

MRICRON_T1 = Path("/usr/share/mricron/templates/ch2.nii.gz")
#: The shipped models the tests of SR and translation in the UI run.
SHIPPED_USED = ("sr-rrdb-x2", "sr-rrdb-x4", "pix2pix-7t-9t4")


@pytest.fixture(scope="session")
def tiny_model(tiny_restore_model) -> Path:
    """The tiny restoration model of tests/conftest.py."""
    return tiny_restore_model


@pytest.fixture(scope="session")
def brain_slice(tmp_path_factory) -> Path:
    """An axial slice of a real brain as an 8-bit PNG: held-out Colin27 when installed, else MNI152 (nilearn)."""
    import nibabel as nib
    from PIL import Image

    from mrigan.data.samples import missing_reason

    if MRICRON_T1.exists():
        path, name = MRICRON_T1, "colin27"
    else:
        reason = missing_reason("mni152")
        if reason:
            pytest.skip(f"no real brain to upload: Colin27 needs Debian's mricron-data, and {reason}")
        import nilearn.datasets

        path = Path(nilearn.datasets.__file__).parent / "data" / "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
        name = "mni152"
    volume = np.asarray(nib.load(path).dataobj, dtype=np.float32)
    plane = np.rot90(volume[:, :, volume.shape[2] // 2])
    pixels = np.clip(plane / np.percentile(plane, 99.9) * 255, 0, 255).round().astype(np.uint8)
    target = tmp_path_factory.mktemp("slice") / f"{name}_axial.png"
    Image.fromarray(pixels).save(target)
    return target


@pytest.fixture()
def slice_scan(brain_slice):
    """The brain slice PNG as the UI reads an upload."""
    from mrigan.ui import pipeline

    (scan,) = pipeline.read_uploads([brain_slice], max_bytes=2**20, folder=brain_slice.parent / "series")
    return scan


@pytest.fixture()
def nifti_scan(mni_nifti):
    """The real MNI152 block (64 x 64 x 8) as the UI reads an uploaded NIfTI."""
    from mrigan.ui import pipeline

    (scan,) = pipeline.read_uploads([mni_nifti], max_bytes=2**24, folder=mni_nifti.parent / "series")
    return scan


@pytest.fixture(scope="session")
def shipped_methods():
    """The shipped models (sr-rrdb-x2 / x4, pix2pix-7t-9t4, umr-gan-small) and the baselines, on the CPU."""
    from mrigan.models_catalog import list_models
    from mrigan.ui.methods import Methods

    missing = [record["name"] for record in list_models()
               if record["name"] in SHIPPED_USED and not record.get("present")]
    if missing:
        pytest.skip(f"shipped models missing: {', '.join(missing)} (`mrigan models` says which file; "
                    "MRIGAN_MODELS_DIR may point elsewhere)")
    return Methods((), device="cpu")


@pytest.fixture(scope="session")
def methods(tiny_model):
    """The tiny model and the baselines, as the server offers them (without the shipped models)."""
    from mrigan.ui.methods import Methods

    return Methods([str(tiny_model)], device="cpu", shipped=False)


@pytest.fixture(scope="session")
def direct(methods, brain_slice):
    """`direct(seed)`: the end-to-end request restored in-process, to check what the server answers."""
    from mrigan.ui import pipeline

    (scan,) = pipeline.read_uploads([brain_slice], max_bytes=2**20, folder=brain_slice.parent / "series")

    def restore(seed: int = 0) -> pipeline.Outcome:
        return pipeline.restore(scan, pipeline.Request(**E2E_REQUEST, seed=seed), methods)

    return restore


@dataclass
class Server:
    """A running UI: its URL, the Gradio app and the settings it was started with."""

    url: str
    app: object
    settings: object

    @property
    def workspace(self):
        return self.app.mrigan_workspace


@pytest.fixture(scope="session")
def server(tmp_path_factory, tiny_model) -> Server:
    """`mrigan ui --model tiny --max-upload-mb 1` on a free localhost port, in this process."""
    require("gradio", "the web UI's library")
    from mrigan.ui import UISettings, serve

    previous = os.environ.get("GRADIO_TEMP_DIR")
    settings = UISettings(models=[str(tiny_model)], max_upload_mb=1, concurrency=2,
                          temp_parent=tmp_path_factory.mktemp("ui"))
    app, url = serve(settings, port=free_port(), block=False, quiet=True)
    yield Server(url, app, settings)
    app.close()
    app.mrigan_workspace.close()
    if previous is None:
        os.environ.pop("GRADIO_TEMP_DIR", None)
    else:
        os.environ["GRADIO_TEMP_DIR"] = previous


@pytest.fixture(scope="session")
def browser():
    """Headless Debian chromium driven by Playwright (no browser download)."""
    require("playwright", "it drives the browser")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install the Debian package chromium (`make setup` does, as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, server):
    """A fresh page on the UI, loaded."""
    context = browser.new_context(viewport={"width": 1400, "height": 1800}, accept_downloads=True)
    page = context.new_page()
    page.goto(server.url)
    page.wait_for_selector("#run", timeout=30_000)
    yield page
    context.close()
