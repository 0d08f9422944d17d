"""The training loop every task shares: AMP, EMA, gradient clipping, validation, early stopping, checkpoints with
exact resume, logs and figures, and data-parallel training under torchrun.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import yaml
from torch import nn
from torch.utils.data import DataLoader

from mrigan.config import config_to_dict, dump_config
from mrigan.engine.data import ResumableSampler, batch_size_of, move_to_device, set_loader_epoch
from mrigan.engine.distributed import (
    DistributedContext,
    broadcast_buffers,
    broadcast_module_state,
    setup_distributed,
)
from mrigan.engine.ema import make_ema, update_ema
from mrigan.engine.logs import CsvLog, Progress, TensorBoardLog, logger
from mrigan.engine.state import (
    CHECKPOINT_FORMAT,
    capture_rng_state,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    preserved_rng,
    prune_checkpoints,
    remove_stale_temporaries,
    restore_rng_state,
    save_checkpoint,
    seed_everything,
)
from mrigan.engine.task import StepContext, TrainingTask
from mrigan.errors import InputError, OutputError, UsageError


@dataclass
class EarlyStoppingConfig:
    """Stop when a validation metric has not improved for `patience` validations.

    Attributes:
        metric: name of a metric returned by `validation_step` (e.g. "ssim"); None disables early stopping
            and the `best/` export.
        mode: "max" if larger is better (PSNR, SSIM), "min" otherwise (L1, NRMSE).
        patience: validations without improvement before stopping.
    """

    metric: str | None = None
    mode: Literal["max", "min"] = "max"
    patience: int = 10

    def __post_init__(self) -> None:
        if self.patience < 1:
            raise ValueError(f"early_stopping.patience must be >= 1 (got {self.patience})")


@dataclass
class TrainerConfig:
    """How to train (the data's batch size and the recipe's losses live elsewhere).

    Attributes:
        max_steps: training steps (one `training_step` call each); the loop runs over as many epochs as needed.
        log_every: steps between rows of metrics/train.csv (means over those steps).
        val_every: steps between validations (0: only at the end).
        checkpoint_every: steps between training checkpoints (0: only at the end).
        keep_checkpoints: newest checkpoints kept (0 keeps all).
        amp: mixed precision: "auto" (fp16 + GradScaler on CUDA, off on CPU), "off", "bf16" or "fp16".
        grad_clip: max total gradient norm per optimizer group; None disables.
        ema_decay: decay of the weights' moving average kept for `task.ema_targets()`; None disables.
        early_stopping: metric, mode and patience (see EarlyStoppingConfig).
        seed: seeds python, numpy and torch (each process adds its rank).
        deterministic: deterministic algorithms (warn only), cudnn.deterministic, no cudnn benchmark, and
            CUBLAS_WORKSPACE_CONFIG on CUDA.
        device: "auto", "cpu" or "cuda" (under torchrun, each process takes GPU LOCAL_RANK).
        num_threads: torch CPU threads (None leaves torch's default).
        figures: draw sample triplets at each validation and loss curves at each checkpoint (matplotlib).
        fresh_modules: when fine-tuning (`init_from`), modules that start fresh instead of from the checkpoint,
            e.g. [discriminator_a, discriminator_b] to give a CycleGAN new discriminators of another norm.
        frozen_modules: modules whose weights stay as they are: their parameters are left out of every optimizer
            (a module still passes gradients on to the modules before it), e.g. [generator_ba] to let a
            CycleGAN's T1w -> T2w generator and discriminators adapt to a shipped T2w -> T1w generator.
    """

    max_steps: int = 10_000
    log_every: int = 50
    val_every: int = 1_000
    checkpoint_every: int = 1_000
    keep_checkpoints: int = 3
    amp: Literal["auto", "off", "bf16", "fp16"] = "auto"
    grad_clip: float | None = 1.0
    ema_decay: float | None = 0.999
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    seed: int = 0
    deterministic: bool = True
    device: Literal["auto", "cpu", "cuda"] = "auto"
    num_threads: int | None = None
    figures: bool = True
    fresh_modules: list[str] = field(default_factory=list)
    frozen_modules: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.max_steps < 0:
            raise ValueError(f"max_steps must be >= 0 (got {self.max_steps})")
        if self.log_every < 1:
            raise ValueError(f"log_every must be >= 1 (got {self.log_every})")
        for name in ("val_every", "checkpoint_every", "keep_checkpoints"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (got {getattr(self, name)})")
        if self.ema_decay is not None and not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1) or null (got {self.ema_decay})")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError(f"grad_clip must be > 0 or null (got {self.grad_clip})")
        if self.num_threads is not None and self.num_threads < 1:
            raise ValueError(f"num_threads must be >= 1 or null (got {self.num_threads})")


@dataclass
class FitResult:
    """What `Trainer.fit` did.

    Attributes:
        run_dir: the run folder.
        steps: training steps completed.
        epoch: epoch the run ended in (0-based).
        stopped_early: early stopping ended the run.
        best_metric, best_step: best value of the early-stopping metric and its step (None without one).
        last_metrics: the last validation's metrics.
        model_dir: `best/` if it exists, else `final/` (None if no module could be exported).
        exported: card paths of the exported modules, by name.
        resumed_from: the checkpoint the run continued from, if any.
    """

    run_dir: Path
    steps: int
    epoch: int
    stopped_early: bool
    best_metric: float | None
    best_step: int | None
    last_metrics: dict[str, float]
    model_dir: Path | None
    exported: dict[str, Path]
    resumed_from: Path | None


@dataclass
class _LoopState:
    """Counters and bookkeeping saved in every checkpoint."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_value: float | None = None
    best_step: int | None = None
    bad_validations: int = 0
    stopped_early: bool = False
    last_val_step: int | None = None
    last_val_metrics: dict[str, float] = field(default_factory=dict)
    window_sums: dict[str, float] = field(default_factory=dict)
    window_count: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> _LoopState:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


class Trainer:
    """Runs a `TrainingTask` for `config.max_steps` steps and writes everything into `run_dir`.

    Run folder (written by rank 0 only):
        config.yaml             the full config given as `run_config` (or the trainer config)
        train.log               log lines
        metrics/train.csv       step, epoch, mean losses since the last row, learning rates, gradient norms (of
                                the row's step, before clipping)
        metrics/val.csv         step, epoch, validation metrics
        tb/                     TensorBoard events (if tensorboard is installed)
        figures/                val_step_XXXXXXX.png sample triplets, loss_curves.png
        checkpoints/            step_XXXXXXX.pt training states and the `latest` pointer
        best/, final/           exported models (safetensors + JSON card, see mrigan.checkpoint)

    Args:
        config: the trainer settings.
        run_dir: the run folder.
        run_config: the caller's whole config (a dataclass or a mapping), dumped to config.yaml and into model
            cards; default: `config`.
    """

    def __init__(self, config: TrainerConfig, run_dir: str | Path, *, run_config: Any = None) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.run_config = config if run_config is None else run_config
        # set up by fit()
        self.task: Any = None
        self.context = DistributedContext()
        self.modules: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, Any] = {}
        self.scalers: dict[str, torch.amp.GradScaler] = {}
        self.emas: dict[str, nn.Module] = {}
        self.train_csv: CsvLog | None = None
        self.val_csv: CsvLog | None = None
        self.tensorboard: TensorBoardLog | None = None
        self._last_grad_norms: dict[str, torch.Tensor] = {}
        self.initialised_from: dict[str, Any] | None = None

    # ------------------------------------------------------------------------------------------------------------
    def fit(
        self,
        task: TrainingTask,
        train_loader: DataLoader,
        val_loader: DataLoader | None = None,
        *,
        resume: bool | str | Path = False,
        init_from: str | Path | None = None,
    ) -> FitResult:
        """Train, validate, checkpoint and export.

        Args:
            task: the recipe (see `TrainingTask`).
            train_loader: training batches; use `make_loader` for exact resume and sharding under torchrun.
            val_loader: validation batches (every process may pass one; rank 0 validates on all of it).
            resume: False starts a new run (refused if `run_dir` already holds checkpoints); True continues from
                `run_dir/checkpoints/latest` if there is one (else starts); a path continues from that
                checkpoint file or run folder.
            init_from: fine-tuning: a new run (step 0, fresh optimizers) whose modules (and their EMA copies)
                start from this checkpoint file or run folder's latest checkpoint; the exported cards name it
                with its sha256. Ignored when the run resumes from its own checkpoint.

        Returns:
            A FitResult. Resuming a finished run trains nothing and writes nothing.
        """
        config = self.config
        required = ["modules", "configure_optimizers", "training_step"] + (["validation_step"] if val_loader else [])
        missing = [name for name in required if not callable(getattr(task, name, None))]
        if missing:
            raise UsageError(f"{type(task).__name__} is not a training task: it has no {', '.join(missing)}()")
        if config.early_stopping.metric and val_loader is None:
            raise UsageError(f"early_stopping.metric={config.early_stopping.metric!r} needs a validation loader")
        context = setup_distributed(config.device)
        log_handler = None
        log_level = logger.level
        try:
            with _runtime_settings(config, context.device):
                if context.is_main:
                    log_handler = _attach_log_file(self.run_dir / "train.log")
                return self._fit(task, train_loader, val_loader, resume, context, init_from)
        finally:
            if log_handler is not None:
                logger.removeHandler(log_handler)
                log_handler.close()
                logger.setLevel(log_level)
            context.close()

    # ------------------------------------------------------------------------------------------------------------
    def _fit(
        self,
        task: TrainingTask,
        train_loader: DataLoader,
        val_loader: DataLoader | None,
        resume: bool | str | Path,
        context: DistributedContext,
        init_from: str | Path | None = None,
    ) -> FitResult:
        config = self.config
        device = context.device
        self.task = task
        self.context = context
        checkpoint_dir = self.run_dir / "checkpoints"

        checkpoint_path = self._find_checkpoint(resume) if context.is_main else None
        checkpoint_path = context.broadcast_object(None if checkpoint_path is None else str(checkpoint_path))
        checkpoint_path = None if checkpoint_path is None else Path(checkpoint_path)

        modules = dict(task.modules())
        if not modules:
            raise UsageError("task.modules() returned no modules")
        for module in modules.values():
            module.to(device)
        optimizers = dict(task.configure_optimizers())
        _freeze(modules, optimizers, config.frozen_modules)
        schedulers = dict(task.configure_schedulers(optimizers)) if hasattr(task, "configure_schedulers") else {}
        amp_dtype, use_scaler = _amp_settings(config.amp, device)
        scalers = {name: torch.amp.GradScaler(device.type) for name in optimizers} if use_scaler else {}
        ema_names = self._ema_names(task, modules)
        emas = {name: make_ema(modules[name], config.ema_decay) for name in ema_names} if config.ema_decay else {}
        self.modules, self.optimizers, self.schedulers, self.scalers, self.emas = (
            modules,
            optimizers,
            schedulers,
            scalers,
            emas,
        )

        state = _LoopState()
        rng_state: dict[str, Any] | None = None
        if checkpoint_path is not None:
            state, rng_state = self._load(checkpoint_path)
            logger.info("resuming from %s (step %d, epoch %d)", checkpoint_path, state.step, state.epoch)
        elif init_from is not None:
            self._initialise(self._find_checkpoint(init_from))  # every rank reads the same file
        else:
            broadcast_module_state(context, modules.values())
            for name, ema in emas.items():
                ema.module.load_state_dict(modules[name].state_dict())

        if self._finished(state):
            logger.info("the run in %s already finished at step %d: nothing to do", self.run_dir, state.step)
            return self._result(state, checkpoint_path, exported={})

        if context.is_main:
            self._write_config()
            remove_stale_temporaries(checkpoint_dir)
        train_csv = val_csv = tensorboard = None
        if context.is_main:
            train_csv = CsvLog(self.run_dir / "metrics" / "train.csv", keep_until_step=state.step)
            val_csv = CsvLog(self.run_dir / "metrics" / "val.csv", keep_until_step=state.step)
            tensorboard = TensorBoardLog(self.run_dir / "tb", purge_step=state.step + 1)
        self.train_csv, self.val_csv, self.tensorboard = train_csv, val_csv, tensorboard
        progress = Progress(config.max_steps, state.step, enabled=context.is_main)

        # Seed (or restore the generators) last, right before the loop, so nothing above can shift them.
        if rng_state is not None:
            restore_rng_state(rng_state)
        else:
            seed_everything(config.seed + context.rank)
        try:
            saved_at = self._loop(train_loader, val_loader, state, amp_dtype, progress)
            if val_loader is not None and state.last_val_step != state.step:
                self._validate(val_loader, state, progress)
            if saved_at != state.step:
                self._save(state)
            exported: dict[str, Path] = {}
            if context.is_main:
                with preserved_rng():
                    exported = self._export("final", state, state.last_val_metrics)
                    self._draw_loss_curves()
                if state.stopped_early:
                    logger.info(
                        "early stopping at step %d: %s did not improve for %d validations (best %.6g at step %s)",
                        state.step,
                        config.early_stopping.metric,
                        config.early_stopping.patience,
                        state.best_value,
                        state.best_step,
                    )
                logger.info("finished at step %d; models in %s", state.step, self._model_dir())
            return self._result(state, checkpoint_path, exported)
        finally:
            progress.close()
            if tensorboard is not None:
                tensorboard.close()

    # ------------------------------------------------------------------------------------------------------------
    def _loop(
        self,
        train_loader: DataLoader,
        val_loader: DataLoader | None,
        state: _LoopState,
        amp_dtype: torch.dtype | None,
        progress: Progress,
    ) -> int | None:
        """Train until max_steps or early stopping; returns the step of the last checkpoint written (or None)."""
        config = self.config
        saved_at = None
        for module in self.modules.values():
            module.train()
        started, start_step = time.perf_counter(), state.step
        while state.step < config.max_steps and not state.stopped_early:
            skip = set_loader_epoch(train_loader, state.epoch, state.batch_in_epoch)
            iterator = iter(train_loader)
            if skip:
                logger.info("skipping %d batches by loading them (the loader was not made by make_loader)", skip)
                for _ in range(skip):
                    next(iterator, None)
            yielded = 0
            for batch in iterator:
                yielded += 1
                self._train_step(batch, state, amp_dtype, progress)
                if state.step % config.log_every == 0 or state.step == config.max_steps:
                    self._log_train(state, progress, started, start_step)
                if val_loader is not None and config.val_every and state.step % config.val_every == 0:
                    self._validate(val_loader, state, progress)
                if config.checkpoint_every and state.step % config.checkpoint_every == 0:
                    self._save(state)
                    saved_at = state.step
                if state.stopped_early or state.step >= config.max_steps:
                    break
            else:  # the epoch ran out
                if yielded == 0 and state.batch_in_epoch == 0:
                    raise UsageError("the training loader yields no batches (dataset smaller than one batch?)")
                state.epoch += 1
                state.batch_in_epoch = 0
        return saved_at

    def _train_step(self, batch: Any, state: _LoopState, amp_dtype: torch.dtype | None, progress: Progress) -> None:
        context = self.context
        step = StepContext(
            optimizers=self.optimizers,
            scalers=self.scalers,
            amp_dtype=amp_dtype,
            grad_clip=self.config.grad_clip,
            device=context.device,
            distributed=context,
            global_step=state.step,
            epoch=state.epoch,
        )
        outputs = self.task.training_step(move_to_device(batch, context.device), step)
        values = {key: float(value) for key, value in outputs.items()}
        bad = [key for key, value in values.items() if not math.isfinite(value)]
        if bad:
            raise FloatingPointError(
                f"step {state.step + 1}: {', '.join(f'{key}={values[key]}' for key in bad)}; training diverged "
                "(resume from the last checkpoint with a lower learning rate, or check the data)"
            )
        state.step += 1
        state.batch_in_epoch += 1
        for scheduler in self.schedulers.values():
            scheduler.step()
        broadcast_buffers(context, self.modules.values())
        for name, ema in self.emas.items():
            update_ema(ema, self.modules[name])
        for key, value in values.items():
            state.window_sums[key] = state.window_sums.get(key, 0.0) + value
        state.window_count += 1
        self._last_grad_norms = step.grad_norms
        progress.update(values)

    def _log_train(self, state: _LoopState, progress: Progress, started: float, start_step: int) -> None:
        count = max(1, state.window_count)
        means = {key: total / count for key, total in state.window_sums.items()}
        state.window_sums, state.window_count = {}, 0
        if not self.context.is_main:
            return
        extras: dict[str, float] = {}
        for name, optimizer in self.optimizers.items():
            extras[f"lr_{name}"] = float(optimizer.param_groups[0]["lr"])
        for name, norm in self._last_grad_norms.items():
            extras[f"grad_norm_{name}"] = float(norm)
        row = {"step": state.step, "epoch": state.epoch, **means, **extras}
        self.train_csv.append(row)
        self.tensorboard.scalars("train", {**means, **extras}, state.step)
        rate = (state.step - start_step) / max(1e-9, time.perf_counter() - started)
        message = (
            f"step {state.step}/{self.config.max_steps} epoch {state.epoch} "
            + " ".join(f"{key}={value:.4g}" for key, value in means.items())
            + f" ({rate:.2f} steps/s)"
        )
        if not progress.visible:
            logger.info(message)

    # ------------------------------------------------------------------------------------------------------------
    def _validate(self, loader: DataLoader, state: _LoopState, progress: Progress) -> None:
        """Rank 0 validates on the whole loader; every rank learns whether to stop."""
        context = self.context
        state.last_val_step = state.step
        if context.is_main:
            with preserved_rng():
                metrics = self._run_validation(loader, state)
                state.last_val_metrics = metrics
                self._update_early_stopping(metrics, state)
                row = {"step": state.step, "epoch": state.epoch, **metrics}
                self.val_csv.append(row)
                self.tensorboard.scalars("val", metrics, state.step)
                message = f"validation at step {state.step}: " + " ".join(
                    f"{key}={value:.4g}" for key, value in metrics.items()
                )
                logger.info(message)
                progress.write(message)
        state.stopped_early = bool(context.broadcast_object(state.stopped_early))

    @torch.no_grad()
    def _run_validation(self, loader: DataLoader, state: _LoopState) -> dict[str, float]:
        models = self._eval_models()
        for module in self.modules.values():
            module.eval()
        if isinstance(loader.sampler, ResumableSampler):
            loader.sampler.set_start(0)
        sums: dict[str, float] = {}
        weights: dict[str, int] = {}  # per metric: a batch that cannot compute one (NaN) does not count for it
        sample_batch = None
        try:
            for batch in loader:
                batch = move_to_device(batch, self.context.device)
                if sample_batch is None:
                    sample_batch = batch
                weight = batch_size_of(batch)
                for key, value in self.task.validation_step(batch, models).items():
                    counted = not math.isnan(float(value))
                    sums[key] = sums.get(key, 0.0) + (float(value) * weight if counted else 0.0)
                    weights[key] = weights.get(key, 0) + (weight if counted else 0)
            if self.config.figures and sample_batch is not None and hasattr(self.task, "sample_images"):
                self._draw_samples(self.task.sample_images(sample_batch, models), state.step)
        finally:
            for module in self.modules.values():
                module.train()
        return {key: total / weights[key] if weights[key] else float("nan") for key, total in sums.items()}

    def _eval_models(self) -> dict[str, nn.Module]:
        return {
            name: (self.emas[name].module if name in self.emas else module) for name, module in self.modules.items()
        }

    def _update_early_stopping(self, metrics: Mapping[str, float], state: _LoopState) -> None:
        settings = self.config.early_stopping
        if not settings.metric:
            return
        if settings.metric not in metrics:
            raise UsageError(
                f"early_stopping.metric={settings.metric!r} is not among the validation metrics: {', '.join(metrics)}"
            )
        value = metrics[settings.metric]
        improved = math.isfinite(value) and (
            state.best_value is None
            or (value > state.best_value if settings.mode == "max" else value < state.best_value)
        )
        if improved:
            state.best_value, state.best_step, state.bad_validations = value, state.step, 0
            self._export("best", state, dict(metrics))
        else:
            state.bad_validations += 1
            if state.bad_validations >= settings.patience:
                state.stopped_early = True

    # ------------------------------------------------------------------------------------------------------------
    def _save(self, state: _LoopState) -> None:
        """All ranks hand in their generator states; rank 0 writes the checkpoint."""
        rng_states = self.context.gather_objects(capture_rng_state())
        if not self.context.is_main:
            return
        with preserved_rng():
            payload = {
                "format": CHECKPOINT_FORMAT,
                "loop": state.as_dict(),
                "world_size": self.context.world_size,
                "modules": {name: module.state_dict() for name, module in self.modules.items()},
                "ema": {name: ema.state_dict() for name, ema in self.emas.items()},
                "optimizers": {name: optimizer.state_dict() for name, optimizer in self.optimizers.items()},
                "scalers": {name: scaler.state_dict() for name, scaler in self.scalers.items()},
                "schedulers": {name: scheduler.state_dict() for name, scheduler in self.schedulers.items()},
                "task": self.task.state_dict() if _has_own_state(self.task) else {},
                "rng": rng_states,
                "trainer_config": config_to_dict(self.config),
                **({"initialised_from": self.initialised_from} if self.initialised_from else {}),
            }
            directory = self.run_dir / "checkpoints"
            path = save_checkpoint(payload, directory, state.step)
            prune_checkpoints(directory, self.config.keep_checkpoints)
            self._draw_loss_curves()
        logger.info("checkpoint %s", path)

    def _load(self, path: Path) -> tuple[_LoopState, dict[str, Any] | None]:
        checkpoint = load_checkpoint(path, map_location="cpu")
        for kind, ours in (("modules", self.modules), ("optimizers", self.optimizers)):
            theirs = checkpoint.get(kind, {})
            if set(theirs) != set(ours):
                raise InputError(path, f"holds {kind} {sorted(theirs)}, but the task has {sorted(ours)}")
        for name, module in self.modules.items():
            module.load_state_dict(checkpoint["modules"][name])
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(checkpoint["optimizers"][name])
        for name, ema in self.emas.items():
            if name in checkpoint.get("ema", {}):
                ema.load_state_dict(checkpoint["ema"][name])
            else:
                logger.warning("%s has no EMA of %s: starting the EMA from the current weights", path, name)
                ema.module.load_state_dict(self.modules[name].state_dict())
        for name, scaler in self.scalers.items():
            if name in checkpoint.get("scalers", {}):
                scaler.load_state_dict(checkpoint["scalers"][name])
        state = _LoopState.from_dict(checkpoint["loop"])
        for name, scheduler in self.schedulers.items():
            if name in checkpoint.get("schedulers", {}):
                scheduler.load_state_dict(checkpoint["schedulers"][name])
            else:  # a checkpoint from before the schedule was configured: put the schedule at the loop's step
                logger.warning("%s has no %s learning-rate schedule: starting it at step %d", path, name, state.step)
                scheduler.last_epoch = state.step - 1
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # "step() before optimizer.step()": intended
                    scheduler.step()
        if _has_own_state(self.task) and checkpoint.get("task"):
            self.task.load_state_dict(checkpoint["task"])
        self.initialised_from = checkpoint.get("initialised_from")
        rng_states = checkpoint.get("rng", [])
        if len(rng_states) == self.context.world_size:
            return state, rng_states[self.context.rank]
        logger.warning(
            "%s was written by %d processes, this run has %d: random generators are re-seeded, so the run goes on "
            "but is not bit-identical to an uninterrupted one",
            path,
            checkpoint.get("world_size", len(rng_states)),
            self.context.world_size,
        )
        seed_everything(self.config.seed + 7919 * state.step + self.context.rank)
        return state, capture_rng_state()

    def _initialise(self, path: Path) -> None:
        """Load the modules' weights (and EMA copies) from a checkpoint, keeping the fresh loop and optimizers.

        Modules the checkpoint lacks, and those in `fresh_modules`, start fresh (ESRGAN's recipe: a GAN whose
        generator starts from the same network trained on pixel losses alone, its discriminator new); a
        checkpoint with modules this recipe does not train, or with none of its modules, is refused.
        """
        from mrigan.io.readwrite import sha256_file

        unknown = sorted(set(self.config.fresh_modules) - set(self.modules))
        if unknown:
            raise UsageError(f"trainer.fresh_modules names {unknown}, but this recipe trains {sorted(self.modules)}")
        checkpoint = load_checkpoint(path, map_location="cpu")
        theirs = checkpoint.get("modules", {})
        if not set(theirs) <= set(self.modules) or not theirs:
            raise InputError(path, f"holds modules {sorted(theirs)}, but this recipe trains {sorted(self.modules)}")
        theirs = {name: weights for name, weights in theirs.items() if name not in self.config.fresh_modules}
        fresh = sorted(set(self.modules) - set(theirs))
        if fresh:
            broadcast_module_state(self.context, [self.modules[name] for name in fresh])
        for name, module in self.modules.items():
            if name not in theirs:
                continue
            try:
                module.load_state_dict(theirs[name])
            except RuntimeError as error:
                first = str(error).strip().splitlines()[-1].strip()
                raise InputError(path, f"its {name} does not fit this config's network: {first}") from None
        for name, ema in self.emas.items():
            if name in checkpoint.get("ema", {}) and name in theirs:
                ema.load_state_dict(checkpoint["ema"][name])
            else:
                ema.module.load_state_dict(self.modules[name].state_dict())
        self.initialised_from = {"checkpoint": str(path), "sha256": sha256_file(path),
                                 "step": int(checkpoint.get("loop", {}).get("step", 0)), "modules": sorted(theirs)}
        logger.info("fine-tuning from %s (step %d)%s", path, self.initialised_from["step"],
                    f"; {', '.join(fresh)} start fresh" if fresh else "")

    def _find_checkpoint(self, resume: bool | str | Path) -> Path | None:
        own = self.run_dir / "checkpoints"
        if resume is False or resume is None:
            if list_checkpoints(own):
                raise OutputError(
                    self.run_dir, "already holds a training run (checkpoints/): resume it or choose another run folder"
                )
            return None
        if resume is True:
            return latest_checkpoint(own)
        path = Path(resume)
        if path.is_file():
            return path
        if path.is_dir():
            found = latest_checkpoint(path / "checkpoints") or latest_checkpoint(path)
            if found is None:
                raise InputError(path, "holds no training checkpoint to resume from")
            return found
        raise InputError(path, "no such checkpoint or run folder")

    def _finished(self, state: _LoopState) -> bool:
        return state.stopped_early or (state.step >= self.config.max_steps and state.step > 0)

    # ------------------------------------------------------------------------------------------------------------
    def _export(self, kind: str, state: _LoopState, metrics: Mapping[str, float]) -> dict[str, Path]:
        """Save each module that knows its constructor kwargs (its EMA copy if it has one) into `run_dir/kind/`."""
        from mrigan.checkpoint import constructor_kwargs, save_model

        exported = {}
        directory = self.run_dir / kind
        for name, module in self._eval_models().items():
            if constructor_kwargs(module) is None:
                logger.info("not exporting %s: %s keeps no constructor kwargs", name, type(module).__name__)
                continue
            card = dict(self.task.model_card(name)) if hasattr(self.task, "model_card") else {}
            training = {
                "steps": state.step,
                "epoch": state.epoch,
                "seed": self.config.seed,
                "world_size": self.context.world_size,
                "ema_decay": self.config.ema_decay if name in self.emas else None,
                "amp": self.config.amp,
                **({"initialised_from": self.initialised_from} if self.initialised_from else {}),
                **dict(card.pop("training", {})),
            }
            directory.mkdir(parents=True, exist_ok=True)
            exported[name] = save_model(
                module,
                directory / name,
                name=name,
                task=str(getattr(self.task, "name", type(self.task).__name__)),
                config=self._run_config_dict(),
                training=training,
                metrics=dict(metrics),
                extra={"checkpoint_kind": kind, **card},
            )
        return exported

    def _model_dir(self) -> Path | None:
        for kind in ("best", "final"):
            if (self.run_dir / kind).is_dir():
                return self.run_dir / kind
        return None

    def _result(self, state: _LoopState, resumed_from: Path | None, exported: dict[str, Path]) -> FitResult:
        return FitResult(
            run_dir=self.run_dir,
            steps=state.step,
            epoch=state.epoch,
            stopped_early=state.stopped_early,
            best_metric=state.best_value,
            best_step=state.best_step,
            last_metrics=dict(state.last_val_metrics),
            model_dir=self._model_dir(),
            exported=exported,
            resumed_from=resumed_from,
        )

    # ------------------------------------------------------------------------------------------------------------
    def _run_config_dict(self) -> dict[str, Any]:
        if dataclasses.is_dataclass(self.run_config) and not isinstance(self.run_config, type):
            return config_to_dict(self.run_config)
        if isinstance(self.run_config, Mapping):
            return dict(self.run_config)
        return {}

    def _write_config(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if dataclasses.is_dataclass(self.run_config) and not isinstance(self.run_config, type):
            text = dump_config(self.run_config)
        else:
            text = yaml.safe_dump(self._run_config_dict(), sort_keys=False)
        (self.run_dir / "config.yaml").write_text(text, encoding="utf-8")

    def _draw_samples(self, images: Mapping[str, Any], step: int) -> None:
        if not images:
            return
        from mrigan.engine.figures import save_figure, triplet_figure

        figure = triplet_figure(images, title=f"step {step}")
        save_figure(figure, self.run_dir / "figures" / f"val_step_{step:07d}.png")
        self.tensorboard.figure("val/samples", figure, step)

    def _draw_loss_curves(self) -> None:
        if not self.config.figures or self.train_csv is None or not self.train_csv.rows:
            return
        from mrigan.engine.figures import loss_curves_figure, save_figure

        train = {name: self.train_csv.series(name) for name in self.train_csv.metric_names()}
        train = {name: series for name, series in train.items() if not name.startswith(("lr_", "grad_norm_"))}
        validation = {name: self.val_csv.series(name) for name in self.val_csv.metric_names()}
        save_figure(loss_curves_figure(train, validation), self.run_dir / "figures" / "loss_curves.png")

    @staticmethod
    def _ema_names(task: TrainingTask, modules: Mapping[str, nn.Module]) -> list[str]:
        names = (
            list(task.ema_targets())
            if hasattr(task, "ema_targets")
            else (["generator"] if "generator" in modules else [])
        )
        unknown = [name for name in names if name not in modules]
        if unknown:
            raise UsageError(f"ema_targets() names {unknown}, but the modules are {', '.join(modules)}")
        return names


# ----------------------------------------------------------------------------------------------------------------
def _has_own_state(task: Any) -> bool:
    """The task keeps state outside its modules (state_dict / load_state_dict), and is not itself a module."""
    return hasattr(task, "state_dict") and hasattr(task, "load_state_dict") and not isinstance(task, nn.Module)


def _freeze(modules: Mapping[str, nn.Module], optimizers: Mapping[str, torch.optim.Optimizer],
            names: list[str]) -> None:
    """Leave the parameters of the named modules out of every optimizer (before any step: no state to move)."""
    unknown = sorted(set(names) - set(modules))
    if unknown:
        raise UsageError(f"trainer.frozen_modules names {unknown}, but this recipe trains {sorted(modules)}")
    frozen = {id(param) for name in names for param in modules[name].parameters()}
    for name in names:
        modules[name].requires_grad_(False)  # no gradients kept for them (a task may switch a D's back on)
    for optimizer in optimizers.values():
        for group in optimizer.param_groups:
            group["params"] = [param for param in group["params"] if id(param) not in frozen]
    if names:
        logger.info("frozen (weights kept as they are): %s", ", ".join(sorted(names)))


def _amp_settings(amp: str, device: torch.device) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, use a GradScaler) for an `amp` setting on `device`."""
    if amp == "auto":
        return (torch.float16, True) if device.type == "cuda" else (None, False)
    if amp == "off":
        return None, False
    if amp == "bf16":
        if device.type == "cpu":
            logger.warning("amp=bf16 on CPU: autocast in bfloat16 is often far slower than float32 on CPUs")
        return torch.bfloat16, False
    if amp == "fp16":
        return torch.float16, True
    raise UsageError(f"amp must be auto, off, bf16 or fp16 (got {amp!r})")


@contextlib.contextmanager
def _runtime_settings(config: TrainerConfig, device: torch.device) -> Iterator[None]:
    """Determinism and thread settings for the run; the previous process-wide settings come back after."""
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        torch.get_num_threads(),
    )
    if config.deterministic:
        if device.type == "cuda":
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        if not (previous[0] and previous[1]):  # the first call imports torch._inductor (~2 s): only when needed
            torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = device.type == "cuda"
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    try:
        yield
    finally:
        if (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()) != (
            previous[0],
            previous[1],
        ):
            torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.deterministic = previous[2]
        torch.backends.cudnn.benchmark = previous[3]
        torch.set_num_threads(previous[4])


def _attach_log_file(path: Path) -> logging.Handler:
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    handler.setLevel(logging.INFO)
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    return handler
