"""A user's own volumes for the translation recipes: pairs and unpaired folders, split by subject, bad input refused."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from mrigan.data.translation import domain_folders, paired_folder, split_by_subject, unpaired_validation
from mrigan.preprocess import robust_minmax

CONFIGS = Path("configs/translation")
TINY = ["generator.depth=3", "generator.base_channels=4", "generator.max_channels=8",
        "discriminator.base_channels=4", "discriminator.n_layers=2", "data.patch=[32,32]", "data.batch_size=2",
        "data.validation_slices=2", "trainer.device=cpu", "trainer.figures=false", "trainer.log_every=1"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def mni() -> tuple[np.ndarray, np.ndarray]:
    """The real MNI152 T1 (nilearn's package data) and its affine."""
    import nilearn.datasets

    image = nib.load(Path(nilearn.datasets.__file__).parent / "data" /
                     "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz")
    return np.asarray(image.dataobj, dtype=np.float32), image.affine


def _subject(mni, number: int, shape=(40, 40, 6)) -> np.ndarray:
    """A different slab of a small (4 x 4 x 2 mm) brain per subject, centred in plane (T1 intensities)."""
    data = mni[0][::4, ::4, ::2]  # (50, 59, 95)
    x, y, z = (data.shape[0] - shape[0]) // 2, (data.shape[1] - shape[1]) // 2, 30 + 4 * number
    return data[x : x + shape[0], y : y + shape[1], z : z + shape[2]].copy()


def _t2_like(t1: np.ndarray) -> np.ndarray:
    """A second contrast of the same block: dark and bright swap inside the head."""
    return np.where(t1 > 0, t1.max() + 20 - t1, 0).astype(np.float32)


def _save(array: np.ndarray, path: Path, affine=np.eye(4)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array.astype(np.float32), affine), path)
    return path


@pytest.fixture()
def pairs(tmp_path, mni) -> Path:
    """Six registered subjects: pairs/source/sub-0N.nii.gz (T1) and pairs/target/sub-0N.nii.gz (T2-like)."""
    for number in range(6):
        t1 = _subject(mni, number)
        _save(t1, tmp_path / "pairs" / "source" / f"sub-0{number}.nii.gz")
        _save(_t2_like(t1), tmp_path / "pairs" / "target" / f"sub-0{number}.nii.gz")
    return tmp_path / "pairs"


def test_split_by_subject_is_seeded_disjoint_and_fills_every_part():
    names = [f"s{i}" for i in range(10)]
    train, validation, test = split_by_subject(names, seed=3)
    assert (len(train), len(validation), len(test)) == (7, 2, 1)
    assert sorted(train + validation + test) == sorted(names)
    assert split_by_subject(names, seed=3) == (train, validation, test)
    assert split_by_subject(names, seed=4) != (train, validation, test)
    assert [len(part) for part in split_by_subject(names[:5])] == [3, 1, 1]
    assert [len(part) for part in split_by_subject(names[:3])] == [1, 1, 1]
    with pytest.raises(ValueError, match="2 subject"):
        split_by_subject(names[:2])
    with pytest.raises(ValueError, match="summing to 1"):
        split_by_subject(names, (0.5, 0.2, 0.2))


def test_pairs_are_split_by_subject_normalised_and_the_test_part_never_loaded(pairs, monkeypatch):
    import mrigan.data.translation as translation

    loaded = []
    original = translation.load_user_volume
    monkeypatch.setattr(translation, "load_user_volume",
                        lambda path, **kw: loaded.append(Path(path).name) or original(path, **kw))
    split = paired_folder(pairs, patch=[32, 32], seed=0)
    train_ids = {v.subject_id for v in split.train}
    validation_ids = {v.subject_id for v in split.validation}
    assert (len(train_ids), len(validation_ids), len(split.test)) == (4, 1, 1)
    assert not train_ids & validation_ids and not (train_ids | validation_ids) & set(split.test)
    assert not any(name.startswith(tuple(split.test)) for name in loaded)  # test files are never read
    assert len(loaded) == 2 * 5
    volume = split.train[0]
    source = nib.load(pairs / "source" / f"{volume.subject_id}.nii.gz").get_fdata(dtype=np.float32)
    np.testing.assert_allclose(volume.image, robust_minmax(source, low=0.1, high=99.9), atol=1e-6)
    assert volume.image.shape == volume.target.shape == volume.brain.shape == source.shape
    assert volume.target.min() == 0 and volume.target.max() == 1 and volume.brain.mean() > 0.2
    assert paired_folder(pairs, patch=[32, 32], seed=0).test == split.test  # seeded


def test_paired_training_on_user_pairs_writes_a_loadable_model(tmp_path, pairs):
    from mrigan.checkpoint import load_model
    from mrigan.training import run_train

    overrides = [*TINY, f"data.pairs={pairs}", "data.patches_per_volume=2", "trainer.max_steps=5",
                 "trainer.val_every=5", "trainer.checkpoint_every=5"]
    run_dir = run_train(CONFIGS / "pix2pix_t1_t2.yaml", overrides=overrides, resume=None, out=tmp_path / "run")
    rows = (run_dir / "metrics" / "train.csv").read_text().splitlines()
    assert len(rows) == 6 and np.all(np.isfinite([float(v) for v in rows[-1].split(",")[2:]]))
    generator, card = load_model(run_dir / "final" / "generator.json")
    data = card["training"]["data"]
    assert data["pairs"] == str(pairs) and data["split"] == [0.7, 0.2, 0.1] and len(data["test_subjects"]["pairs"]) == 1
    with torch.no_grad():
        assert generator(torch.rand(1, 1, 40, 40)).shape == (1, 1, 40, 40)


def _png(array: np.ndarray, path: Path, *, rgb: bool = False) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.clip(array / array.max() * 255, 0, 255).astype(np.uint8)
    Image.fromarray(np.stack([pixels] * 3, axis=-1) if rgb else pixels).save(path)
    return path


@pytest.fixture()
def domains(tmp_path, mni) -> tuple[Path, Path]:
    """Unpaired grey PNG slices: 5 T1 subjects in a/, 6 other T2-like subjects in b/."""
    for number in range(5):
        _png(_subject(mni, number, (48, 40, 1))[..., 0], tmp_path / "a" / f"t1_{number}.png")
    for number in range(5, 11):
        _png(_t2_like(_subject(mni, number, (40, 44, 1)))[..., 0], tmp_path / "b" / f"t2_{number}.png")
    return tmp_path / "a", tmp_path / "b"


def test_cyclegan_on_unpaired_folders_validates_the_round_trips(domains):
    from mrigan.tasks.translate import CycleGANTask, build_unpaired_datasets
    from mrigan.training import load_run_config

    split_a, split_b = domain_folders(*domains, patch=[32, 32])
    assert [len(split_a.train), len(split_a.validation), len(split_a.test)] == [3, 1, 1]
    assert [len(split_b.train), len(split_b.validation), len(split_b.test)] == [4, 1, 1]
    (combined,) = unpaired_validation(split_a.validation, split_b.validation)
    assert combined.image.shape == combined.target.shape == (48, 44, 1)

    config = load_run_config(CONFIGS / "cyclegan_t1_t2.yaml",
                             [*TINY, f"data.domain_a={domains[0]}", f"data.domain_b={domains[1]}"])
    train, validation = build_unpaired_datasets(config)
    item = train[0]
    assert item["a"].shape == item["b"].shape == (1, 32, 32)
    assert {train.volumes_a[item["a_volume"]].subject_id} <= {v.subject_id for v in split_a.train}
    task = CycleGANTask(config)
    batch = {key: torch.from_numpy(np.stack([validation[0][key]])) for key in
             ("input", "input_true", "target", "target_true", "brain", "field")}
    metrics = task.validation_step(batch, {name: m.eval() for name, m in task.modules().items()})
    assert "a2b_ssim_fg" not in metrics and "a2a_ssim_fg" not in metrics
    assert np.isfinite(metrics["a2b2a_ssim_fg"])
    assert metrics["ssim_fg"] == pytest.approx(0.5 * (metrics["a2b2a_ssim_fg"] + metrics["b2a2b_ssim_fg"]))


# ------------------------------------------------------------------------------------------------ bad input
def _bad_pairs(folder: Path, case: str, mni) -> tuple[str, str]:
    """Break the pairs folder one way; returns (config, the text the error line must hold)."""
    if case == "shapes":
        _save(_subject(mni, 2, (32, 40, 6)), folder / "source" / "sub-02.nii.gz")
        return "pix2pix_t1_t2.yaml", "sub-02.nii.gz: shape (40, 40, 6) but its source sub-02.nii.gz has (32, 40, 6)"
    if case == "partner":
        (folder / "target" / "sub-04.nii.gz").unlink()
        return "pix2pix_t1_t2.yaml", "source/sub-04.nii.gz: no partner in"
    if case == "4d":
        t1 = _subject(mni, 1)
        _save(np.stack([t1, t1], axis=-1), folder / "source" / "sub-01.nii.gz")
        return "pix2pix_t1_t2.yaml", "source/sub-01.nii.gz: 4D (2 volumes) but source/sub-00.nii.gz is 3D"
    if case == "small":
        t1 = _subject(mni, 3, (40, 24, 6))
        _save(t1, folder / "source" / "sub-03.nii.gz")
        _save(_t2_like(t1), folder / "target" / "sub-03.nii.gz")
        return "pix2pix_t1_t2.yaml", "sub-03.nii.gz: shape (40, 24, 6) is smaller than one 32x32 training patch"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["shapes", "partner", "4d", "small", "rgb"])
def test_bad_user_data_is_one_line_exit_2_and_nothing_written(tmp_path, pairs, mni, case, capsys):
    from mrigan.cli import main

    if case == "rgb":
        for number in range(3):
            _png(_subject(mni, number, (40, 40, 1))[..., 0], tmp_path / "a" / f"{number}.png")
            _png(_subject(mni, number + 3, (40, 40, 1))[..., 0], tmp_path / "b" / f"{number}.png", rgb=number == 1)
        config, expected = "cyclegan_t1_t2.yaml", "b/1.png: colour (RGB) but a/0.png is grey"
        data = [f"data.domain_a={tmp_path / 'a'}", f"data.domain_b={tmp_path / 'b'}"]
    else:
        config, expected = _bad_pairs(pairs, case, mni)
        data = [f"data.pairs={pairs}"]
    capsys.readouterr()
    code = main(["train", str(CONFIGS / config), "--out", str(tmp_path / "run"),
                 *(arg for override in [*TINY, *data, "trainer.max_steps=2"] for arg in ("--set", override))])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("mrigan: input error: ")
    assert expected in lines[0], lines[0]
    assert not (tmp_path / "run").exists()


def test_user_folder_options_that_do_not_go_together_are_refused(tmp_path, pairs):
    from mrigan.errors import UsageError
    from mrigan.tasks.translate import build_paired_datasets
    from mrigan.training import load_run_config

    for extra, message in (([f"data.domain_a={pairs}"], "come together"),
                           ([f"data.domain_a={pairs}", f"data.domain_b={pairs}"], "cyclegan recipe")):
        config = load_run_config(CONFIGS / "pix2pix_t1_t2.yaml", [*TINY, *extra])
        with pytest.raises(UsageError, match=message):
            build_paired_datasets(config)


def test_the_simulated_default_keeps_its_card_and_scores_all_four_directions():
    from mrigan.tasks.translate import CycleGANTask, training_data
    from mrigan.training import load_run_config

    config = load_run_config(CONFIGS / "cyclegan_t1_t2.yaml", TINY)
    assert not config.data.user_folders() and "colin27" in training_data(config)["held_out"]
    task = CycleGANTask(config)
    generator = torch.Generator().manual_seed(0)
    batch = {key: torch.rand((2, 1, 32, 32), generator=generator) for key in
             ("input", "input_true", "target", "target_true")}
    batch.update(brain=torch.ones((2, 1, 32, 32)), field=torch.ones((2, 1, 32, 32)))
    metrics = task.validation_step(batch, {name: m.eval() for name, m in task.modules().items()})
    assert metrics["ssim_fg"] == pytest.approx(0.5 * (metrics["a2b_ssim_fg"] + metrics["b2a_ssim_fg"]))


def test_zooms_must_be_positive_and_only_apply_to_simulated_anatomies(pairs):
    from mrigan.errors import UsageError
    from mrigan.tasks.translate import check_user_data
    from mrigan.training import load_run_config

    for extra, message in ((["data.zooms=[]"], "one or more positive"), (["data.zooms=[1,0]"], "one or more positive"),
                           ([f"data.pairs={pairs}", "data.zooms=[1,2]"], "does not apply to user folders")):
        with pytest.raises(UsageError, match=message):
            check_user_data(load_run_config(CONFIGS / "pix2pix_t1_t2.yaml", [*TINY, *extra]))
