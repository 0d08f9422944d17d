"""The translate and field bench suites: simulated held-out Colin27, baselines, tiny trained models, the CLI."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.mricron

CONFIGS = Path("configs/translation")
SMALL = ["generator.depth=3", "generator.base_channels=4", "generator.max_channels=16",
         "discriminator.base_channels=4", "discriminator.n_layers=2", "data.patch=[32,32]"]
RUN = ["data.samples=[mni152]", "data.max_slices=10", "data.batch_size=2", "data.validation_slices=1",
       "data.patches_per_volume=4", "trainer.max_steps=10", "trainer.log_every=5", "trainer.val_every=10",
       "trainer.checkpoint_every=10", "trainer.device=cpu", "trainer.figures=false"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A CycleGAN T1w <-> T2w and a pix2pix 7 T -> 9.4 T, 10 steps each on 10 mni152 slices."""
    from mrigan.training import run_train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("runs")
    try:
        return {
            "cyclegan": run_train(CONFIGS / "cyclegan_t1_t2.yaml", overrides=[*SMALL, *RUN], resume=None,
                                  out=root / "cyclegan"),
            "pix2pix": run_train(CONFIGS / "pix2pix_7t_9t4.yaml", overrides=[*SMALL, *RUN, "stitch.stride=16"],
                                 resume=None, out=root / "pix2pix"),
        }
    finally:
        torch.set_num_threads(threads)


def _rows(result, case: str, method: str) -> list[dict]:
    return [r for r in result.records if r["case"] == case and r["method"] == method]


def test_suites_simulate_with_the_recipes_domains():
    from mrigan.bench.translation import suite_domains
    from mrigan.training import load_run_config

    for suite, config in (("translate", "cyclegan_t1_t2.yaml"), ("field", "pix2pix_7t_9t4.yaml")):
        data = load_run_config(CONFIGS / config, []).data
        assert suite_domains(suite) == (data.source, data.target)


def test_translate_suite_quick_runs_and_writes_files(tmp_path):
    from mrigan.bench.runner import run_suite

    result = run_suite("translate", quick=True, n_slices=3, out_dir=tmp_path, progress=False)
    cases = list(dict.fromkeys(r["case"] for r in result.records))
    assert cases == ["T1w -> T2w", "T2w -> T1w", "T1w -> T2w -> T1w", "T2w -> T1w -> T2w",
                     "T1w -> T1w (T2w -> T1w generator)", "T2w -> T2w (T1w -> T2w generator)",
                     "T1w (Colin27's FLASH) -> T2w"]
    assert len(_rows(result, "T1w -> T2w", "histmatch")) == 3
    assert not _rows(result, "T1w -> T2w -> T1w", "histmatch")  # no contrast to match in a round trip
    # histogram matching brings the input's intensities closer to the other contrast than leaving it alone
    for case in cases[:2]:
        assert np.mean([r["mse_fg"] for r in _rows(result, case, "histmatch")]) < \
            np.mean([r["mse_fg"] for r in _rows(result, case, "identity")])
    assert "| T2w -> T1w | histmatch |" in result.table and "mse_fg" in result.table
    assert "| T1w (Colin27's FLASH) -> T2w | histmatch |" in result.table
    rows = list(csv.DictReader(open(tmp_path / "translate.csv")))
    assert len(rows) == len(result.records) and {"psnr_fg", "ssim_fg", "mse_fg", "mse"} <= set(rows[0])
    assert (tmp_path / "translate_T1w_to_T2w.png").stat().st_size > 1000


def test_the_flash_case_is_a_t1w_of_colin27s_own_sequence_with_the_same_truth_and_noise():
    from mrigan.bench.translation import make_translation_suite

    cases = {case.name: case for case in make_translation_suite("translate", sample="colin27", n_slices=3).cases}
    spin_echo, flash = cases["T1w -> T2w"], cases["T1w (Colin27's FLASH) -> T2w"]
    assert flash.truth is spin_echo.truth and flash.source.describe() == "T1w GRE 1.5T (TR 18, TE 10, flip 30)"
    assert [(s.contrast, s.sequence) for s, _ in flash.generators] == [("t1w", "se")]  # the T1w -> T2w generator
    csf = flash.brain & (flash.truth > 0.9)  # bright in the T2w truth
    wm = flash.brain & (flash.truth < 0.45)
    ratios = [case.image[csf].mean() / case.image[wm].mean() for case in (spin_echo, flash)]
    assert ratios[1] < ratios[0] - 0.03  # FLASH: CSF darker against white matter
    assert flash.source.snr == 2 * spin_echo.source.snr  # given at 3 T: at 1.5 T the noise is the spin echo's


def test_field_identity_row_scores_exactly_as_the_input(tmp_path):
    from mrigan.bench.runner import run_suite
    from mrigan.bench.translation import make_translation_suite
    from mrigan.metrics import mse, score

    result = run_suite("field", sample="colin27", n_slices=4, methods=["identity"], out_dir=tmp_path, progress=False)
    case = make_translation_suite("field", sample="colin27", n_slices=4).cases[0]
    rows = _rows(result, "7T -> 9.4T", "upsampled input (cubic spline)")
    assert len(rows) == 4
    for k, row in enumerate(rows):
        expected = score(case.image[..., k], case.truth[..., k], data_range=1.0,
                         masks={"": None, "fg": case.brain[..., k]})
        for key in ("psnr", "ssim", "psnr_fg", "ssim_fg"):
            assert row[key] == expected[key]
        assert row["mse_fg"] == mse(case.image[..., k], case.truth[..., k], mask=case.brain[..., k])
    # the input is the coarse 7 T image upsampled onto the 9.4 T grid: smoother, not equal to the target
    assert case.image.shape == case.truth.shape and 15 < np.mean([r["psnr_fg"] for r in rows]) < 40
    volume = result.extra["volume"][0]
    assert volume["mse_fg"] == pytest.approx(mse(case.image, case.truth, mask=case.brain))
    seams = {r["method"]: r["seam_score"] for r in result.extra["seams"]}
    assert 0.7 < seams["target (inside-patch baseline)"] < 1.3  # a seamless image scores about 1
    assert "stitched volume (4 slices, 3D)" in result.table and "seam score" in result.table
    assert (tmp_path / "field_seams.csv").exists() and (tmp_path / "field_7T_to_9_4T.png").exists()


def test_models_are_scored_in_their_directions_only(runs, tmp_path):
    from mrigan.bench.runner import run_suite
    from mrigan.bench.translation import make_translation_suite
    from mrigan.bench.translation_models import TranslationModelMethod, translation_methods

    forward = TranslationModelMethod(runs["cyclegan"] / "final" / "generator.json", device="cpu")
    cases = {case.name: case.degraded() for case in make_translation_suite("translate", n_slices=3).cases}
    assert forward.supports(cases["T1w -> T2w"]) and not forward.supports(cases["T2w -> T1w"])
    assert not forward.supports(cases["T1w -> T2w -> T1w"])  # a round trip needs both generators
    # seed 003's reconstruction of a T2w runs G (T1w -> T2w) on the T2w image; that of a T1w needs F
    assert forward.supports(cases["T2w -> T2w (T1w -> T2w generator)"])
    assert not forward.supports(cases["T1w -> T1w (T2w -> T1w generator)"])
    reconstruction = cases["T2w -> T2w (T1w -> T2w generator)"]
    np.testing.assert_array_equal(forward(reconstruction), forward(dataclasses.replace(
        cases["T1w -> T2w"], image=reconstruction.image)))
    # the run folder, or its two cards, give one method with both generators
    both = translation_methods([runs["cyclegan"] / "final" / "generator.json",
                                runs["cyclegan"] / "final" / "generator_ba.json", runs["pix2pix"]], device="cpu")
    assert [len(m.directions) for m in both] == [2, 1]
    # cards of two runs of one recipe pair up too (each direction shipped from its own run); of two recipes, not
    for recipe, pairs in (("cyclegan-t1-t2", [2]), ("another-recipe", [1, 1])):
        other = tmp_path / recipe
        other.mkdir()
        card = json.loads((runs["cyclegan"] / "final" / "generator_ba.json").read_text())
        card["config"]["loss"]["cycle_noise"] += 0.01
        card["config"]["name"] = recipe
        (other / "generator_ba.json").write_text(json.dumps(card))
        shutil.copy(runs["cyclegan"] / "final" / card["weights_file"], other / card["weights_file"])
        mixed = translation_methods([runs["cyclegan"] / "final" / "generator.json", other / "generator_ba.json"],
                                    device="cpu")
        assert [len(m.directions) for m in mixed] == pairs
    assert all(both[0].supports(degraded) for degraded in cases.values())

    result = run_suite("translate", n_slices=3, methods=["identity"], progress=False, models=both)
    for case in cases:
        rows = _rows(result, case, "cyclegan-t1-t2")
        assert len(rows) == 3 and all(np.isfinite(r["psnr_fg"]) for r in rows)
    assert "| T1w -> T2w -> T1w | cyclegan-t1-t2 |" in result.table
    assert "not run: pix2pix-7t-9t4: no case of its direction" in result.table

    field = run_suite("field", sample="colin27", n_slices=3, methods=["identity"], progress=False,
                      models=translation_methods([runs["pix2pix"]], device="cpu"))
    rows = _rows(field, "7T -> 9.4T", "pix2pix-7t-9t4")
    assert len(rows) == 3 and all(0.0 <= r["mse"] < 1.0 for r in rows)
    seams = {(r["method"], r["overlap"]) for r in field.extra["seams"]}
    assert {("pix2pix-7t-9t4", "hann"), ("pix2pix-7t-9t4", "average")} <= seams
    assert "| 7T -> 9.4T | pix2pix-7t-9t4 | hann | 32x32 every 16x16 |" in field.table


def test_a_flip_averaged_card_is_scored_so_and_in_one_pass_beside_it(runs, tmp_path):
    from mrigan.bench.runner import run_suite
    from mrigan.bench.translation_models import translation_methods

    card = json.loads((runs["cyclegan"] / "final" / "generator.json").read_text())
    card["inference"]["flip_average"] = True
    (tmp_path / "generator.json").write_text(json.dumps(card))
    shutil.copy(runs["cyclegan"] / "final" / card["weights_file"], tmp_path / card["weights_file"])
    methods = translation_methods([tmp_path / "generator.json"], device="cpu")
    assert [m.name for m in methods] == ["cyclegan-t1-t2", "cyclegan-t1-t2 (one pass)"]
    assert [m.flips(card) for m in methods] == [True, False]
    result = run_suite("translate", n_slices=2, methods=["identity"], progress=False, models=methods)
    averaged, one_pass = (_rows(result, "T1w -> T2w", name) for name in ("cyclegan-t1-t2", "cyclegan-t1-t2 (one pass)"))
    assert len(averaged) == len(one_pass) == 2
    assert [r["psnr_fg"] for r in averaged] != [r["psnr_fg"] for r in one_pass]
    assert len(translation_methods([tmp_path / "generator.json"], device="cpu", flip_average=False)) == 1


def test_cli_bench_translate_quick_prints_a_table(run_mrigan, tmp_path):
    result = run_mrigan("bench", "translate", "--quick", "--slices", "2", "--no-models", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "| case | method | psnr_fg | ssim_fg | mse_fg |" in result.stdout
    assert "| T1w -> T2w | histmatch |" in result.stdout
    assert (tmp_path / "translate.md").exists()


def test_cli_evaluate_scores_a_cyclegan_run_folder_with_its_round_trips(runs, run_mrigan, tmp_path):
    result = run_mrigan("evaluate", runs["cyclegan"], "--suite", "translate", "--quick", "--slices", "2",
                        "--methods", "identity", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    for case in ("T1w -> T2w", "T2w -> T1w", "T1w -> T2w -> T1w", "T2w -> T1w -> T2w"):
        assert f"| {case} | cyclegan-t1-t2 |" in result.stdout
    assert (tmp_path / "translate.csv").exists()


def test_cli_evaluate_refuses_a_model_the_suite_cannot_score(runs, run_mrigan, tmp_path):
    out = tmp_path / "out"
    result = run_mrigan("evaluate", runs["pix2pix"], "--suite", "translate", "--quick", "--slices", "2",
                        "--out", out)
    assert result.returncode == 2
    assert "no case of its direction in the translate suite (try --suite field)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()
