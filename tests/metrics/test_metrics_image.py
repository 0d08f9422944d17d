from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import normalized_root_mse, peak_signal_noise_ratio, structural_similarity

from mrigan.metrics import mae, ms_ssim, mse, nrmse, psnr, score, ssim

WANG = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}


def test_psnr_matches_skimage(mni_slice, noisy_slice):
    expected = peak_signal_noise_ratio(mni_slice, noisy_slice, data_range=1.0)
    assert psnr(noisy_slice, mni_slice, data_range=1.0) == pytest.approx(expected, abs=1e-6)
    assert psnr(noisy_slice, mni_slice, data_range=2.0) == pytest.approx(expected + 20 * math.log10(2), abs=1e-6)


def test_psnr_of_identical_images_is_inf(mni_slice):
    assert psnr(mni_slice, mni_slice.copy(), data_range=1.0) == math.inf


def test_masked_psnr_is_psnr_of_the_masked_voxels(mni_slice, noisy_slice):
    brain = mni_slice > 0.1
    by_hand = 10 * math.log10(1.0 / np.mean((noisy_slice[brain] - mni_slice[brain]) ** 2))
    assert psnr(noisy_slice, mni_slice, data_range=1.0, mask=brain) == pytest.approx(by_hand, abs=1e-9)
    assert psnr(noisy_slice, mni_slice, data_range=1.0, mask=brain.astype(np.uint8)) == pytest.approx(by_hand)


def test_mse_and_mae(mni_slice, noisy_slice):
    difference = noisy_slice - mni_slice
    assert mse(noisy_slice, mni_slice) == pytest.approx(np.mean(difference**2))
    assert mae(noisy_slice, mni_slice) == pytest.approx(np.mean(np.abs(difference)))
    brain = mni_slice > 0.1
    assert mae(noisy_slice, mni_slice, mask=brain) == pytest.approx(np.mean(np.abs(difference[brain])))


@pytest.mark.parametrize("normalization", ["euclidean", "min-max", "mean"])
def test_nrmse_matches_skimage(mni_slice, noisy_slice, normalization):
    expected = normalized_root_mse(mni_slice, noisy_slice, normalization=normalization)
    assert nrmse(noisy_slice, mni_slice, normalization=normalization) == pytest.approx(expected, abs=1e-6)


def test_masked_nrmse_normalises_by_the_masked_target(mni_slice, noisy_slice):
    brain = mni_slice > 0.1
    expected = normalized_root_mse(mni_slice[brain], noisy_slice[brain])
    assert nrmse(noisy_slice, mni_slice, mask=brain) == pytest.approx(expected)


def test_ssim_matches_skimage_with_wang_settings(mni_slice, noisy_slice):
    expected = structural_similarity(mni_slice, noisy_slice, data_range=1.0, **WANG)
    assert ssim(noisy_slice, mni_slice, data_range=1.0) == pytest.approx(expected, abs=1e-4)
    uniform = structural_similarity(mni_slice, noisy_slice, data_range=1.0)
    assert ssim(noisy_slice, mni_slice, data_range=1.0, gaussian=False) == pytest.approx(uniform, abs=1e-4)


def test_ssim_of_identical_images_is_one(mni_slice):
    assert ssim(mni_slice, mni_slice, data_range=1.0) == pytest.approx(1.0, abs=1e-12)
    assert ssim(mni_slice, mni_slice, data_range=1.0, mask=mni_slice > 0.1) == pytest.approx(1.0, abs=1e-12)


def test_masked_ssim_is_the_mean_of_the_map_inside_the_mask(mni_slice, noisy_slice):
    _, full_map = structural_similarity(mni_slice, noisy_slice, data_range=1.0, full=True, **WANG)
    brain = mni_slice > 0.1  # the brain lies well inside the 5-pixel border
    assert ssim(noisy_slice, mni_slice, data_range=1.0, mask=brain) == pytest.approx(full_map[brain].mean())
    everything = np.ones_like(brain)
    assert ssim(noisy_slice, mni_slice, data_range=1.0, mask=everything) == pytest.approx(
        ssim(noisy_slice, mni_slice, data_range=1.0)
    )


def test_ssim_3d_matches_skimage(mni_volume):
    clean = mni_volume[70:118, 90:138, 90:106]
    noisy = clean + np.random.default_rng(1).normal(0, 0.05, clean.shape)
    expected = structural_similarity(clean, noisy, data_range=1.0, **WANG)
    assert ssim(noisy, clean, data_range=1.0) == pytest.approx(expected, abs=1e-4)
    assert ssim(clean, clean, data_range=1.0) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("metric", [psnr, ssim, ms_ssim])
def test_data_range_is_required(metric, mni_slice):
    with pytest.raises(TypeError):
        metric(mni_slice, mni_slice)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan])
def test_data_range_must_be_positive(bad, mni_slice):
    with pytest.raises(ValueError, match="data_range"):
        psnr(mni_slice, mni_slice, data_range=bad)


def test_masks_are_checked(mni_slice, noisy_slice):
    with pytest.raises(ValueError, match="empty"):
        psnr(noisy_slice, mni_slice, data_range=1.0, mask=np.zeros(mni_slice.shape, bool))
    with pytest.raises(ValueError, match="shape"):
        ssim(noisy_slice, mni_slice, data_range=1.0, mask=np.ones((5, 5), bool))
    with pytest.raises(ValueError, match="0 and 1"):
        mae(noisy_slice, mni_slice, mask=np.full(mni_slice.shape, 0.5))
    with pytest.raises(ValueError, match="shape"):
        mse(noisy_slice[:-1], mni_slice)


def test_ms_ssim_is_one_for_identical_images_and_falls_with_noise(mni_slice):
    rng = np.random.default_rng(2)
    assert ms_ssim(mni_slice, mni_slice, data_range=1.0) == pytest.approx(1.0, abs=1e-9)
    values = [
        ms_ssim(np.clip(mni_slice + rng.normal(0, level, mni_slice.shape), 0, 1), mni_slice, data_range=1.0)
        for level in (0.02, 0.05, 0.1)
    ]
    assert 1.0 > values[0] > values[1] > values[2] > 0.0


def test_ms_ssim_rejects_images_too_small_for_five_scales(mni_slice):
    with pytest.raises(ValueError, match="160"):
        ms_ssim(mni_slice[:128, :128], mni_slice[:128, :128], data_range=1.0)


def test_score_names_every_metric_per_mask(mni_slice, noisy_slice):
    brain = mni_slice > 0.1
    known = np.ones(mni_slice.shape)
    known[80:112, 100:132] = 0
    scores = score(noisy_slice, mni_slice, data_range=1.0, masks={"": None, "fg": brain, "hole": 1 - known})
    assert set(scores) == {f"{m}{s}" for m in ("psnr", "ssim", "nrmse", "mae") for s in ("", "_fg", "_hole")}
    assert scores["psnr"] == pytest.approx(psnr(noisy_slice, mni_slice, data_range=1.0))
    assert scores["ssim_fg"] == pytest.approx(ssim(noisy_slice, mni_slice, data_range=1.0, mask=brain))
    assert scores["psnr_hole"] == pytest.approx(
        psnr(noisy_slice, mni_slice, data_range=1.0, mask=known == 0)
    )
    assert scores["mae_hole"] == pytest.approx(mae(noisy_slice, mni_slice, mask=known == 0))
