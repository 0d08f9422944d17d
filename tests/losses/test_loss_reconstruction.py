"""MaskedL1, cycle / identity L1, gradient difference loss, intensity consistency."""

from __future__ import annotations

import pytest
import torch

from mrigan.losses import CycleLoss, GradientDifferenceLoss, IdentityLoss, IntensityConsistencyLoss, MaskedL1


def test_masked_l1_zero_for_a_perfect_prediction():
    target = torch.rand(2, 1, 8, 8)
    mask = (torch.rand(2, 1, 8, 8) > 0.5).float()
    assert MaskedL1(alpha=0.7)(target.clone(), target, mask) == 0


def test_masked_l1_by_hand():
    target = torch.zeros(1, 1, 2, 2)
    prediction = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    mask = torch.tensor([[[[1.0, 1.0], [1.0, 0.0]]]])  # the pixel with error 4 is missing
    # region means: missing 4, known (1 + 2 + 3) / 3 = 2
    torch.testing.assert_close(MaskedL1(alpha=0.3)(prediction, target, mask), torch.tensor(0.3 * 4 + 0.7 * 2))
    # the paper's eq. 2: (alpha * 4 + (1 - alpha) * (1 + 2 + 3)) / 4
    image = MaskedL1(alpha=0.3, normalization="image")(prediction, target, mask)
    torch.testing.assert_close(image, torch.tensor((0.3 * 4 + 0.7 * 6) / 4))


def test_masked_l1_all_known_and_all_missing():
    target = torch.zeros(1, 1, 4, 4)
    prediction = torch.full((1, 1, 4, 4), 0.5)
    loss = MaskedL1(alpha=0.4)
    torch.testing.assert_close(loss(prediction, target, torch.ones(1, 1, 4, 4)), torch.tensor(0.6 * 0.5))
    torch.testing.assert_close(loss(prediction, target, torch.zeros(1, 1, 4, 4)), torch.tensor(0.4 * 0.5))


def test_masked_l1_broadcasts_a_single_channel_mask_and_takes_booleans():
    target = torch.zeros(2, 3, 4, 4)
    prediction = torch.rand(2, 3, 4, 4)
    mask = torch.rand(2, 1, 4, 4) > 0.5
    expanded = mask.expand(2, 3, 4, 4).float()
    torch.testing.assert_close(MaskedL1()(prediction, target, mask), MaskedL1()(prediction, target, expanded))


def test_masked_l1_gradient_and_errors():
    prediction = torch.rand(1, 1, 4, 4, requires_grad=True)
    MaskedL1()(prediction, torch.zeros(1, 1, 4, 4), torch.ones(1, 1, 4, 4)).backward()
    assert prediction.grad is not None
    with pytest.raises(ValueError, match="alpha"):
        MaskedL1(alpha=1.5)
    with pytest.raises(ValueError, match="differ"):
        MaskedL1()(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 5), torch.ones(1, 1, 4, 4))


@pytest.mark.parametrize("loss_class", [CycleLoss, IdentityLoss])
def test_cycle_and_identity_are_l1(loss_class):
    x = torch.rand(2, 1, 8, 8)
    assert loss_class()(x.clone(), x) == 0
    torch.testing.assert_close(loss_class()(x + 0.25, x), torch.tensor(0.25))


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("compare", ["magnitude", "signed"])
def test_gdl_zero_for_equal_images_and_for_an_offset(spatial_dims, compare):
    target = torch.rand(2, 1, *([8] * spatial_dims))
    loss = GradientDifferenceLoss(compare=compare)
    assert loss(target.clone(), target) == 0
    torch.testing.assert_close(loss(target + 0.3, target), torch.tensor(0.0))  # a constant shift keeps gradients


def test_gdl_known_value_on_a_ramp():
    ramp = torch.arange(5.0).expand(1, 1, 4, 5)  # slope 1 along the last axis, 0 along the other
    flat = torch.zeros(1, 1, 4, 5)
    # axis H: 0; axis W: |1 - 0|^2 = 1; mean over the two axes
    torch.testing.assert_close(GradientDifferenceLoss()(flat, ramp), torch.tensor(0.5))
    torch.testing.assert_close(GradientDifferenceLoss(exponent=1.0)(flat, 2 * ramp), torch.tensor(1.0))
    # magnitude comparison ignores the sign of the slope, the signed one does not
    assert GradientDifferenceLoss(compare="magnitude")(-ramp, ramp) == 0
    torch.testing.assert_close(GradientDifferenceLoss(compare="signed")(-ramp, ramp), torch.tensor(2.0))


def test_gdl_penalises_blur():
    target = (torch.rand(1, 1, 16, 16) > 0.5).float()
    blurred = torch.nn.functional.avg_pool2d(target, 3, stride=1, padding=1)
    assert GradientDifferenceLoss()(blurred, target) > 0.01


@pytest.fixture(scope="module")
def t1w_t2w_slice():
    """A central MNI152 slice simulated as T1w as acquired (noisy) and noise-free T2w, with its brain mask."""
    from mrigan.data.translation import DomainConfig, translation_volumes

    (volume,) = translation_volumes(["mni152"], DomainConfig(contrast="t1w"), DomainConfig(contrast="t2w"),
                                    max_slices=3)
    as_tensor = lambda array: torch.from_numpy(array[None, None, :, :, 1].astype("float32"))  # noqa: E731
    return as_tensor(volume.image), as_tensor(volume.target_true), as_tensor(volume.brain)


def test_intensity_consistency_is_low_for_the_true_translation_and_rises_with_what_the_input_does_not_explain(
    t1w_t2w_slice,
):
    source, truth, brain = t1w_t2w_slice
    loss = IntensityConsistencyLoss()
    true_score = float(loss(source, truth, brain))
    assert 0 < true_score < 0.01
    relit = truth.clone()  # the CSF of the left half dark, as a CycleGAN rendered a pocket of it
    left = torch.zeros_like(truth, dtype=torch.bool)
    left[..., : truth.shape[-2] // 2, :] = True
    relit[left & (truth > 0.6) & (brain > 0)] = 0.2
    rows = torch.arange(truth.shape[-2], dtype=torch.float32).view(-1, 1)
    textured = truth + 0.1 * torch.sin(rows / 2.0)  # stripes the input has no trace of
    assert float(loss(source, relit, brain)) > 2 * true_score
    assert float(loss(source, textured, brain)) > true_score + 0.003
    assert float(loss(source, torch.full_like(truth, 0.4), brain)) == pytest.approx(0.0, abs=1e-9)
    outside = truth.clone()
    outside[brain == 0] = torch.rand(int((brain == 0).sum()))
    assert float(loss(source, outside, brain)) == pytest.approx(true_score, rel=1e-5)
    translation = relit.clone().requires_grad_(True)
    loss(source, translation, brain).backward()
    assert translation.grad[brain > 0].abs().sum() > 0 and translation.grad[brain == 0].abs().sum() == 0


def test_the_correlation_ratio_measure_ignores_contrast_and_the_plain_one_rewards_flattening(t1w_t2w_slice):
    source, truth, brain = t1w_t2w_slice
    plain, ratio = IntensityConsistencyLoss(), IntensityConsistencyLoss(measure="correlation_ratio")
    flatter = 0.5 * truth + 0.2
    assert float(plain(source, flatter, brain)) == pytest.approx(0.25 * float(plain(source, truth, brain)), rel=1e-4)
    assert float(ratio(source, flatter, brain)) == pytest.approx(float(ratio(source, truth, brain)), rel=1e-4)
    assert 0 < float(ratio(source, truth, brain)) < 0.3  # 1 - eta^2: most of the true T2w's variance is explained
    relit = truth.clone()
    relit[(truth > 0.6) & (brain > 0) & (torch.rand_like(truth) > 0.5)] = 0.2  # half the CSF dark, at random
    assert float(ratio(source, relit, brain)) > float(ratio(source, truth, brain)) + 0.1
    empty = torch.zeros_like(brain)
    both = ratio(torch.cat([source, source]), torch.cat([truth, truth]), torch.cat([brain, empty]))
    assert float(both) == pytest.approx(float(ratio(source, truth, brain)), rel=1e-5)  # empty images do not count


def test_intensity_consistency_refuses_mismatched_shapes():
    loss = IntensityConsistencyLoss()
    with pytest.raises(ValueError, match="differ"):
        loss(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 9), torch.ones(1, 1, 8, 8))
    with pytest.raises(ValueError, match="one-channel"):
        loss(torch.rand(1, 2, 8, 8), torch.rand(1, 2, 8, 8), torch.ones(1, 2, 8, 8))
    with pytest.raises(ValueError, match="bins"):
        IntensityConsistencyLoss(bins=1)
    with pytest.raises(ValueError, match="measure"):
        IntensityConsistencyLoss(measure="entropy")
    assert float(loss(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))) == 0.0
