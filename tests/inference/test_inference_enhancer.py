"""Enhancer: normalisation, padding, 2.5D context, masks, modes, uncertainty, checks of the model card."""

from __future__ import annotations

import numpy as np
import pytest

from mrigan.errors import InputError, UsageError
from mrigan.inference import (
    Enhancer,
    IntensityScaling,
    as_known_mask,
    default_inpaint_mask,
    resolve_device,
)
from mrigan.io import Volume


def volume_of(data: np.ndarray) -> Volume:
    affine = np.diag([1.0, 1.2, 2.0, 1.0])
    return Volume(data=np.asarray(data, np.float32), affine=affine, source_format="nifti", meta={"dtype": "int16"})


def test_intensity_scaling_is_robust_minmax_and_inverts():
    from mrigan.preprocess import robust_minmax

    rng = np.random.default_rng(0)
    data = rng.gamma(3.0, 100.0, (20, 24, 3)).astype(np.float32)
    data[:4] = 0
    scaling = IntensityScaling.fit(data)
    np.testing.assert_allclose(scaling.normalise(data), robust_minmax(data), atol=1e-6)
    inside = (data >= scaling.low_value) & (data <= scaling.high_value)
    np.testing.assert_allclose(scaling.denormalise(scaling.normalise(data))[inside], data[inside], rtol=1e-5)
    with pytest.raises(ValueError, match="non-zero"):
        IntensityScaling.fit(np.zeros((4, 4)))


def test_a_zero_background_stays_exactly_zero():
    from mrigan.inference.intensity import zero_background

    data = np.zeros((12, 12), np.float32)
    data[4:8, 4:8] = np.arange(16, dtype=np.float32).reshape(4, 4) + 50.0
    scaling = IntensityScaling.fit(data, low=10.0)  # low_value 51.5: the plain inverse puts 0 there
    assert scaling.denormalise(np.zeros_like(data))[0, 0] == pytest.approx(scaling.low_value)
    zero = zero_background(data)
    back = scaling.denormalise(scaling.normalise(data), zero=zero)
    assert np.all(back[data == 0] == 0) and np.all(back[data > 0] >= scaling.low_value)
    eroded = zero_background(data, margin=1)  # one voxel away from the object
    assert not eroded[3:9, 3:9].any() and eroded[2, 2] and eroded[0, 0]
    holes = np.ones_like(data, dtype=bool)
    holes[0, 0] = False  # an unknown pixel (a hole to fill) is not background
    assert not zero_background(data, known=holes)[0, 0]


def test_a_skull_stripped_scan_keeps_its_zero_background(make_picker):
    data = np.zeros((24, 20, 3), np.float32)
    data[6:18, 5:15] = np.random.default_rng(3).uniform(100.0, 400.0, (12, 10, 3))
    result = make_picker(0).restore(volume_of(data), noise_sigma=0.0)  # returns its input channel
    assert np.all(result.volume.data[data == 0] == 0)  # not the low percentile of the brain
    inside = data >= result.info["intensity"]["low_value"]
    np.testing.assert_allclose(result.volume.data[inside], data[inside], rtol=1e-5)


def test_identity_network_returns_the_input_without_seams(make_picker):
    rng = np.random.default_rng(1)
    data = rng.uniform(10.0, 20.0, (37, 29, 5)).astype(np.float32)  # odd sizes: padded to 40 x 32, cropped back
    result = make_picker(0).restore(volume_of(data), noise_sigma=0.0, batch_size=2)
    np.testing.assert_allclose(result.volume.data, data, rtol=1e-5)
    assert result.volume.shape == data.shape and result.uncertainty is None
    np.testing.assert_array_equal(result.volume.affine, np.diag([1.0, 1.2, 2.0, 1.0]))
    assert result.info["slices"] == 5 and result.info["noise_sigma_source"] == "given"


def test_neighbour_channels_hold_the_previous_and_next_slices(make_picker):
    data = np.stack([np.full((16, 12), 10.0 + k) for k in range(4)], axis=-1).astype(np.float32)
    previous = make_picker(3).restore(volume_of(data), noise_sigma=0.0).volume.data
    following = make_picker(4).restore(volume_of(data), noise_sigma=0.0).volume.data
    np.testing.assert_allclose(previous[0, 0], [10, 10, 11, 12], rtol=1e-5)  # edges repeat
    np.testing.assert_allclose(following[0, 0], [11, 12, 13, 13], rtol=1e-5)


def test_a_2d_image_is_a_one_slice_volume(make_picker):
    image = np.random.default_rng(2).uniform(1.0, 255.0, (30, 21)).astype(np.float32)
    result = make_picker(0).restore(volume_of(image), noise_sigma=0.0)
    assert result.volume.shape == (30, 21)
    np.testing.assert_allclose(result.volume.data, image, rtol=1e-5)
    # both neighbours of a lone slice are the slice itself
    np.testing.assert_allclose(make_picker(4).restore(volume_of(image), noise_sigma=0.0).volume.data, image, rtol=1e-5)


def test_missing_pixels_are_zero_for_the_network_and_the_mask_channel_is_set(make_picker):
    data = np.full((16, 16, 2), 50.0, np.float32)
    data[0, 0, 0] = 100.0  # so the range is [50, 100]
    mask = np.ones(data.shape)
    mask[4:8, 4:8] = 0
    seen = make_picker(0).restore(volume_of(data), mode="denoise", mask=mask, noise_sigma=0.0).volume.data
    assert np.all(seen[4:8, 4:8] == 50.0)  # normalised 0 mapped back to the low end
    mask_channel = make_picker(1).restore(volume_of(data), mask=mask, noise_sigma=0.0).volume.data
    np.testing.assert_allclose(mask_channel, 50.0 + 50.0 * mask)
    sigma_channel = make_picker(2).restore(volume_of(data), noise_sigma=0.1).volume.data
    np.testing.assert_allclose(sigma_channel, 55.0)


def test_inpaint_keeps_known_pixels_and_uses_a_centred_square_by_default(enhancer, mni_block):
    data, _ = mni_block
    result = enhancer.restore(volume_of(data), mode="inpaint")
    known = default_inpaint_mask(data.shape)
    assert (~known).sum() == 16 * 16 * data.shape[-1] and not known[32, 32, 0] and known[0, 0, 0]
    np.testing.assert_array_equal(result.volume.data[known], data[known])
    assert not np.allclose(result.volume.data[~known], data[~known])
    assert result.info["mode"] == "inpaint" and "default" in result.info["mask"]
    assert result.info["noise_sigma"] == 0.0


def test_auto_mode_inpaints_clean_images_and_restores_noisy_ones(make_picker):
    data = np.random.default_rng(3).uniform(10.0, 20.0, (16, 16, 2)).astype(np.float32)
    mask = np.ones(data.shape)
    mask[2:5, 2:5] = 0
    picker = make_picker(0)
    assert picker.restore(volume_of(data), mode="auto", mask=mask, noise_sigma=0.0).info["mode"] == "inpaint"
    assert picker.restore(volume_of(data), mode="auto", mask=mask, noise_sigma=0.05).info["mode"] == "denoise"
    assert picker.restore(volume_of(data), mode="auto", noise_sigma=0.0).info["mode"] == "denoise"


def test_mc_dropout_uncertainty_leaves_the_output_deterministic(enhancer, mni_block):
    data, _ = mni_block
    plain = enhancer.restore(volume_of(data))
    sampled = enhancer.restore(volume_of(data), uncertainty="mc-dropout", samples=4)
    np.testing.assert_array_equal(plain.volume.data, sampled.volume.data)
    spread = sampled.uncertainty.data
    assert spread.shape == data.shape and np.isfinite(spread).all() and spread.min() >= 0 and spread.max() > 0
    assert sampled.info["uncertainty"] == "mc-dropout" and sampled.info["samples"] == 4
    assert "dtype" not in sampled.uncertainty.meta  # a float map, not stored in the scan's integer type
    assert plain.info["noise_sigma_source"] == "estimated" and plain.info["noise_sigma"] >= 0


def test_mc_dropout_without_dropout_falls_back_to_tta(tiny_card_without_dropout, mni_block):
    data, _ = mni_block
    enhancer = Enhancer.from_path(tiny_card_without_dropout, device="cpu")
    result = enhancer.restore(volume_of(data[..., :2]), uncertainty="mc-dropout", samples=3)
    assert result.info["uncertainty"] == "tta" and "no dropout" in result.info["uncertainty_note"]
    assert np.isfinite(result.uncertainty.data).all() and result.uncertainty.data.max() > 0


def test_known_mask_checks():
    np.testing.assert_array_equal(as_known_mask(np.array([[0, 255], [255, 0]]), (2, 2)), [[0, 1], [1, 0]])
    assert as_known_mask(np.ones((3, 4)), (3, 4, 5)).shape == (3, 4, 5)  # one in-plane mask for every slice
    with pytest.raises(ValueError, match=r"mask shape \(3, 3\) does not match the input \(3, 4\)"):
        as_known_mask(np.ones((3, 3)), (3, 4))
    with pytest.raises(ValueError, match="not binary"):
        as_known_mask(np.array([[0, 0.5], [1, 1]]), (2, 2))


def test_option_and_card_checks(enhancer, tiny_card, tmp_path):
    import json

    with pytest.raises(ValueError, match="without class conditioning"):
        enhancer.restore(volume_of(np.ones((8, 8))), label=1)
    with pytest.raises(ValueError, match="at least 2"):
        enhancer.restore(volume_of(np.ones((8, 8))), uncertainty="tta", samples=1)
    with pytest.raises(ValueError, match="mode"):
        enhancer.restore(volume_of(np.ones((8, 8))), mode="sharpen")

    card = json.loads(tiny_card.read_text())
    model = enhancer.model
    with pytest.raises(InputError, match="channels"):
        Enhancer(model, {**card, "config": {"conditioning": {"context": 0}}})
    with pytest.raises(UsageError, match="'sr' model"):
        Enhancer(model, {**card, "task": "sr"}).restore(volume_of(np.ones((8, 8))))


def test_resolve_device():
    import torch

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(UsageError):
        resolve_device("quantum")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="no CUDA"):
            resolve_device("cuda")


def test_slices_are_padded_by_mirroring_not_zeros():
    """Training degraded the padded border with the image; a clean zero border is out of distribution."""
    from mrigan.inference.enhancer import _pad

    batch = np.random.default_rng(0).random((2, 5, 20, 27), dtype=np.float32) + 0.5
    padded, crop = _pad(batch, 16)
    assert padded.shape == (2, 5, 32, 32)
    np.testing.assert_array_equal(padded[(slice(None), slice(None), *crop)], batch)
    assert padded.min() >= 0.5  # no zeros anywhere
    top = crop[0].start
    np.testing.assert_array_equal(padded[:, :, top - 1, crop[1]], batch[:, :, 1])  # mirrored about the first row
