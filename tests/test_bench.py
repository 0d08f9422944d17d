"""The bench: identical seeded degradations for every method, honest tables, files written."""

from __future__ import annotations

import csv

import numpy as np
import pytest



@pytest.mark.mricron
def test_denoise_bench_scores_methods_on_identical_input(tmp_path):
    from mrigan.bench.runner import run_suite

    result = run_suite("denoise", quick=True, methods=["noisy", "nlm"], n_slices=3, out_dir=tmp_path,
                       progress=False)
    by_method = {m: [r for r in result.records if r["method"] == m] for m in ("noisy", "nlm")}
    assert len(by_method["noisy"]) == len(by_method["nlm"]) == 3
    noisy = np.mean([r["psnr_fg"] for r in by_method["noisy"]])
    nlm = np.mean([r["psnr_fg"] for r in by_method["nlm"]])
    assert nlm > noisy + 3.0
    assert "| rician 5% | nlm |" in result.table
    rows = list(csv.DictReader(open(tmp_path / "denoise.csv")))
    assert len(rows) == 6 and {"psnr_fg", "ssim_fg", "seconds_per_slice"} <= set(rows[0])
    # same seed, same degradation: a second run gives the same numbers
    again = run_suite("denoise", quick=True, methods=["noisy"], n_slices=3, progress=False)
    assert [r["psnr"] for r in again.records] == [r["psnr"] for r in by_method["noisy"]]


@pytest.mark.mricron
def test_inpaint_bench_scores_inside_the_hole(tmp_path):
    from mrigan.bench.runner import run_suite

    result = run_suite("inpaint", quick=True, methods=["biharmonic"], n_slices=2, out_dir=tmp_path,
                       progress=False)
    assert all(np.isfinite(r["psnr_hole"]) for r in result.records)
    assert (tmp_path / "inpaint_hole_32px.png").stat().st_size > 1000


@pytest.mark.mricron
def test_sr_bench_includes_the_real_pair():
    from mrigan.bench.runner import run_suite

    result = run_suite("sr", quick=True, methods=["bicubic"], n_slices=4, progress=False)
    cases = {r["case"] for r in result.records}
    assert cases == {"x2", "real 1mm->0.5mm"}
    real = [r for r in result.records if r["case"] == "real 1mm->0.5mm"]
    assert len(real) == 4  # 2 slices at 1 mm become 4 at 0.5 mm
    assert np.mean([r["ssim_fg"] for r in real]) > 0.5


@pytest.mark.mricron
def test_real_pair_is_aligned():
    from mrigan.bench.heldout import real_sr_pair
    from mrigan.preprocess import resize

    target, brain, degraded = real_sr_pair(n_slices=4)
    assert target.shape == tuple(2 * n for n in degraded.image.shape)
    upsampled = resize(degraded.image, target.shape, order=1)
    # the two scans of one brain correlate strongly inside the brain once on one grid
    assert np.corrcoef(upsampled[brain], target[brain])[0, 1] > 0.85


@pytest.mark.mricron
def test_real_pair_offset_is_found_by_registration():
    from mrigan.bench.heldout import pair_translation

    offset = np.array(pair_translation().GetNthTransform(0).GetOffset())
    # the 0.5 mm template sits about half a millimetre from the 1 mm one in x and y, not in z
    assert np.all(np.abs(np.abs(offset[:2]) - 0.5) < 0.15) and abs(offset[2]) < 0.15
