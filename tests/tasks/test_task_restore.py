"""The UMR-GAN recipe: a few real training steps on real anatomy, an exported self-describing model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mrigan.errors import UsageError
from mrigan.training import load_run_config, run_train

TINY = [
    "data.samples=[mni152]", "data.crop=32", "data.batch_size=2", "data.validation_slices=2",
    "generator.depth=3", "generator.base_channels=4", "generator.residual_blocks=1",
    "discriminator.base_channels=4", "discriminator.n_layers=2", "loss.perceptual=0", "loss.ssim_warmup_steps=1",
    "trainer.max_steps=2", "trainer.log_every=1", "trainer.val_every=2", "trainer.checkpoint_every=2",
    "trainer.device=cpu", "trainer.figures=false",
]


def test_two_steps_train_and_export_a_loadable_model(tmp_path):
    from mrigan.checkpoint import load_model

    run_dir = run_train("configs/umr_gan.yaml", overrides=TINY, resume=None, out=tmp_path / "run")
    rows = (run_dir / "metrics" / "train.csv").read_text().splitlines()
    assert len(rows) == 3 and "loss_g" in rows[0]
    values = [float(v) for v in rows[-1].split(",")[2:]]
    assert np.all(np.isfinite(values))
    card_path = next((run_dir / kind / "generator.json" for kind in ("best", "final")
                      if (run_dir / kind / "generator.json").exists()))
    generator, card = load_model(card_path)
    assert card["task"] == "restore"
    assert card["conditioning"] == {"use_mask": True, "use_sigma": True, "context": 1, "num_classes": 0}
    assert card["intensity"]["normalise"] == "robust_minmax"
    assert "colin27" in json.dumps(card["training"])  # says what was held out
    assert generator(__import__("torch").zeros(1, 5, 32, 32)).shape == (1, 1, 32, 32)


def test_colin27_cannot_be_trained_on():
    config = load_run_config("configs/umr_gan.yaml", ["data.samples=[mni152,colin27]"])
    from mrigan.tasks.restore import training_subjects

    with pytest.raises(UsageError, match="held-out"):
        training_subjects(config)


def test_validation_slab_is_not_trained_on():
    from mrigan.tasks.restore import training_subjects

    config = load_run_config("configs/umr_gan.yaml", ["data.samples=[mni152]"])
    train, validation = training_subjects(config)
    train_slices = train[0].extra["allowed_slices"]
    validation_slices = validation[0].extra["allowed_slices"]
    assert validation_slices.sum() > 0 and not np.any(train_slices & validation_slices)
    # the slices next to the slab (2.5D context) are kept out of training too
    edges = np.nonzero(np.diff(validation_slices.astype(int)))[0]
    assert not train_slices[edges].any() and not train_slices[edges + 1].any()


def test_every_ablation_config_builds_a_valid_config():
    from pathlib import Path

    import yaml

    folder = Path("configs/ablations")
    base = yaml.safe_load((folder / "base.yaml").read_text())["overrides"]
    names = sorted(p.stem for p in folder.glob("*.yaml") if p.stem != "base")
    assert {"full", "no_mask", "no_sigma", "context_0", "perceptual_0", "ssim_0", "ssim_0.5", "ttur",
            "no_spectral_norm"} <= set(names)
    for name in names:
        extra = yaml.safe_load((folder / f"{name}.yaml").read_text())["overrides"] or []
        config = load_run_config("configs/umr_gan.yaml", base + extra)
        assert config.trainer.max_steps == 1000 and config.generator.depth == 4
        assert config.loss.adversarial_start_step < config.trainer.max_steps  # every GAN ablation sees its GAN
    assert not load_run_config("configs/umr_gan.yaml", base + ["conditioning.use_mask=false"]).conditioning.use_mask


def test_residual_generator_starts_as_the_identity():
    import torch

    from mrigan.tasks.restore import build_generator

    config = load_run_config("configs/umr_gan.yaml", ["generator.depth=3"])
    generator = build_generator(config)
    x = torch.rand(2, config.conditioning.channels, 32, 32)
    assert torch.equal(generator(x), x[:, :1])


def test_reconstruction_warm_start_delays_the_discriminator(tmp_path):
    import csv

    run_dir = run_train("configs/umr_gan.yaml", overrides=[*TINY, "loss.adversarial_start_step=1"], resume=None,
                        out=tmp_path / "run")
    with (run_dir / "metrics" / "train.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert [row["loss_d"] != "" for row in rows] == [False, True]
    assert rows[0]["l1"] != "" and rows[1]["adv_g"] != ""
