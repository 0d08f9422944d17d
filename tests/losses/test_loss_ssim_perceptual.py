"""SSIMLoss (checked against scikit-image), PerceptualLoss, AnnealedWeight."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from skimage.metrics import structural_similarity

from mrigan.losses import AnnealedWeight, PerceptualLoss, SSIMLoss
from mrigan.nn import MRIFeatureNet


def smooth_image(shape, seed: int) -> np.ndarray:
    """A smooth random image in [0, 1] with some structure, plus a noisy copy."""
    rng = np.random.default_rng(seed)
    image = gaussian_filter(rng.random(shape), 2.0)
    image = (image - image.min()) / (image.max() - image.min())
    noisy = np.clip(image + rng.normal(0, 0.05, shape), 0, 1)
    return image, noisy


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_ssim_loss_zero_for_identical_images(spatial_dims):
    x = torch.rand(2, 1, *([16] * spatial_dims))
    torch.testing.assert_close(SSIMLoss(spatial_dims=spatial_dims)(x, x.clone()), torch.tensor(0.0), atol=1e-5, rtol=0)


@pytest.mark.parametrize("shape", [(48, 40), (20, 24, 22)])
def test_ssim_matches_scikit_image(shape):
    image, noisy = smooth_image(shape, seed=1)
    expected = structural_similarity(
        image, noisy, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    to_tensor = lambda a: torch.from_numpy(a).float()[None, None]  # noqa: E731
    loss = SSIMLoss(data_range=1.0, spatial_dims=len(shape))
    ssim = loss.ssim(to_tensor(noisy), to_tensor(image)).item()
    assert abs(ssim - expected) < 1e-4
    assert 0.0 < loss(to_tensor(noisy), to_tensor(image)).item() < 1.0


def test_ssim_loss_rejects_small_or_mismatched_inputs_and_has_gradients():
    loss = SSIMLoss()
    with pytest.raises(ValueError, match="win_size"):
        loss(torch.rand(1, 1, 8, 32), torch.rand(1, 1, 8, 32))
    with pytest.raises(ValueError, match="4-D"):
        loss(torch.rand(1, 1, 16, 16, 16), torch.rand(1, 1, 16, 16, 16))
    prediction = torch.rand(1, 1, 16, 16, requires_grad=True)
    loss(prediction, torch.rand(1, 1, 16, 16)).backward()
    assert prediction.grad is not None and torch.isfinite(prediction.grad).all()


def feature_net(**kwargs) -> MRIFeatureNet:
    return MRIFeatureNet(widths=(4, 8, 8), **kwargs)


def test_perceptual_zero_for_equal_images_and_positive_otherwise():
    loss = PerceptualLoss(feature_net(), layers=(0, 1, 2))
    x = torch.rand(2, 1, 16, 16)
    assert loss(x.clone(), x) == 0
    assert loss(torch.rand(2, 1, 16, 16), x) > 0


def test_perceptual_feature_net_is_frozen_and_stays_in_eval():
    net = feature_net()
    loss = PerceptualLoss(net, layers=(1, 2), weights=(1.0, 0.5))
    loss.train()
    assert not net.training
    assert not any(p.requires_grad for p in net.parameters())
    prediction = torch.rand(1, 1, 16, 16, requires_grad=True)
    loss(prediction, torch.rand(1, 1, 16, 16)).backward()
    assert prediction.grad is not None
    assert all(p.grad is None for p in net.parameters())


def test_perceptual_weights():
    net = feature_net()
    prediction, target = torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16)
    single = PerceptualLoss(net, layers=(1,))(prediction, target)
    torch.testing.assert_close(PerceptualLoss(net, layers=(1,), weights=(3.0,))(prediction, target), 3 * single)
    with pytest.raises(ValueError, match="weights"):
        PerceptualLoss(net, layers=(1, 2), weights=(1.0,))


def test_perceptual_3d_volume_with_a_2d_net_is_slice_wise():
    loss = PerceptualLoss(feature_net(), layers=(1,))
    prediction, target = torch.rand(2, 1, 16, 16, 3), torch.rand(2, 1, 16, 16, 3)
    per_slice = [loss(prediction[..., k], target[..., k]) for k in range(3)]
    torch.testing.assert_close(loss(prediction, target), torch.stack(per_slice).mean())


def test_perceptual_3d_net_takes_volumes_directly():
    loss = PerceptualLoss(feature_net(spatial_dims=3), layers=(0, 1))
    x = torch.rand(1, 1, 8, 8, 8)
    assert loss(x.clone(), x) == 0 and loss(torch.rand(1, 1, 8, 8, 8), x) > 0


def test_annealed_weight_schedule():
    weight = AnnealedWeight(target=0.5, warmup_steps=100)
    assert [weight(s) for s in (0, 25, 50, 100, 10_000)] == [0.0, 0.125, 0.25, 0.5, 0.5]
    assert weight(-5) == 0.0
    assert AnnealedWeight(target=0.2, warmup_steps=0)(0) == 0.2
    cosine = AnnealedWeight(target=1.0, warmup_steps=10, shape="cosine")
    assert cosine(0) == 0.0 and abs(cosine(5) - 0.5) < 1e-12 and cosine(10) == 1.0
    assert cosine(2) < 0.2  # eases in
    assert AnnealedWeight(target=1.0, warmup_steps=4, start=0.5)(2) == 0.75
    with pytest.raises(ValueError, match="warmup_steps"):
        AnnealedWeight(target=1.0, warmup_steps=-1)
