"""IntensityDistributionLoss: unpaired histogram matching of translations against real scans, on real anatomy."""

from __future__ import annotations

import io

import pytest
import torch

from mrigan.losses import IntensityDistributionLoss


@pytest.fixture(scope="module")
def t2w_slices():
    """Eight MNI152 slices simulated as T2w: as acquired (noisy, SNR 40), noise-free, and their brain masks."""
    from mrigan.data.translation import DomainConfig, translation_volumes

    (volume,) = translation_volumes(["mni152"], DomainConfig(contrast="t1w"), DomainConfig(contrast="t2w"),
                                    max_slices=8)
    as_tensor = lambda array: torch.from_numpy(array.transpose(2, 0, 1)[:, None].astype("float32"))  # noqa: E731
    return as_tensor(volume.target), as_tensor(volume.target_true), as_tensor(volume.brain)


def _filled(scans, *, noise: float) -> IntensityDistributionLoss:
    """A loss whose pools hold the even slices: real ones as scanned, and their noise-free truth as translations."""
    real, true, brain = scans
    torch.manual_seed(0)
    loss = IntensityDistributionLoss(noise=noise, samples=100_000)
    for k in range(0, 8, 2):
        loss(true[k : k + 1], brain[k : k + 1], real[k : k + 1], brain[k : k + 1])
    return loss


def test_a_tissue_rendered_too_bright_scores_worse_than_the_truth_and_is_pulled_down(t2w_slices):
    real, true, brain = t2w_slices
    grey = (true > 0.3) & (true < 0.6) & (brain > 0)  # grey matter's T2w level
    brighter = true.clone()
    brighter[grey] += 0.04  # as the CycleGAN rendered it
    scores = {}
    for name, translation in (("truth", true), ("brighter", brighter)):
        loss = _filled(t2w_slices, noise=0.025)
        odd = translation[1::2].clone().requires_grad_(True)
        scores[name] = loss(odd, brain[1::2], real[1::2], brain[1::2])
        scores[name].backward()
        if name == "brighter":
            assert float(odd.grad[grey[1::2]].mean()) > 0  # descending lowers grey matter
            assert float(odd.grad[brain[1::2] == 0].abs().sum()) == 0  # nothing outside the brain
    assert float(scores["brighter"].detach()) > 5 * float(scores["truth"].detach())


def test_noise_on_the_translations_lets_a_noise_free_truth_match_noisy_scans(t2w_slices):
    real, true, brain = t2w_slices
    without, with_noise = (float(_filled(t2w_slices, noise=noise)(true[1::2], brain[1::2], real[1::2], brain[1::2]))
                           for noise in (0.0, 0.025))
    assert with_noise < 0.5 * without  # without it, matching asks the truth for grain


def test_descending_the_loss_removes_a_level_offset(t2w_slices):
    real, true, brain = t2w_slices
    loss = _filled(t2w_slices, noise=0.025)
    offset = torch.tensor(0.05, requires_grad=True)
    optimizer = torch.optim.SGD([offset], lr=0.02)
    for _ in range(40):
        optimizer.zero_grad()
        loss(true[1::2] + offset, brain[1::2], real[1::2], brain[1::2]).backward()
        optimizer.step()
    assert abs(float(offset)) < 0.015


def test_pools_are_bounded_and_round_trip_through_a_weights_only_state_dict(t2w_slices):
    real, true, brain = t2w_slices
    loss = IntensityDistributionLoss(pool=3, samples=500)
    assert float(loss(true[:1], torch.zeros_like(brain[:1]), real[:1], brain[:1])) == 0  # no translated voxel yet
    for k in range(6):
        loss(true[k : k + 1], brain[k : k + 1], real[k : k + 1], brain[k : k + 1])
    assert len(loss.real) == len(loss.translated) == 3 and all(len(v) == 500 for v in loss.real)
    buffer = io.BytesIO()
    torch.save(loss.state_dict(), buffer)
    restored = IntensityDistributionLoss(pool=3, samples=500)
    restored.load_state_dict(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))
    assert all(torch.equal(a, b) for a, b in zip(restored.translated, loss.translated, strict=True))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="pool and samples"):
        IntensityDistributionLoss(pool=0)
    with pytest.raises(ValueError, match="noise"):
        IntensityDistributionLoss(noise=-0.1)
    with pytest.raises(ValueError, match="mask"):
        IntensityDistributionLoss()(torch.rand(1, 1, 8, 8), torch.ones(1, 1, 8, 9), torch.rand(1, 1, 8, 8),
                                    torch.ones(1, 1, 8, 8))
