"""Translation data: simulated domains of real anatomy, true pairs, unpaired draws that never pair, no seams."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mrigan.data.translation import (
    DomainConfig,
    PairedTranslationDataset,
    PatchGrid,
    UnpairedTranslationDataset,
    alternate_slabs,
    hold_out_slab,
    seam_score,
    simulate_domain,
    stitch,
    translation_volumes,
)

T1W, T2W = DomainConfig(contrast="t1w"), DomainConfig(contrast="t2w")


@pytest.fixture(scope="module")
def volume():
    """A 24-slice slab of MNI152 simulated as T1w (source) and T2w (target) at 3 T."""
    (volume,) = translation_volumes(["mni152"], T1W, T2W, max_slices=24)
    return volume


def _window(array: np.ndarray, item: dict) -> np.ndarray:
    top, left = item["corner"]
    size = item["input"].shape[1:3]
    return array[top : top + size[0], left : left + size[1], item["slice"]]


def test_domains_share_the_grid_and_differ_from_the_truth_by_noise_only(volume):
    assert volume.image.shape == volume.target.shape == volume.image_true.shape == volume.brain.shape
    brain = volume.brain
    for acquired, true in ((volume.image, volume.image_true), (volume.target, volume.target_true)):
        noise = (acquired - true)[brain]
        assert 0.005 < noise.std() < 0.06 and abs(noise.mean()) < 0.02  # SNR 40 on the [0, 1] scale
    # T1w and T2w of the same anatomy: CSF is dark in one and bright in the other, so they anti-correlate
    assert np.corrcoef(volume.image_true[brain], volume.target_true[brain])[0, 1] < -0.3


def test_a_coarser_domain_is_blurred_on_the_same_grid():
    spacing = (1.0, 1.0, 1.0)
    rng = np.random.default_rng(0)
    wm = (rng.random((32, 32, 8)) > 0.5).astype(np.float32)
    tissues = {"wm": wm, "gm": 1.0 - wm}
    fine, fine_true = simulate_domain(tissues, spacing, DomainConfig(snr=None), seed=0)
    coarse, _ = simulate_domain(tissues, spacing, DomainConfig(voxel_scale=2.0, snr=None), seed=0)
    np.testing.assert_array_equal(fine, fine_true)  # no noise: acquired is the truth
    assert coarse.shape == fine.shape
    assert np.abs(np.diff(coarse, axis=0)).mean() < 0.5 * np.abs(np.diff(fine, axis=0)).mean()


def test_a_domain_can_name_its_sequence_timing():
    """Colin27's own T1w protocol (FLASH at 1.5 T, TR 18, TE 10, flip 30) puts CSF darker against white matter
    than the default spin echo at 3 T, as the signal equations say; bad timings are refused."""
    spacing, tissues = (1.0, 1.0, 1.0), {name: np.zeros((8, 8, 2), np.float32) for name in ("csf", "gm", "wm")}
    tissues["csf"][:4], tissues["wm"][4:] = 1.0, 1.0
    tissues["csf"][0, 0] = 0.001  # a nearly empty voxel: robust min-max maps about 0 to 0
    flash = DomainConfig(sequence="gre", field_t=1.5, tr=18, te=10, flip_deg=30, snr=None)
    ratios = []
    for domain in (DomainConfig(snr=None), flash):
        _, true = simulate_domain(tissues, spacing, domain, seed=0)
        ratios.append(true[1:4].mean() / true[4:].mean())
    assert ratios[0] == pytest.approx(0.40, abs=0.01) and ratios[1] == pytest.approx(0.33, abs=0.01)
    assert flash.describe() == "T1w GRE 1.5T (TR 18, TE 10, flip 30)" and T1W.describe() == "T1w SE 3T"
    with pytest.raises(ValueError, match="te must be positive"):
        DomainConfig(te=0)


@pytest.mark.parametrize("augment", [False, True])
def test_paired_samples_are_the_same_anatomy_and_slice(volume, augment):
    dataset = PairedTranslationDataset([volume], patch=(32, 32), augment=augment, clean_targets=True, seed=1)
    for i in (0, 5, len(dataset) - 1):
        item = dataset[i]
        flips = [lambda a: a, lambda a: a[::-1], lambda a: a[:, ::-1], lambda a: a[::-1, ::-1]]
        expected = {key: _window(array, item) for key, array in
                    (("input", volume.image), ("target", volume.target_true), ("brain", volume.brain))}
        matching = [flip for flip in flips if np.array_equal(item["input"][0], flip(expected["input"]))]
        assert len(matching) >= 1, "the input is a window of its recorded slice"
        flip = matching[0]
        np.testing.assert_array_equal(item["target"][0], flip(expected["target"]))  # same place, same flips
        np.testing.assert_array_equal(item["brain"][0], flip(expected["brain"]).astype(np.float32))
        np.testing.assert_array_equal(item["target"], item["target_true"])


def test_patches_are_centred_on_the_brain_unless_asked_to_see_background(volume):
    brain_share = {anywhere: [PairedTranslationDataset([volume], patch=(16, 16), seed=0, anywhere=anywhere)[i]
                              ["brain"].mean() for i in range(20)] for anywhere in (0.0, 1.0)}
    assert min(brain_share[0.0]) > 0 and min(brain_share[1.0]) == 0.0


def test_the_same_seed_gives_the_same_sample_and_epochs_differ(volume):
    dataset = PairedTranslationDataset([volume], patch=(32, 32), samples_per_volume=6, seed=2)
    first = dataset[3]
    np.testing.assert_array_equal(first["input"], dataset[3]["input"])
    dataset.set_epoch(1)
    assert not np.array_equal(dataset[3]["input"], first["input"])


def test_unpaired_draws_are_independent_and_never_pairs(volume):
    a, b = alternate_slabs(volume, 4)
    assert not np.any(a.extra["allowed_slices"] & b.extra["allowed_slices"])
    dataset = UnpairedTranslationDataset([a], [b], crop=32, seed=0)
    draws = []
    for epoch in range(3):
        dataset.set_epoch(epoch)
        draws += [(item["a_slice"], item["b_slice"]) for item in (dataset[i] for i in range(len(dataset)))]
    a_slices, b_slices = np.array(draws).T
    assert a.extra["allowed_slices"][a_slices].all() and b.extra["allowed_slices"][b_slices].all()
    assert not np.any(a_slices == b_slices)
    assert abs(np.corrcoef(a_slices, b_slices)[0, 1]) < 0.5  # B does not follow A
    partners = {k: {b_slice for a_slice, b_slice in draws if a_slice == k} for k in set(a_slices.tolist())}
    assert max(len(found) for found in partners.values()) >= 2  # the same A slice meets different B slices
    item = dataset[0]
    assert item["a"].shape == item["b"].shape == item["a_brain"].shape == item["b_brain"].shape == (1, 32, 32)
    edges = 0
    for item in (dataset[i] for i in range(len(dataset))):  # each crop's mask comes with it, flipped alike:
        for key in ("a", "b"):  # where it crosses the brain's edge, the brain is the bright part of the crop
            brain = item[f"{key}_brain"] > 0.5
            assert set(np.unique(item[f"{key}_brain"])) <= {0.0, 1.0} and brain.any()
            if not brain.all():
                edges += 1
                assert item[key][brain].mean() > item[key][~brain].mean() + 0.1
    assert edges >= 4


def test_validation_slab_is_never_trained_on(volume):
    train, validation = hold_out_slab(volume, 0.1, min_depth=8, guard=1)
    slab = validation.extra["allowed_slices"]
    assert slab.sum() == 8 and not np.any(train.extra["allowed_slices"] & slab)
    patches = PairedTranslationDataset([train], patch=(16, 16, 4), samples_per_volume=20, seed=0)
    first = np.nonzero(slab)[0]
    for i in range(len(patches)):
        start = patches[i]["slice"]
        assert not set(range(start, start + 4)) & set(first.tolist())


@pytest.mark.parametrize("mode", ["hann", "average", "crop"])
@pytest.mark.parametrize("patch, stride", [((32, 32), 12), ((16, 16, 4), (8, 8, 2))])
def test_stitching_an_identity_model_returns_the_volume(mode, patch, stride):
    rng = np.random.default_rng(0)
    data = rng.random((70, 58, 6)).astype(np.float32)
    calls = []

    def identity(x: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(x.shape[2:]))
        return x.clone()

    output = stitch(data, identity, PatchGrid(patch, stride, mode), batch_size=5)
    assert np.abs(output - data).max() < 1e-5
    assert set(calls) == {tuple(patch)} and len(calls) > 1


def test_blending_hides_inconsistent_patches_that_averaging_shows():
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(1)
    data = gaussian_filter(rng.random((90, 84, 3)), (3, 3, 0)).astype(np.float32)
    generator = torch.Generator().manual_seed(0)

    def offset(x: torch.Tensor) -> torch.Tensor:  # a model whose patches disagree by a random offset
        return x + 0.05 * torch.randn(x.shape[0], 1, 1, 1, generator=generator)

    scores = {mode: seam_score(stitch(data, offset, PatchGrid((32, 32), 12, mode)), PatchGrid((32, 32), 12, mode))
              for mode in ("hann", "average", "crop")}
    assert scores["hann"] < 1.1 < scores["average"] < scores["crop"]
    grid = PatchGrid((32, 32), 12, "hann")
    assert abs(seam_score(stitch(data, lambda x: x, grid), grid) - 1.0) < 0.1  # no seams: borders look like insides


def test_bad_grids_and_small_volumes_are_refused():
    with pytest.raises(ValueError, match="smaller than one"):
        stitch(np.zeros((20, 40, 3), np.float32), lambda x: x, PatchGrid((32, 32), 12))
    with pytest.raises(ValueError, match="even"):
        PatchGrid((32, 32), 11)
    with pytest.raises(ValueError, match="overlap_mode"):
        PatchGrid((32, 32), 12, "max")


def test_zoomed_anatomy_spans_more_voxels_with_the_same_tissue_volume():
    from mrigan.data.translation import zoomed_tissues

    rng = np.random.default_rng(0)
    wm = np.zeros((16, 16, 6), np.float32)
    wm[4:12, 5:11, 1:5] = 1.0
    tissues = {"wm": wm, "gm": np.clip(rng.random(wm.shape).astype(np.float32) * (1 - wm), 0, 1)}
    spacing, zoomed, brain = zoomed_tissues(tissues, (1.0, 1.0, 2.0), 2.0)
    assert spacing == (0.5, 0.5, 1.0) and zoomed["wm"].shape == brain.shape == (32, 32, 12)
    for name, maps in tissues.items():  # millilitres of each tissue are kept (to the linear resampling's edges)
        assert zoomed[name].sum() * 0.25 == pytest.approx(maps.sum() * 2.0, rel=0.1)
        assert zoomed[name].min() >= 0 and zoomed[name].max() <= 1
    with pytest.raises(ValueError, match="zoom must be positive"):
        zoomed_tissues(tissues, (1.0, 1.0, 1.0), 0.0)


def test_zooms_add_finer_grids_of_each_anatomy_and_keep_the_plain_one(volume):
    plain, zoomed = translation_volumes(["mni152"], T1W, T2W, max_slices=24, zooms=[1, 2])
    assert (plain.subject_id, zoomed.subject_id) == ("mni152", "mni152@2x")
    np.testing.assert_array_equal(plain.image, volume.image)  # zoom 1 draws the same noise as before zooms
    assert zoomed.spacing == tuple(s / 2 for s in plain.spacing) and zoomed.image.shape[-1] == 24
    assert zoomed.image.shape[:2] == tuple(2 * n for n in plain.image.shape[:2])
    # the same anatomy at twice the scale: the zoomed brain is about four times the plain one in a slice
    assert 3.0 < zoomed.brain.sum() / plain.brain.sum() / (zoomed.image.shape[-1] / plain.image.shape[-1]) < 5.0


def test_mni152_gmm_is_the_same_brain_segmented_like_the_other_samples():
    from mrigan.commands import load_tissues

    reference, shipped = load_tissues("mni152")
    other, segmented = load_tissues("mni152-gmm")
    assert other.shape == reference.shape
    brain = sum(shipped.values()) > 0.5
    total = sum(segmented.values())
    np.testing.assert_allclose(total[brain], 1.0, atol=1e-4)
    # the same tissues (volumes within 30%: the mixture gives white matter's partial-volume rim to grey matter), but
    # crisper: far more voxels are one tissue with little doubt
    for name in ("gm", "wm"):
        assert segmented[name].sum() == pytest.approx(shipped[name].sum(), rel=0.3)

    def crisp(maps):
        return float((np.max(np.stack(list(maps.values())), axis=0)[brain] > 0.9).mean())

    assert crisp(segmented) > crisp(shipped) + 0.15


@pytest.mark.parametrize("name", ["mni152-tight", "inia19-tight"])
def test_tight_variants_strip_the_csf_around_the_brain_and_keep_the_ventricles(name):
    from scipy.ndimage import binary_erosion

    from mrigan.commands import load_tissues
    from mrigan.data.samples import TIGHT_VARIANTS

    _, loose = load_tissues(TIGHT_VARIANTS[name])
    _, tight = load_tissues(name)
    loose_brain, tight_brain = sum(loose.values()) > 0.1, sum(tight.values()) > 0.1
    assert not (tight_brain & ~loose_brain).any() and 0.75 < tight_brain.sum() / loose_brain.sum() < 0.99
    for tissue in ("gm", "wm"):  # grey and white matter are (nearly) all kept, only CSF goes
        assert tight[tissue].sum() > 0.95 * loose[tissue].sum()
    assert tight["csf"].sum() < 0.85 * loose["csf"].sum()

    def outer_csf(maps, brain):
        rim = brain & ~binary_erosion(brain)
        return float(maps["csf"][rim].mean())

    # the loose mask's edge is mostly CSF; the tight one's mostly grey matter
    assert outer_csf(loose, loose_brain) > 0.65 and outer_csf(tight, tight_brain) < 0.45
    # CSF deep inside (the ventricles) stays: most CSF far from the edge is kept
    deep = binary_erosion(loose_brain, iterations=10)
    assert tight["csf"][deep].sum() > 0.95 * loose["csf"][deep].sum()
