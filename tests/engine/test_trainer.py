"""The shared training loop, in-process: run folder, checkpoints, EMA, early stopping, AMP, errors."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from tiny_task import NoisyPatterns, TinyGanTask

from mrigan import checkpoint
from mrigan.config import dump_config
from mrigan.engine import EarlyStoppingConfig, Trainer, TrainerConfig, make_loader, seed_everything
from mrigan.engine.ema import make_ema, update_ema, warmup_decay
from mrigan.engine.figures import as_display_slices
from mrigan.engine.logs import CsvLog
from mrigan.engine.state import load_checkpoint
from mrigan.engine.trainer import _amp_settings
from mrigan.errors import InputError, OutputError, UsageError


@dataclass
class RunConfig:
    """What a CLI would pass as the whole config."""

    recipe: str = "tiny"
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


def small_config(**changes) -> TrainerConfig:
    base = TrainerConfig(
        max_steps=6,
        log_every=2,
        val_every=0,
        checkpoint_every=3,
        keep_checkpoints=2,
        ema_decay=0.9,
        seed=3,
        deterministic=False,
        device="cpu",
        num_threads=1,
    )
    return dataclasses.replace(base, **changes)


def loaders(val: bool = True, batch: int = 4):
    train = make_loader(NoisyPatterns(count=12, seed=3), batch_size=batch, seed=3)
    validation = make_loader(NoisyPatterns(count=4, seed=9), batch_size=2, seed=0, shuffle=False) if val else None
    return train, validation


def fit(run_dir: Path, config: TrainerConfig, *, val: bool = True, resume=False, task=None, run_config=None):
    seed_everything(11)
    task = task or TinyGanTask()
    train, validation = loaders(val)
    result = Trainer(config, run_dir, run_config=run_config).fit(task, train, validation, resume=resume)
    return task, result


def weights(task: TinyGanTask) -> dict[str, torch.Tensor]:
    return {f"{n}.{k}": v.clone() for n, m in task.modules().items() for k, v in m.state_dict().items()}


def assert_same(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> None:
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fit_writes_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "MODEL_MODULES", (*checkpoint.MODEL_MODULES, "tiny_task"))
    config = small_config(val_every=3, early_stopping=EarlyStoppingConfig(metric="psnr", mode="max", patience=5))
    run_config = RunConfig(trainer=config)
    run = tmp_path / "run"
    task, result = fit(run, config, run_config=run_config)

    assert result.steps == 6 and not result.stopped_early and result.model_dir == run / "best"
    assert set(result.last_metrics) == {"l1", "psnr"} and result.best_step in (3, 6)
    assert yaml.safe_load((run / "config.yaml").read_text()) == yaml.safe_load(dump_config(run_config))
    train_rows = (run / "metrics" / "train.csv").read_text().splitlines()
    assert train_rows[0].startswith("step,epoch,loss_d,loss_g,lr_generator,lr_discriminator,grad_norm_")
    assert [row.split(",")[0] for row in train_rows[1:]] == ["2", "4", "6"]
    assert all(math.isfinite(float(x)) for row in train_rows[1:] for x in row.split(","))
    val_rows = (run / "metrics" / "val.csv").read_text().splitlines()
    assert val_rows[0] == "step,epoch,l1,psnr" and [row.split(",")[0] for row in val_rows[1:]] == ["3", "6"]
    if importlib.util.find_spec("tensorboard"):
        assert list((run / "tb").glob("events.out.tfevents.*"))
    else:
        assert "tensorboard is not installed" in (run / "train.log").read_text()
    assert (run / "figures" / "val_step_0000003.png").stat().st_size > 1000
    assert (run / "figures" / "loss_curves.png").stat().st_size > 1000
    assert (run / "train.log").read_text().count("INFO checkpoint ") == 2

    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step_0000003.pt", "step_0000006.pt"]
    assert (run / "checkpoints" / "latest").read_text().strip() == "step_0000006.pt"
    state = torch.load(run / "checkpoints" / "step_0000006.pt", weights_only=True)
    assert state["loop"]["step"] == 6 and state["loop"]["epoch"] == 1 and state["loop"]["batch_in_epoch"] == 3
    assert set(state["modules"]) == set(state["optimizers"]) == {"generator", "discriminator"}
    assert set(state["ema"]) == {"generator"} and len(state["rng"]) == 1
    assert_same({f"{n}.{k}": v for n, m in state["modules"].items() for k, v in m.items()}, weights(task))

    # exports: the EMA generator (not the raw one) and the discriminator, loadable without flags
    for kind in ("best", "final"):
        assert {p.name for p in (run / kind).iterdir()} == {
            "generator.json",
            "generator.safetensors",
            "discriminator.json",
            "discriminator.safetensors",
        }
    generator, card = checkpoint.load_model(run / "final" / "generator.json")
    assert card["task"] == "tiny" and card["training"]["steps"] == 6 and card["training"]["ema_decay"] == 0.9
    assert card["config"]["trainer"]["max_steps"] == 6 and card["metrics"] == result.last_metrics
    ema_weights = {
        k.removeprefix("module."): v for k, v in state["ema"]["generator"].items() if k.startswith("module.")
    }
    assert_same(generator.state_dict(), ema_weights)
    assert not torch.equal(ema_weights["body.0.weight"], task.generator.state_dict()["body.0.weight"])
    assert torch.equal(ema_weights["body.1.running_mean"], task.generator.state_dict()["body.1.running_mean"])


def test_resuming_a_finished_run_changes_nothing(tmp_path):
    run = tmp_path / "run"
    task, result = fit(run, small_config(val_every=3))
    files = sorted(p for p in run.rglob("*") if p.is_file() and "tb" not in p.parts and p.name != "train.log")
    before = {p: digest(p) for p in files}
    again, second = fit(run, small_config(val_every=3), resume=True)
    assert second.steps == 6 and second.resumed_from == run / "checkpoints" / "step_0000006.pt"
    assert second.last_metrics == result.last_metrics and second.exported == {}
    assert {p: digest(p) for p in files} == before
    assert sorted(p for p in run.rglob("*") if p.is_file() and "tb" not in p.parts and p.name != "train.log") == files
    assert_same(weights(again), weights(task))  # the task gets the trained weights back


def test_a_new_run_refuses_a_used_folder(tmp_path):
    fit(tmp_path / "run", small_config(max_steps=3), val=False)
    with pytest.raises(OutputError, match="already holds a training run"):
        fit(tmp_path / "run", small_config(max_steps=3), val=False)


def test_continuing_and_validating_do_not_change_the_trajectory(tmp_path):
    reference, _ = fit(tmp_path / "a", small_config(max_steps=9, checkpoint_every=0), val=False)
    # stopped at step 5 (mid-epoch, off the checkpoint grid), validated often, then continued to 9
    fit(tmp_path / "b", small_config(max_steps=5, val_every=2))
    continued, result = fit(tmp_path / "b", small_config(max_steps=9, val_every=2), resume=tmp_path / "b")
    assert result.steps == 9 and result.resumed_from.name == "step_0000005.pt"
    assert_same(weights(continued), weights(reference))
    steps = [row.split(",")[0] for row in (tmp_path / "b" / "metrics" / "val.csv").read_text().splitlines()[1:]]
    assert steps == ["2", "4", "5", "6", "8", "9"]


class ConstantMetricTask(TinyGanTask):
    def validation_step(self, batch, models):
        return {"score": 1.0}


def test_early_stopping_stops_and_keeps_the_best(tmp_path):
    config = small_config(max_steps=50, val_every=2, early_stopping=EarlyStoppingConfig(metric="score", patience=2))
    _, result = fit(tmp_path / "run", config, task=ConstantMetricTask())
    assert result.stopped_early and result.steps == 6 and result.best_step == 2 and result.best_metric == 1.0
    assert result.model_dir == tmp_path / "run" / "best"
    assert (tmp_path / "run" / "final" / "generator.safetensors").is_file()
    card = yaml.safe_load((tmp_path / "run" / "best" / "generator.json").read_text())
    assert card["training"]["steps"] == 2
    # resuming an early-stopped run does not train again
    _, again = fit(tmp_path / "run", config, task=ConstantMetricTask(), resume=True)
    assert again.steps == 6 and again.stopped_early


class SometimesUndefinedMetricTask(TinyGanTask):
    """"rare" is NaN on every other validation batch (a batch without the tissue it measures); "score" never."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def validation_step(self, batch, models):
        self.calls += 1
        return {"score": 1.0, "rare": float("nan") if self.calls % 2 else 0.25, "never": float("nan")}


def test_validation_averages_a_metric_over_the_batches_that_define_it(tmp_path):
    task = SometimesUndefinedMetricTask()
    fit(tmp_path / "run", small_config(max_steps=2, val_every=2), task=task)
    row = (tmp_path / "run" / "metrics" / "val.csv").read_text().splitlines()
    values = dict(zip(row[0].split(","), row[1].split(","), strict=True))
    assert task.calls >= 2 and float(values["score"]) == 1.0 and float(values["rare"]) == 0.25
    assert math.isnan(float(values["never"]))


def test_early_stopping_needs_its_metric(tmp_path):
    with pytest.raises(UsageError, match="needs a validation loader"):
        fit(tmp_path / "a", small_config(early_stopping=EarlyStoppingConfig(metric="psnr")), val=False)
    with pytest.raises(UsageError, match="'ssim' is not among the validation metrics: l1, psnr"):
        fit(tmp_path / "b", small_config(val_every=2, early_stopping=EarlyStoppingConfig(metric="ssim")))


def test_ema_averages_parameters_and_copies_buffers():
    module = torch.nn.BatchNorm1d(2)
    ema = make_ema(module, 0.75)
    with torch.no_grad():
        module.weight.fill_(2.0)
        module.running_mean.fill_(5.0)
    update_ema(ema, module)  # the first update copies
    assert torch.equal(ema.module.weight, module.weight)
    with torch.no_grad():
        module.weight.fill_(6.0)
        module.running_mean.fill_(7.0)
    update_ema(ema, module)
    decay = warmup_decay(0.75, 1)  # early updates use a smaller decay: min(0.75, 2 / 11)
    assert decay == pytest.approx(2 / 11)
    assert torch.allclose(ema.module.weight, torch.full((2,), decay * 2.0 + (1 - decay) * 6.0))
    assert torch.equal(ema.module.running_mean, module.running_mean)
    assert warmup_decay(0.75, 1000) == 0.75  # and the configured decay once warmed up
    assert not ema.module.weight.requires_grad and not ema.training


def test_amp_settings():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert _amp_settings("auto", cpu) == (None, False)
    assert _amp_settings("auto", cuda) == (torch.float16, True)
    assert _amp_settings("off", cuda) == (None, False)
    assert _amp_settings("bf16", cuda) == (torch.bfloat16, False)
    assert _amp_settings("fp16", cpu) == (torch.float16, True)


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_runs_and_checkpoints_its_scaler(tmp_path, amp):
    _, result = fit(tmp_path / "run", small_config(max_steps=2, checkpoint_every=0, amp=amp), val=False)
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "step_0000002.pt")
    assert result.steps == 2
    assert set(state["scalers"]) == ({"generator", "discriminator"} if amp == "fp16" else set())


class DivergingTask(TinyGanTask):
    def training_step(self, batch, step):
        values = super().training_step(batch, step)
        return {**values, "loss_g": float("nan") if step.global_step == 1 else values["loss_g"]}


def test_a_nan_loss_stops_the_run(tmp_path):
    with pytest.raises(FloatingPointError, match="step 2: loss_g=nan"):
        fit(tmp_path / "run", small_config(), val=False, task=DivergingTask())


class UnknownOptimizerTask(TinyGanTask):
    def training_step(self, batch, step):
        step.optimize("critic", self.generator(batch["input"]).mean())


def test_optimize_names_the_optimizers(tmp_path):
    with pytest.raises(UsageError, match="object is not a training task: it has no modules"):
        Trainer(small_config(), tmp_path / "x").fit(object(), loaders(val=False)[0])
    with pytest.raises(UsageError, match="no optimizer named 'critic'; the task configured: generator, discriminator"):
        fit(tmp_path / "run", small_config(), val=False, task=UnknownOptimizerTask())


def test_plain_dataloader_without_ema_or_validation(tmp_path):
    seed_everything(0)
    task = TinyGanTask()
    loader = torch.utils.data.DataLoader(NoisyPatterns(count=8), batch_size=4, shuffle=False)
    result = Trainer(small_config(max_steps=5, ema_decay=None), tmp_path / "run").fit(task, loader)
    assert result.steps == 5 and result.epoch == 2 and result.model_dir == tmp_path / "run" / "final"
    exported = checkpoint.read_card(result.exported["generator"])[0]
    assert exported["training"]["ema_decay"] is None
    empty = torch.utils.data.DataLoader(NoisyPatterns(count=2), batch_size=4, drop_last=True)
    with pytest.raises(UsageError, match="yields no batches"):
        Trainer(small_config(), tmp_path / "empty").fit(TinyGanTask(), empty)


def test_csv_log_drops_rows_after_the_checkpoint_and_grows_columns(tmp_path):
    path = tmp_path / "train.csv"
    log = CsvLog(path, keep_until_step=0)
    log.append({"step": 1, "epoch": 0, "a": 0.5})
    log.append({"step": 2, "epoch": 0, "a": 0.25, "b": 1.0})
    log.append({"step": 3, "epoch": 0, "a": 0.125, "b": 2.0})
    assert path.read_text().splitlines() == ["step,epoch,a,b", "1,0,0.5,", "2,0,0.25,1.0", "3,0,0.125,2.0"]
    reopened = CsvLog(path, keep_until_step=2)
    assert path.read_text().splitlines() == ["step,epoch,a,b", "1,0,0.5,", "2,0,0.25,1.0"]
    assert reopened.series("b") == ([2], [1.0])


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((8, 9), (1, 8, 9)), ((2, 8, 9), (2, 8, 9)), ((2, 3, 8, 9), (2, 8, 9)), ((2, 1, 5, 8, 9), (2, 8, 9))],
)
def test_display_slices(shape, expected):
    assert as_display_slices(np.zeros(shape)).shape == expected


def test_init_from_starts_a_new_run_from_another_runs_weights(tmp_path):
    from tiny_task import TinyGenerator

    source, _ = fit(tmp_path / "source", small_config(val_every=3))
    trained = {k: v.clone() for k, v in source.generator.state_dict().items()}
    # learning rates of 0: after one step the parameters are still the ones loaded (BatchNorm statistics move)
    frozen = TinyGanTask(lr_generator=0.0, lr_discriminator=0.0)
    train, validation = loaders()
    result = Trainer(small_config(max_steps=1, val_every=1), tmp_path / "tuned").fit(
        frozen, train, validation, init_from=tmp_path / "source")
    assert result.steps == 1 and result.resumed_from is None
    for name, parameter in frozen.generator.named_parameters():
        assert torch.equal(parameter, trained[name]), name
    card = yaml.safe_load((tmp_path / "tuned" / "final" / "generator.json").read_text())
    origin = card["training"]["initialised_from"]
    checkpoint_file = tmp_path / "source" / "checkpoints" / "step_0000006.pt"
    assert origin == {"checkpoint": str(checkpoint_file), "sha256": digest(checkpoint_file), "step": 6,
                      "modules": ["discriminator", "generator"]}
    assert card["training"]["steps"] == 1
    # resuming the fine-tuned run keeps its origin in the cards
    Trainer(small_config(max_steps=2, val_every=1), tmp_path / "tuned").fit(
        TinyGanTask(), *loaders(), resume=True)
    card = yaml.safe_load((tmp_path / "tuned" / "final" / "generator.json").read_text())
    assert card["training"]["steps"] == 2 and card["training"]["initialised_from"] == origin

    wider = TinyGanTask()
    wider.generator = TinyGenerator(width=8)
    with pytest.raises(InputError, match="its generator does not fit this config's network"):
        Trainer(small_config(max_steps=1), tmp_path / "wider").fit(wider, train, init_from=tmp_path / "source")
    with pytest.raises(InputError, match="no training checkpoint"):
        Trainer(small_config(max_steps=1), tmp_path / "none").fit(TinyGanTask(), train, init_from=tmp_path)


@pytest.mark.parametrize("how", ["the checkpoint lacks it", "trainer.fresh_modules names it"])
def test_init_from_a_checkpoint_without_the_discriminator_starts_it_fresh(tmp_path, how):
    source, _ = fit(tmp_path / "source", small_config())
    full = tmp_path / "source" / "checkpoints" / "step_0000006.pt"
    payload = load_checkpoint(full, map_location="cpu")
    payload["modules"].pop("discriminator")  # as a generator-only (pixel-loss) run writes it
    generator_only = tmp_path / "cnn.pt"
    torch.save(payload, generator_only)
    seed_everything(5)
    tuned = TinyGanTask(lr_generator=0.0, lr_discriminator=0.0)
    fresh = {k: v.clone() for k, v in tuned.discriminator.state_dict().items()}
    if how == "the checkpoint lacks it":
        Trainer(small_config(max_steps=1), tmp_path / "gan").fit(tuned, *loaders(val=False), init_from=generator_only)
    else:
        Trainer(small_config(max_steps=1, fresh_modules=["discriminator"]), tmp_path / "gan").fit(
            tuned, *loaders(val=False), init_from=full)
    for name, parameter in tuned.generator.named_parameters():
        assert torch.equal(parameter, source.generator.state_dict()[name]), name
    for name, parameter in tuned.discriminator.named_parameters():
        assert torch.equal(parameter, fresh[name]), name
        assert not torch.equal(parameter, source.discriminator.state_dict()[name]), name
    card = yaml.safe_load((tmp_path / "gan" / "final" / "generator.json").read_text())
    assert card["training"]["initialised_from"]["modules"] == ["generator"]

    payload["modules"]["critic"] = payload["modules"]["generator"]
    torch.save(payload, tmp_path / "extra.pt")
    with pytest.raises(InputError, match=r"holds modules \['critic', 'generator'\]"):
        Trainer(small_config(max_steps=1), tmp_path / "extra").fit(
            TinyGanTask(), *loaders(val=False), init_from=tmp_path / "extra.pt")
    with pytest.raises(UsageError, match=r"fresh_modules names \['critic'\]"):
        Trainer(small_config(max_steps=1, fresh_modules=["critic"]), tmp_path / "critic").fit(
            TinyGanTask(), *loaders(val=False), init_from=full)


@pytest.mark.parametrize("frozen, trained", [("discriminator", "generator"), ("generator", "discriminator")])
def test_frozen_modules_keep_their_weights_while_the_others_train_through_them(tmp_path, frozen, trained):
    seed_everything(5)
    task = TinyGanTask()
    before = {name: {k: v.clone() for k, v in module.named_parameters()} for name, module in task.modules().items()}
    Trainer(small_config(max_steps=3, frozen_modules=[frozen]), tmp_path / "run").fit(task, *loaders(val=False))
    for key, value in getattr(task, frozen).named_parameters():
        assert torch.equal(value, before[frozen][key]), key
    # the other module still trains
    assert any(not torch.equal(value, before[trained][key]) for key, value in getattr(task, trained).named_parameters())
    assert "frozen (weights kept as they are): " + frozen in (tmp_path / "run" / "train.log").read_text()
    with pytest.raises(UsageError, match=r"frozen_modules names \['critic'\]"):
        Trainer(small_config(max_steps=1, frozen_modules=["critic"]), tmp_path / "critic").fit(
            TinyGanTask(), *loaders(val=False))


class DecayingTask(TinyGanTask):
    """The tiny task with the recipes' linear learning-rate decay over its last 4 of 8 steps."""

    def configure_schedulers(self, optimizers):
        from mrigan.tasks.restore import OptimConfig

        return OptimConfig(decay_steps=4).schedulers(optimizers, max_steps=8)


def logged_rates(run_dir: Path) -> list[float]:
    rows = (run_dir / "metrics" / "train.csv").read_text().splitlines()
    column = rows[0].split(",").index("lr_generator")
    return [float(row.split(",")[column]) / 2e-3 for row in rows[1:]]


def test_learning_rates_decay_linearly_and_resume_on_schedule(tmp_path):
    from mrigan.tasks.restore import OptimConfig

    every_step = small_config(max_steps=8, log_every=1, checkpoint_every=0)
    fit(tmp_path / "a", every_step, val=False, task=DecayingTask())
    # logged after each step: the rate of the step that follows
    assert logged_rates(tmp_path / "a") == pytest.approx([1, 1, 1, 1, 0.75, 0.5, 0.25, 0.0])
    # a run checkpointed before it had a schedule resumes with the schedule at its own step
    fit(tmp_path / "b", small_config(max_steps=6, log_every=1, checkpoint_every=6), val=False)
    fit(tmp_path / "b", every_step, val=False, resume=True, task=DecayingTask())
    assert logged_rates(tmp_path / "b") == pytest.approx([1, 1, 1, 1, 1, 1, 0.25, 0.0])
    log = (tmp_path / "b" / "train.log").read_text()
    assert "has no generator learning-rate schedule: starting it at step 6" in log
    optimizers = TinyGanTask().configure_optimizers()
    with pytest.raises(UsageError, match=r"optim.decay_steps \(4\) is more than trainer.max_steps \(3\)"):
        OptimConfig(decay_steps=4).schedulers(optimizers, max_steps=3)
    with pytest.raises(ValueError, match="decay_steps must be >= 0"):
        OptimConfig(decay_steps=-1)
