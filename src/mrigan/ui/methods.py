"""The methods the UI offers for each task: trained models (loaded once) and the classical baselines."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mrigan.errors import UsageError

if TYPE_CHECKING:
    from mrigan.inference import Enhancer
    from mrigan.physics.base import Degraded

#: Tasks of the page, with the model tasks (card "task") that do them.
TASKS: dict[str, tuple[str, ...]] = {"denoise": ("restore",), "inpaint": ("restore",), "sr": ()}
TASK_LABELS = {"denoise": "Denoise", "inpaint": "Inpaint (fill missing pixels)", "sr": "Super-resolve"}
#: Baselines that only repeat their input (a table's floor row), not offered as methods.
IDENTITY_ROWS = ("noisy", "masked", "identity")
#: Uncertainty method asked of models (falls back to test-time augmentation without dropout).
UNCERTAINTY = "mc-dropout"
UNCERTAINTY_SAMPLES = 8


def method_key(kind: str, name: str) -> str:
    """The dropdown value of a method: "model:NAME" or "baseline:NAME"."""
    return f"{kind}:{name}"


def split_key(key: str) -> tuple[str, str]:
    """("model" | "baseline", name) from a dropdown value.

    Raises:
        UsageError: not such a value.
    """
    kind, _, name = str(key).partition(":")
    if kind not in ("model", "baseline") or not name:
        raise UsageError(f"unknown method {key!r}: expected model:NAME or baseline:NAME")
    return kind, name


class Methods:
    """Models and baselines on offer; models load on first use and run one request at a time each.

    Args:
        models: model names or card / weights paths to offer (loaded now, so a bad one fails at start).
        device: where models run.
        shipped: also offer the shipped restoration models that are present (`mrigan models`).
    """

    def __init__(self, models: Sequence[str] = (), *, device: str = "auto", shipped: bool = True) -> None:
        from mrigan.inference import Enhancer
        from mrigan.models_catalog import list_models

        self.device = device
        self._sources: dict[str, str] = {}
        self._tasks: dict[str, str] = {}
        self._enhancers: dict[str, Enhancer] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._loading = threading.Lock()
        for record in list_models() if shipped else []:
            if record.get("present") and record.get("task"):
                self._sources[record["name"]] = record["name"]
                self._tasks[record["name"]] = record["task"]
        for given in models:
            enhancer = Enhancer.from_path(given, device=device)
            self._add(enhancer, str(given))

    def _add(self, enhancer: Enhancer, source: str) -> None:
        self._sources[enhancer.name] = source
        self._tasks[enhancer.name] = enhancer.task
        self._enhancers[enhancer.name] = enhancer
        self._locks[enhancer.name] = threading.Lock()

    @property
    def model_names(self) -> list[str]:
        return list(self._sources)

    def choices(self, task: str) -> list[tuple[str, str]]:
        """(label, key) pairs for the task's dropdown: models first, then the baselines available here."""
        from mrigan.baselines import BASELINES

        if task not in TASKS:
            raise UsageError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
        entries = [(f"{name} (model)", method_key("model", name)) for name, model_task in self._tasks.items()
                   if model_task in TASKS[task]]
        for name, factory in BASELINES.items():
            method = factory()
            if method.task == task and name not in IDENTITY_ROWS and method.available() is None:
                note = ", slow" if getattr(method, "slow", False) else ""
                entries.append((f"{name} (classical{note})", method_key("baseline", name)))
        return entries

    def enhancer(self, name: str) -> tuple[Enhancer, threading.Lock]:
        """The loaded model and the lock that serialises its use (MC dropout switches module state)."""
        from mrigan.inference import Enhancer

        if name not in self._sources:
            raise UsageError(f"unknown model {name!r}; offered: {', '.join(self._sources) or 'none'}")
        with self._loading:
            if name not in self._enhancers:
                self._add(Enhancer.from_path(self._sources[name], device=self.device), self._sources[name])
        return self._enhancers[name], self._locks[name]

    def run(self, key: str, task: str, degraded: Degraded, *, uncertainty: bool = False
            ) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
        """Run one method on `degraded.image` (and its "mask" map).

        Returns:
            (output on the source grid, uncertainty std or None, what was run: see `describe`).

        Raises:
            UsageError: an unknown or unavailable method, or one that does not do the task.
        """
        from mrigan.io import Volume

        kind, name = split_key(key)
        if key not in {value for _, value in self.choices(task)}:
            raise UsageError(f"{name} does not do the task {task!r} here; pick one of the list")
        if kind == "baseline":
            from mrigan.baselines import BASELINES

            return BASELINES[name]()(degraded), None, self.describe(key)
        enhancer, lock = self.enhancer(name)
        with lock:
            result = enhancer.restore(
                Volume(np.asarray(degraded.image, np.float32)), mode=task, mask=degraded.maps.get("mask"),
                uncertainty=UNCERTAINTY if uncertainty else None, samples=UNCERTAINTY_SAMPLES,
            )
        spread = None if result.uncertainty is None else result.uncertainty.data
        return result.volume.data, spread, {**self.describe(key), "run": result.info}

    def describe(self, key: str) -> dict[str, Any]:
        """Name, kind and, for a model, its sha256, card file name, task, config and held-out metrics."""
        kind, name = split_key(key)
        if kind == "baseline":
            from mrigan.baselines import BASELINES

            method = BASELINES[name]()
            return {"name": name, "kind": "classical baseline", "class": type(method).__name__,
                    "sha256": None, "config": _parameters(method)}
        from mrigan.models_catalog import held_out_metrics

        enhancer, _ = self.enhancer(name)
        card = enhancer.card
        return {"name": enhancer.name, "kind": "trained model", "sha256": enhancer.sha256,
                "card": enhancer.source.name if enhancer.source else None,  # never the server's folders
                "task": enhancer.task, "class": card.get("class"), "config": card.get("config"),
                "held_out_metrics": held_out_metrics(card), "mrigan_version": card.get("mrigan_version")}


def _parameters(method: object) -> dict[str, Any]:
    """A baseline's settings: its plain-valued attributes."""
    return {key: value for key, value in vars(method).items()
            if not key.startswith("_") and isinstance(value, (int, float, str, bool, type(None)))}
