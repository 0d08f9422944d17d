"""The super-resolution recipe: every generator kind trains, schedules switch, a run exports a usable model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mrigan.data.subjects import subject_from_array
from mrigan.engine import StepContext
from mrigan.engine.distributed import DistributedContext
from mrigan.errors import UsageError
from mrigan.tasks.super_resolve import (
    LossSchedule,
    SuperResolveTask,
    build_generator,
    input_of,
    upscale,
)
from mrigan.training import load_run_config, run_train

SMALL = {
    "cnn": "{channels: [8, 8], kernel_sizes: [3, 3]}",
    "cnn_fixed": "{channels: [4], kernel_sizes: [3]}",
    "srgan": "{channels: [8, 8, 4, 4]}",
    "esrgan": "{num_features: 8, growth_channels: 4, num_blocks: 1}",
    "fcn": "{channels: 8, num_layers: 2}",
    "fcn2": "{channels: 4, num_layers: 3, downsamplings: 1}",
    "dcsrn": "{num_layers: 2, growth_channels: 4, initial_channels: 4}",
}
SMALL_D = "discriminator.kwargs={channels: [4, 8], dense_channels: 8}"


def tiny(kind: str = "cnn", *extra: str) -> list[str]:
    return [f"generator.kind={kind}", f"generator.kwargs={SMALL[kind]}", "data.crop=32", "data.validation_crop=32",
            "data.batch_size=2", SMALL_D, *extra]


@pytest.fixture(scope="module")
def batch(mni_block):
    """Two real 32 x 32 MNI152 windows per input kind, made by the task's own dataset."""
    from mrigan.data.sr_pairs import SRPairDataset

    subjects = [subject_from_array("mni", mni_block[0])]
    batches = {}
    for input_kind in ("low_res", "upsampled"):
        dataset = SRPairDataset(subjects, scale=2, size=32, input=input_kind, seed=0)
        items = [dataset[i] for i in (0, len(dataset) - 1)]
        batches[input_kind] = {key: torch.from_numpy(np.stack([item[key] for item in items])) for key in items[0]}
    return batches


def _steps(task: SuperResolveTask, batch, count: int) -> list[dict[str, float]]:
    optimizers = task.configure_optimizers()
    logs = []
    for i in range(count):
        step = StepContext(optimizers=optimizers, scalers={}, amp_dtype=None, grad_clip=1.0,
                           device=torch.device("cpu"), distributed=DistributedContext(), global_step=i, epoch=0)
        logs.append(task.training_step(batch, step))
    return logs


@pytest.mark.parametrize("kind, extra", [
    ("cnn", []),
    ("cnn_fixed", []),
    ("srgan", ["generator.residual=false", "loss.adversarial=0.01", "loss.perceptual=0.1", "loss.gdl=0.1"]),
    ("esrgan", ["loss.adversarial=0.01", "loss.adversarial_mode=relativistic", "loss.schedule=l1"]),
    ("fcn", ["loss.schedule=ssim_mse"]),
    ("fcn2", ["loss.schedule=ssim"]),
    ("dcsrn", []),
])
def test_every_kind_trains_with_finite_losses_and_the_right_shape(batch, kind, extra):
    torch.manual_seed(0)
    config = load_run_config(None, tiny(kind, *extra), task="super_resolve")
    task = SuperResolveTask(config)
    data = batch[input_of(config)]
    logs = _steps(task, data, 2)
    assert all(np.isfinite(value) for row in logs for value in row.values())
    models = {name: module.eval() for name, module in task.modules().items()}
    metrics = task.validation_step(data, models)
    assert task.generator(data["input"]).shape == data["target"].shape == (2, 1, 32, 32)
    assert np.isfinite(metrics["psnr_fg"]) and 0 < metrics["ssim"] <= 1
    if task.discriminator is not None:  # the seed-001 GAN scores, on training and validation batches
        for scores in (logs[-1], metrics):
            assert 0 <= scores["score_g"] <= 1 and 0 <= scores["score_d"] <= 1


def test_cnn_overfits_a_batch_from_bicubic_on(batch):
    torch.manual_seed(0)
    task = SuperResolveTask(load_run_config(None, tiny("cnn", "optim.lr_generator=0.003"), task="super_resolve"))
    data = batch["low_res"]
    start = task.generator(data["input"])  # zero-initialised last layer: exactly the bench's bicubic
    torch.testing.assert_close(start, data["bicubic"], atol=1e-4, rtol=0)
    logs = _steps(task, data, 25)
    assert logs[-1]["mse"] < 0.8 * logs[0]["mse"]


def test_ssim_then_mse_switches_on_a_plateau_or_at_the_step():
    config = load_run_config(None, ["loss.schedule=ssim_then_mse", "loss.switch_patience=2"], task="super_resolve")
    schedule = LossSchedule(config.loss)
    for value in (0.20, 0.10, 0.10):  # improves, then plateaus once
        schedule.observe(value, 4)
        schedule.update(step=10)
    assert schedule.active == "ssim" and schedule.bad == 1
    resumed = LossSchedule(config.loss)
    resumed.load_state_dict(schedule.state_dict())
    resumed.observe(0.1, 4)
    resumed.update(step=20)
    assert resumed.active == "mse" and resumed.switched_at == 20
    at_step = LossSchedule(load_run_config(None, ["loss.schedule=ssim_then_mse", "loss.switch_step=5"],
                                           task="super_resolve").loss)
    at_step.update(step=4)
    assert at_step.active == "ssim"
    at_step.update(step=5)
    assert at_step.active == "mse"


@pytest.mark.parametrize("name", ["cnn_mse", "cnn_ssim", "cnn_ssim_mse", "cnn_ssim_then_mse", "srgan", "esrgan"])
def test_every_sr_config_builds_its_recipe_at_2x_and_4x(name):
    from mrigan.training import task_of

    path = f"configs/sr/{name}.yaml"
    assert task_of(path) == "super_resolve"
    for scale in (2, 4):
        task = SuperResolveTask(load_run_config(path, [f"scale={scale}"]))
        low = torch.rand(1, 1, 16, 16)
        assert task.generator(low).shape == (1, 1, 16 * scale, 16 * scale)
        assert (task.discriminator is not None) == (name in ("srgan", "esrgan"))
    schedules = {"cnn_ssim_mse": "ssim_mse", "cnn_ssim_then_mse": "ssim_then_mse", "esrgan": "l1"}
    assert task.config.loss.schedule == schedules.get(name, name.removeprefix("cnn_") if "cnn" in name else "mse")


def test_bad_settings_are_usage_errors():
    with pytest.raises(UsageError, match="scale"):
        load_run_config(None, ["scale=3"], task="super_resolve")
    with pytest.raises(UsageError, match="generator.kind"):
        load_run_config(None, ["generator.kind=vdsr"], task="super_resolve")
    config = load_run_config(None, ["loss.schedule=ssim_then_mse", "loss.switch_patience=9"], task="super_resolve")
    with pytest.raises(UsageError, match="switch_patience"):
        SuperResolveTask(config)
    with pytest.raises(UsageError, match="held-out"):
        from mrigan.tasks.super_resolve import training_subjects

        training_subjects(load_run_config(None, ["data.samples=[colin27]"], task="super_resolve"))


@pytest.mark.parametrize("kind", ["cnn", "fcn"])
def test_upscale_runs_images_and_volumes(kind):
    config = load_run_config(None, tiny(kind, "scale=4"), task="super_resolve")
    generator = build_generator(config).eval()
    card = {"super_resolution": {"scale": 4, "input": input_of(config), "multiple": 1}}
    image = np.random.default_rng(0).random((10, 12), dtype=np.float32)
    assert upscale(generator, card, image).shape == (40, 48)
    assert upscale(generator, card, np.stack([image] * 3, axis=-1)).shape == (40, 48, 3)
    with pytest.raises(ValueError, match="takes 8 x 8"):
        upscale(generator, {"super_resolution": {**card["super_resolution"], "fixed_input_size": 8}}, image)


def test_train_end_to_end_switches_schedule_and_exports_a_self_describing_model(tmp_path):
    from mrigan.checkpoint import load_model

    overrides = tiny("cnn", "data.samples=[mni152]", "data.validation_slices=2", "loss.schedule=ssim_then_mse",
                     "loss.switch_step=2", "trainer.max_steps=3", "trainer.log_every=1", "trainer.val_every=3",
                     "trainer.checkpoint_every=3", "trainer.device=cpu", "trainer.figures=false")
    run_dir = run_train("configs/sr/cnn_mse.yaml", overrides=overrides, resume=None, out=tmp_path / "run")
    import csv

    rows = list(csv.DictReader(open(run_dir / "metrics" / "train.csv")))
    assert [float(row["phase"]) for row in rows] == [0.0, 0.0, 1.0]  # SSIM, then MSE from step 2
    assert all(np.isfinite(float(row["loss_g"])) for row in rows)
    validation = list(csv.DictReader(open(run_dir / "metrics" / "val.csv")))
    assert {"psnr_fg", "ssim", "psnr_fg_bicubic"} <= set(validation[0])
    generator, card = load_model(run_dir / "final" / "generator.json")
    assert card["task"] == "super_resolve"
    assert card["super_resolution"]["scale"] == 2 and card["super_resolution"]["input"] == "low_res"
    assert "colin27" in card["training"]["data"]["held_out"]
    assert generator(torch.zeros(1, 1, 16, 20)).shape == (1, 1, 32, 40)
    # the bench's sr suite can score it beside the baselines, in-plane and through-plane
    from mrigan.bench.sr_models import SRModelMethod
    from mrigan.commands import _model_method
    from mrigan.physics import Decimate
    from mrigan.physics.base import Degraded

    method = _model_method(run_dir / "final" / "generator.json", "sr")  # what `mrigan bench sr -m RUN` uses
    assert isinstance(method, SRModelMethod)
    clean = np.random.default_rng(0).random((21, 18, 3), dtype=np.float32)
    assert method(Decimate(factor=2, axes=(0, 1))(clean)).shape == (21, 18, 3)
    real_pair = Degraded(image=clean[:5, :4, :2], source_shape=(10, 8, 4), zoom=(0.5, 0.5, 0.5))
    assert method(real_pair).shape == (10, 8, 4)
    bicubic_slices = SRModelMethod(run_dir / "final" / "generator.json", through_plane="bicubic")
    assert bicubic_slices(real_pair).shape == (10, 8, 4)
    assert not np.allclose(bicubic_slices(real_pair), method(real_pair))  # the model refined the slices
    with pytest.raises(ValueError, match="upscales by 2"):
        method(Decimate(factor=4, axes=(0, 1))(clean))


def test_through_plane_upscaling_gives_finer_slices_and_keeps_a_linear_ramp():
    from mrigan.tasks.super_resolve import upscale_through_plane

    config = load_run_config(None, tiny("cnn"), task="super_resolve")
    generator = build_generator(config).eval()
    torch.nn.init.zeros_(generator.body.to_output.weight)  # the network adds nothing: bicubic through the skip
    card = {"super_resolution": {"scale": 2, "input": input_of(config), "multiple": 1}}
    z = np.arange(12, dtype=np.float32)
    volume = np.broadcast_to(0.2 + 0.05 * z, (10, 11, 12)).copy()
    with torch.inference_mode():
        finer = upscale_through_plane(generator, card, volume)
    assert finer.shape == (10, 11, 24)
    expected = 0.2 + 0.05 * ((np.arange(24) + 0.5) / 2 - 0.5)  # fine slice j sits at (j + 0.5) / 2 - 0.5
    np.testing.assert_allclose(finer[:, :, 4:-4], np.broadcast_to(expected[4:-4], (10, 11, 16)), atol=2e-3)
    with pytest.raises(ValueError, match="3D volume"):
        upscale_through_plane(generator, card, volume[:, :, 0])
