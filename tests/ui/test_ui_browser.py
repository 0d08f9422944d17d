"""The page in headless Chromium: restore a real slice, read the scores, download the export pack; errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import pytest

import mrigan

UPLOAD = "#input-files input[type=file]"


def choose(page, dropdown: str, label: str) -> None:
    """Pick `label` in a Gradio dropdown."""
    page.click(f"{dropdown} input")
    page.click(f"[role=option][aria-label='{label}']")


def keep_screenshot(page, folder: Path, name: str) -> Path:
    """A full-page screenshot in `folder`, copied to $MRIGAN_ARTIFACTS when that is set (CI keeps it)."""
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    artifacts = os.environ.get("MRIGAN_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(artifacts) / name)
    return path


def test_restore_a_real_slice_and_download_the_export_pack(page, brain_slice, direct, tiny_model, tmp_path):
    assert mrigan.RESEARCH_NOTICE in page.inner_text("#notice")
    page.set_input_files(UPLOAD, str(brain_slice))
    page.wait_for_selector(f"#status:has-text('{brain_slice.name}')", timeout=30_000)
    choose(page, "#method", "tiny-restore (model)")
    page.check("#degrade input[type=checkbox]")
    page.click("#run")
    page.wait_for_selector("#compare:has-text(' dB')", timeout=60_000)

    compare = page.inner_text("#compare")
    shown_psnr = float(re.search(r"PSNR (\S+) dB", compare).group(1))
    expected = direct(0)
    assert shown_psnr == pytest.approx(expected.metrics["psnr"], abs=0.006)
    assert "clean input" in compare
    summary = page.inner_text("#summary")
    card = json.loads(Path(tiny_model).read_text())
    assert "Latency" in summary and "tiny-restore" in summary and card["sha256"] in summary
    screenshot = keep_screenshot(page, tmp_path, "ui-restore.png")
    assert screenshot.stat().st_size > 10_000

    with page.expect_download() as download:
        page.click("#download-pack")
    pack = tmp_path / download.value.suggested_filename
    download.value.save_as(pack)
    with zipfile.ZipFile(pack) as archive:
        names = {Path(name).name for name in archive.namelist()}
        record = json.loads(archive.read("mrigan-export/provenance.json"))
    assert names == {"input.png", "output.png", "target.png", "figure.png", "provenance.json", "NOTICE.txt"}
    assert record["method"]["sha256"] == card["sha256"] and record["notice"] == mrigan.RESEARCH_NOTICE
    assert record["metrics"]["psnr"] == pytest.approx(expected.metrics["psnr"], abs=1e-6)

    with page.expect_download() as download:
        page.click("#download-enhanced")
    assert download.value.suggested_filename == "enhanced.png"

    before = page.get_attribute("#output-image img", "src")
    width = page.locator("#window-width input[type=range]").bounding_box()
    page.mouse.click(width["x"] + 0.15 * width["width"], width["y"] + width["height"] / 2)  # a narrower window
    page.wait_for_function(f"document.querySelector('#output-image img').getAttribute('src') != {json.dumps(before)}")


def test_translate_and_super_resolve_offer_their_models_with_what_they_expect(page):
    page.get_by_label("Translate (contrast / field strength)").check()
    page.wait_for_selector("#method-note:has-text('T2*w GRE 7T, 2x voxels -> T2*w GRE 9.4T')", timeout=30_000)
    assert page.input_value("#method input") == "pix2pix-7t-9t4 (model: T2*w GRE 7T, 2x voxels -> T2*w GRE 9.4T)"

    page.get_by_label("Super-resolve").check()
    page.wait_for_selector("#method-note:has-text('sr-rrdb-x2 (x2), sr-rrdb-x4 (x4)')", timeout=30_000)
    page.fill("#factor input[type=number]", "2")
    page.press("#factor input[type=number]", "Enter")
    choose(page, "#method", "sr-rrdb-x2 (model, x2)")  # listed once the factor is its scale
    page.wait_for_selector("#method-note:has-text('upscales by 2')", timeout=30_000)


def test_bad_uploads_show_a_visible_error_not_a_traceback(page, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(bytes(2 * 2**20))  # the test server's cap is 1 MB
    text = tmp_path / "notes.txt"
    text.write_text("a note, not an image")
    page.click("#run")  # nothing uploaded yet
    for upload, message in [(None, "no input"), (big, "exceed the maximum allowed size"), (text, "not an image")]:
        if upload is not None:
            page.set_input_files(UPLOAD, str(upload))
        toast = page.locator("[data-testid='toast-body']", has_text=message)
        toast.wait_for(timeout=30_000)
        assert toast.is_visible()
        assert "Traceback" not in page.content()
        for close in page.locator("[data-testid='toast-close']").all():
            close.click()
    keep_screenshot(page, tmp_path, "ui-error.png")
