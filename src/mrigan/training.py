"""`mrigan train` and `mrigan evaluate`: pick the recipe named by a config's `task`, build data, run the engine."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from mrigan.errors import InputError, UsageError


def recipes() -> dict[str, tuple[type, Any, Any]]:
    """task name -> (config class, task class, datasets builder). A plain dict: no registry, no scanning."""
    from mrigan.tasks import restore, super_resolve, translate

    return {
        "restore": (restore.RestoreConfig, restore.RestoreTask, restore.build_datasets),
        "super_resolve": (super_resolve.SuperResolveConfig, super_resolve.SuperResolveTask,
                          super_resolve.build_datasets),
        "cyclegan": (translate.CycleGANConfig, translate.CycleGANTask, translate.build_unpaired_datasets),
        "pix2pix": (translate.Pix2PixConfig, translate.Pix2PixTask, translate.build_paired_datasets),
    }


def task_of(path: Path) -> str:
    """The `task:` entry of a YAML config (default "restore")."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError:
        raise InputError(path, "no such config file") from None
    except yaml.YAMLError as error:
        raise InputError(path, f"not valid YAML ({error.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise InputError(path, "a config must be a YAML mapping")
    return str(data.get("task", "restore"))


def load_run_config(path: Path | None, overrides: list[str], *, task: str | None = None):
    """Build the typed config of a recipe from YAML plus `--set` overrides."""
    from mrigan.config import load_config

    task = task or (task_of(path) if path else "restore")
    known = recipes()
    if task not in known:
        raise UsageError(f"task {task!r}: known tasks are {', '.join(known)}")
    config_class = known[task][0]
    return load_config(config_class, path, overrides)


def run_train(
    config_path: Path | None, *, overrides: list[str], resume: Path | None, out: Path | None,
    init_from: Path | None = None,
) -> Path:
    """Train a recipe; returns the run folder (config, metrics, figures, checkpoints, exported model).

    `init_from` (a run folder or checkpoint) fine-tunes: a new run that starts from those weights.
    """
    from mrigan.engine import Trainer, make_loader

    if resume is not None and init_from is not None:
        raise UsageError("--resume continues a run, --init-from starts a new one from a run's weights: give one")
    if init_from is not None and not Path(init_from).exists():
        raise InputError(init_from, "no such run folder or checkpoint to fine-tune from")
    if resume is not None:
        resume = Path(resume)
        saved = resume / "config.yaml"
        if not saved.exists():
            raise InputError(resume, "not a run folder (no config.yaml); give the folder `mrigan train` created")
        config = load_run_config(saved, overrides)
        run_dir = resume
    else:
        if config_path is None:
            raise UsageError("give a config file (e.g. configs/umr_gan.yaml) or --resume RUN_DIR")
        config = load_run_config(config_path, overrides)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = Path(out) if out is not None else Path("runs") / f"{config.name}-{stamp}"
    _, task_class, build_datasets = recipes()[config.task]
    train_set, validation_set = build_datasets(config)
    task = task_class(config)
    seed = config.trainer.seed
    train_loader = make_loader(train_set, config.data.batch_size, seed, num_workers=config.data.num_workers)
    validation_loader = make_loader(validation_set, 4, seed, shuffle=False)
    result = Trainer(config.trainer, run_dir, run_config=config).fit(
        task, train_loader, validation_loader, resume=resume is not None, init_from=init_from
    )
    print(f"run folder: {result.run_dir}  steps: {result.steps}  best {result.best_metric} at {result.best_step}")
    if result.model_dir:
        print(f"model: {result.model_dir / 'generator.json'}")
    return result.run_dir


def model_of_run(model: str | Path) -> str:
    """A run folder's exported generator (best, else final); anything else is passed on as given."""
    path = Path(model)
    if path.is_dir():
        for kind in ("best", "final"):
            card = path / kind / "generator.json"
            if card.exists():
                return str(card)
        raise InputError(path, "a run folder without an exported model (best/ or final/generator.json)")
    return str(model)
