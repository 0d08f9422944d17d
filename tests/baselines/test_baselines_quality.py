"""What each classical method is for, measured on real MNI152 crops."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from mrigan.baselines import (
    BASELINES,
    HistogramMatch,
    Lanczos,
    SplineUpsample,
    is_rician,
    noise_sigma,
    rician_bias_correct,
)
from mrigan.metrics import psnr
from mrigan.physics.base import Degraded

DENOISERS = ["nlm", "nlm-rician", "bm3d", "bm4d"]


@pytest.mark.parametrize("name", DENOISERS)
def test_denoisers_raise_psnr_at_5_percent_rician_noise(run_method, name):
    clean, degraded, restored = run_method(name, 2)
    brain = clean > 0.1
    for mask in (None, brain):
        noisy = psnr(degraded.image, clean, data_range=1.0, mask=mask)
        assert psnr(restored, clean, data_range=1.0, mask=mask) > noisy + 3.0


def test_noisy_row_is_the_input(run_method):
    _, degraded, restored = run_method("noisy", 3)
    assert np.array_equal(restored, degraded.image)


def test_rician_bias_correction_recovers_the_amplitude():
    rng = np.random.default_rng(0)
    amplitudes = np.array([0.0, 0.5, 1.0, 2.0, 5.0, 30.0, 80.0])
    samples = amplitudes[:, None] + rng.normal(0, 1, (7, 400_000))
    magnitude_means = np.sqrt(samples**2 + rng.normal(0, 1, samples.shape) ** 2).mean(axis=1)
    corrected = rician_bias_correct(magnitude_means * 0.05, 0.05) / 0.05
    # E[M] is flat near A = 0, so the sampling error of the mean shows there most
    assert corrected == pytest.approx(amplitudes, abs=0.06)


def test_noise_model_and_level_come_from_the_degraded_record(clean_2d, degrade):
    degraded = degrade.rician(clean_2d)
    assert noise_sigma(degraded) == pytest.approx(0.05)
    assert is_rician(degraded)
    gaussian = Degraded(image=degraded.image, params=[{"op": "gaussian_noise", "sigma": 0.05}])
    assert not is_rician(gaussian)
    assert is_rician(Degraded(image=degraded.image))  # nothing recorded: magnitude data
    assert 0.02 < noise_sigma(gaussian) < 0.08  # no map: wavelet estimate


def test_zero_noise_is_left_alone(clean_2d, degrade):
    degraded = degrade.rician(clean_2d, sigma=0.0)
    assert np.array_equal(BASELINES["nlm"]()(degraded), degraded.image)


@pytest.mark.parametrize("name", ["biharmonic", "telea"])
@pytest.mark.parametrize("ndim", [2, 3])
def test_inpainting_keeps_known_pixels_and_beats_zero_fill(run_method, name, ndim):
    clean, degraded, restored = run_method(name, ndim)
    known = degraded.maps["mask"] == 1
    assert np.array_equal(restored[known], degraded.image[known])
    hole = ~known
    zero_fill = psnr(degraded.image, clean, data_range=1.0, mask=hole)
    assert psnr(restored, clean, data_range=1.0, mask=hole) > zero_fill + 6.0


def test_inpainting_without_a_mask_is_an_error(clean_2d):
    with pytest.raises(ValueError, match="mask"):
        BASELINES["biharmonic"]()(Degraded(image=clean_2d, source_shape=clean_2d.shape))


def test_inpainting_with_a_hole_in_one_slice_only(clean_3d, degrade):
    degraded = degrade.square_hole(clean_3d, size=12)
    degraded.maps["mask"][..., 1] = 1
    restored = BASELINES["telea"]()(degraded)
    assert np.array_equal(restored[..., 1], degraded.image[..., 1])


@pytest.mark.parametrize("name", ["bicubic", "lanczos"])
def test_interpolation_beats_nearest_at_2x(run_method, name):
    clean, _, nearest = run_method("nearest", 2)
    _, _, restored = run_method(name, 2)
    assert psnr(restored, clean, data_range=1.0) > psnr(nearest, clean, data_range=1.0) + 1.0


@pytest.mark.parametrize("method", [SplineUpsample(order=3), Lanczos(), SplineUpsample(order=0)])
def test_upsampling_grid_matches_block_averaging(method, degrade):
    """A linear ramp, block-averaged (197 -> 98 drops a voxel), comes back as the ramp: voxel centres align."""
    ramp = np.add.outer(np.arange(197.0), 0.5 * np.arange(30.0)).astype(np.float32)
    restored = method(degrade.block_average(ramp))
    assert restored.shape == ramp.shape
    inner = (slice(6, -6), slice(6, -6))
    # nearest: half a step along each axis (slopes 1 and 0.5); Lanczos-3 reproduces a ramp to within ~6 %
    tolerance = {"nearest": 0.76, "lanczos": 0.1}.get(method.name, 0.02)
    assert np.abs(restored - ramp)[inner].max() < tolerance


def test_bicubic_equals_skimage_resize_when_sizes_divide(clean_2d, degrade):
    from skimage.transform import resize

    even = clean_2d[:96, :90]
    low = degrade.block_average(even)
    expected = resize(low.image.astype(np.float64), even.shape, order=3, mode="symmetric", anti_aliasing=False,
                      clip=False)
    assert np.allclose(BASELINES["bicubic"]()(low), expected, atol=1e-5)


@pytest.mark.parametrize("name", ["nearest", "bicubic", "lanczos"])
def test_upsampling_every_axis_of_a_volume(clean_3d, name, degrade):
    volume = np.repeat(clean_3d, 5, axis=2)[:, :, :9]  # 49 x 45 x 9
    degraded = degrade.block_average(volume, factor=2, axes=(0, 1, 2))
    restored = BASELINES[name]()(degraded)
    assert restored.shape == volume.shape
    assert psnr(restored, volume, data_range=1.0) > 20


def test_same_grid_upsampling_is_the_identity(clean_2d):
    degraded = Degraded(image=clean_2d, source_shape=clean_2d.shape, zoom=(1.0, 1.0))
    assert np.array_equal(BASELINES["lanczos"]()(degraded), clean_2d)


@pytest.mark.parametrize("with_mask", [False, True])
def test_histogram_matching_moves_the_histogram_to_the_reference(clean_2d, t2_like, with_mask):
    reference_mask = t2_like > 0.02 if with_mask else None
    method = HistogramMatch(t2_like, mask=reference_mask)
    restored = method(Degraded(image=clean_2d, source_shape=clean_2d.shape))
    target = t2_like[reference_mask] if with_mask else t2_like.ravel()
    compared = restored[clean_2d > 0.2] if with_mask else restored.ravel()
    original = clean_2d[clean_2d > 0.2] if with_mask else clean_2d.ravel()
    before, after = wasserstein_distance(original, target), wasserstein_distance(compared, target)
    assert after < 0.2 * before
    if with_mask:  # the dark background is left as it was
        background = clean_2d < 0.01
        assert np.array_equal(restored[background], clean_2d[background])
