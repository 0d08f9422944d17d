from __future__ import annotations

import math

import numpy as np
import pytest

from mrigan.metrics import bootstrap_ci, format_markdown_table, psnr, summarise


@pytest.fixture(scope="module")
def slice_psnrs(mni_volume) -> np.ndarray:
    """PSNR of 60 noisy axial MNI152 slices: a realistic per-slice score sample."""
    rng = np.random.default_rng(3)
    values = []
    for z in range(60, 120):
        clean = mni_volume[:, :, z]
        values.append(psnr(clean + rng.normal(0, rng.uniform(0.02, 0.08), clean.shape), clean, data_range=1.0))
    return np.array(values)


def test_bootstrap_ci_contains_the_mean_and_narrows_with_n(slice_psnrs):
    mean, low, high = bootstrap_ci(slice_psnrs)
    assert mean == pytest.approx(slice_psnrs.mean())
    assert low < mean < high
    small = bootstrap_ci(slice_psnrs[:8])
    assert (small[2] - small[1]) > (high - low)


def test_bootstrap_ci_is_reproducible_and_follows_the_confidence(slice_psnrs):
    assert bootstrap_ci(slice_psnrs, seed=5) == bootstrap_ci(slice_psnrs, seed=5)
    _, low_90, high_90 = bootstrap_ci(slice_psnrs, confidence=0.90)
    _, low_99, high_99 = bootstrap_ci(slice_psnrs, confidence=0.99)
    assert high_99 - low_99 > high_90 - low_90


def test_bootstrap_ci_takes_another_statistic(slice_psnrs):
    median, low, high = bootstrap_ci(slice_psnrs, statistic=np.median)
    assert median == pytest.approx(np.median(slice_psnrs))
    assert low <= median <= high


def test_bootstrap_ci_drops_or_caps_infinities():
    values = [30.0, 32.0, 31.0, math.inf]
    with pytest.warns(RuntimeWarning, match="dropped 1 of 4"):
        mean, _, _ = bootstrap_ci(values)
    assert mean == pytest.approx(31.0)
    mean, _, high = bootstrap_ci(values, cap=100.0)
    assert mean == pytest.approx((30 + 32 + 31 + 100) / 4)
    assert high <= 100.0


def test_bootstrap_ci_small_samples():
    mean, low, high = bootstrap_ci([31.5])
    assert mean == 31.5 and math.isnan(low) and math.isnan(high)
    assert bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    low, high = bootstrap_ci([1.0, 2.0])[1:]
    assert 1.0 <= low <= high <= 2.0
    with pytest.raises(ValueError, match="no finite"), pytest.warns(RuntimeWarning):
        bootstrap_ci([math.nan])


def test_summarise_groups_per_class_and_method():
    rng = np.random.default_rng(4)
    records = []
    for method, offset in (("nlm", 0.0), ("bm3d", 2.0)):
        for label, base in (("glioma", 30.0), ("meningioma", 33.0), ("no tumour", 36.0)):
            for _ in range(12):
                records.append({"method": method, "class": label, "psnr": base + offset + rng.normal(0, 0.5)})
    rows = summarise(records, ["method", "class"], ["psnr"], n_resamples=500)
    assert [(row["method"], row["class"]) for row in rows] == [
        (m, c) for m in ("nlm", "bm3d") for c in ("glioma", "meningioma", "no tumour")
    ]
    for row in rows:
        members = [r["psnr"] for r in records if r["method"] == row["method"] and r["class"] == row["class"]]
        assert row["n"] == 12
        assert row["psnr"] == pytest.approx(np.mean(members))
        assert row["psnr_low"] < row["psnr"] < row["psnr_high"]
    per_method = summarise(records, ["method"], ["psnr", "ssim"], n_resamples=500)
    assert [row["n"] for row in per_method] == [36, 36]
    assert per_method[1]["psnr"] - per_method[0]["psnr"] == pytest.approx(2.0, abs=0.5)
    assert math.isnan(per_method[0]["ssim"])
    assert summarise(records, [], ["psnr"], n_resamples=200)[0]["n"] == 72


def test_format_markdown_table():
    rows = [{"method": "bm3d", "psnr": 33.123, "psnr_low": 32.9, "psnr_high": 33.3, "n": 40}]
    table = format_markdown_table(rows, ["method", "psnr", "n"], digits=2)
    assert table.splitlines() == ["| method | psnr | n |", "|---|---|---|", "| bm3d | 33.12 [32.90, 33.30] | 40 |"]
    assert "[" not in format_markdown_table(rows, ["psnr"], with_ci=False)
