from __future__ import annotations

import json

import numpy as np
import pytest

from mrigan.physics import (
    SEQUENCES,
    TISSUE_PROPERTIES,
    simulate_contrast,
    tissue_maps_from_t1,
    tissue_properties,
)


def _spacing(tissues: dict[str, np.ndarray]) -> tuple[float, ...]:
    return (1.0,) * tissues["gm"].ndim


def _pure(tissues: dict[str, np.ndarray], name: str) -> np.ndarray:
    return tissues[name] > 0.9


def test_relaxation_table_follows_field_strength():
    for tissue, by_field in TISSUE_PROPERTIES.items():
        fields = sorted(by_field)
        t1 = [by_field[f]["t1"] for f in fields]
        t2 = [by_field[f]["t2"] for f in fields]
        assert t1 == sorted(t1), f"{tissue}: T1 must lengthen with field"
        assert t2 == sorted(t2, reverse=True), f"{tissue}: T2 must shorten with field"
    assert TISSUE_PROPERTIES["gm"][7.0]["t1"] > TISSUE_PROPERTIES["gm"][3.0]["t1"]
    assert TISSUE_PROPERTIES["wm"][7.0]["t1"] > TISSUE_PROPERTIES["wm"][3.0]["t1"]


def test_tissue_properties_interpolate_in_log_field():
    at_3t = tissue_properties("wm", 3.0)
    assert at_3t["t1"] == TISSUE_PROPERTIES["wm"][3.0]["t1"]
    assert at_3t["t2star"] < at_3t["t2"]
    at_5t = tissue_properties("wm", 5.0)
    assert TISSUE_PROPERTIES["wm"][3.0]["t1"] < at_5t["t1"] < TISSUE_PROPERTIES["wm"][7.0]["t1"]
    assert tissue_properties("gm", 11.7)["t1"] > TISSUE_PROPERTIES["gm"][9.4]["t1"]  # extrapolated
    assert tissue_properties("gm", 0.55)["t1"] < TISSUE_PROPERTIES["gm"][1.5]["t1"]


@pytest.mark.parametrize("sequence", ["se", "gre"])
def test_tissue_contrast_ordering(sequence, tissues):
    means = {}
    for contrast in ("t1w", "t2w", "pdw"):
        image, _, _ = simulate_contrast(
            tissues, _spacing(tissues), contrast=contrast, sequence=sequence, snr_at_3t=None
        )
        means[contrast] = {name: float(image[_pure(tissues, name)].mean()) for name in ("csf", "gm", "wm")}
        assert image.max() <= 1.0 + 1e-6
    assert means["t1w"]["wm"] > means["t1w"]["gm"] > means["t1w"]["csf"]
    assert means["t2w"]["csf"] > means["t2w"]["gm"] > means["t2w"]["wm"]
    assert means["pdw"]["gm"] > means["pdw"]["wm"]


def test_snr_grows_with_field(tissues):
    white = _pure(tissues, "wm")
    snr = {}
    for field_t in (1.5, 7.0):
        kwargs = dict(contrast="t1w", field_t=field_t, seed=3)
        clean, _, _ = simulate_contrast(tissues, _spacing(tissues), snr_at_3t=None, **kwargs)
        noisy, _, params = simulate_contrast(tissues, _spacing(tissues), **kwargs)
        noise_std = float(np.std(noisy[white] - clean[white]))
        assert noise_std == pytest.approx(params["sigma"], rel=0.1)
        snr[field_t] = float(clean[white].mean()) / noise_std
    assert snr[7.0] > 3 * snr[1.5]


def test_contrasts_share_the_grid_and_voxel_size_changes_it(tissues):
    spacing = _spacing(tissues)
    t1w, t1_spacing, _ = simulate_contrast(tissues, spacing, contrast="t1w", voxel_mm=2.0)
    t2w, t2_spacing, _ = simulate_contrast(tissues, spacing, contrast="t2w", sequence="gre", voxel_mm=2.0)
    assert t1w.shape == t2w.shape == tuple(n // 2 for n in tissues["gm"].shape)
    assert t1_spacing == t2_spacing == (2.0,) * len(spacing)
    native, native_spacing, _ = simulate_contrast(tissues, spacing, contrast="pdw")
    assert native.shape == tissues["gm"].shape and native_spacing == spacing


def test_coarser_voxels_have_higher_snr(tissues):
    spacing = _spacing(tissues)
    _, _, fine = simulate_contrast(tissues, spacing)
    _, _, coarse = simulate_contrast(tissues, spacing, voxel_mm=2.0)
    assert coarse["snr"] == pytest.approx(fine["snr"] * 2 ** len(spacing))


def test_simulation_is_seeded_and_recorded(tissues):
    spacing = _spacing(tissues)
    first, _, params = simulate_contrast(tissues, spacing, field_t=7.0, seed=1, tr=600.0)
    np.testing.assert_array_equal(first, simulate_contrast(tissues, spacing, field_t=7.0, seed=1, tr=600.0)[0])
    assert not np.array_equal(first, simulate_contrast(tissues, spacing, field_t=7.0, seed=2, tr=600.0)[0])
    assert params["tr_ms"] == 600.0 and params["te_ms"] == SEQUENCES["se"]["t1w"]["te"]
    assert params["tissues"]["gm"]["t1"] == TISSUE_PROPERTIES["gm"][7.0]["t1"]
    assert params["sigma"] == pytest.approx(1 / params["snr"])
    json.dumps(params)


def test_bad_arguments_are_refused(tissues):
    with pytest.raises(ValueError, match="contrast"):
        simulate_contrast(tissues, _spacing(tissues), contrast="flair")
    with pytest.raises(ValueError, match="tissues"):
        simulate_contrast({"bone": tissues["gm"]}, _spacing(tissues))


@pytest.mark.parametrize("region", [np.s_[20:180, 20:215, 80], np.s_[40:160, 40:200, 74:86]], ids=["2d", "3d"])
def test_gmm_tissue_maps_match_the_template_segmentation(region, mni):
    brain = mni["brain"][region]
    maps = tissue_maps_from_t1(mni["t1"][region], brain, seed=0)
    total = maps["csf"] + maps["gm"] + maps["wm"]
    np.testing.assert_allclose(total[brain], 1.0, atol=1e-5)
    assert np.all(total[~brain] == 0)
    labels = np.argmax(np.stack([maps["csf"], maps["gm"], maps["wm"]]), axis=0)
    for index, name in ((1, "gm"), (2, "wm")):
        ours = (labels == index) & brain
        reference = mni[name][region] > 0.5
        dice = 2 * (ours & reference).sum() / (ours.sum() + reference.sum())
        assert dice > 0.6, f"{name} Dice {dice:.2f}"
