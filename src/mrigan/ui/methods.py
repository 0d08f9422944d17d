"""The methods the UI offers for each task: trained models (loaded once) and the classical baselines.

Models of every kind load through `mrigan.commands.load_enhancer` (the card's task picks the runner):
restoration models (`Enhancer`) denoise and inpaint, super-resolution models (`Upscaler`) are offered for
"sr" at the resolution factor equal to their scale and run exactly as the bench runs them
(`mrigan.bench.sr_models.SRModelMethod`: in plane, onto the baselines' grid), translation models
(`Translator`) are offered for "translate" with their card's source -> target domains in the label.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mrigan.errors import UsageError

if TYPE_CHECKING:
    from mrigan.inference import Enhancer
    from mrigan.inference.translator import Translator
    from mrigan.inference.upscaler import Upscaler
    from mrigan.physics.base import Degraded

    Runner = Enhancer | Upscaler | Translator

#: Tasks of the page, with the model tasks (card "task") that do them.
TASKS: dict[str, tuple[str, ...]] = {"denoise": ("restore",), "inpaint": ("restore",), "sr": ("super_resolve",),
                                     "translate": ("translate",)}
TASK_LABELS = {"denoise": "Denoise", "inpaint": "Inpaint (fill missing pixels)", "sr": "Super-resolve",
               "translate": "Translate (contrast / field strength)"}
#: Baselines that match the uploaded target scan (their reference), so need one.
NEEDS_TARGET = ("histmatch",)
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
        models: model names or card / weights paths to offer, of any kind: restoration, super-resolution or
            translation (loaded now, so a bad one fails at start).
        device: where models run.
        shipped: also offer the shipped models that are present (`mrigan models`).
    """

    def __init__(self, models: Sequence[str] = (), *, device: str = "auto", shipped: bool = True) -> None:
        from mrigan.checkpoint import read_card
        from mrigan.commands import load_enhancer
        from mrigan.models_catalog import list_models, resolve_model

        self.device = device
        self._sources: dict[str, str] = {}
        self._cards: dict[str, dict[str, Any]] = {}  # read without the weights: task, scale, domains
        self._runners: dict[str, Runner] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._loading = threading.Lock()
        for record in list_models() if shipped else []:
            if record.get("present") and record.get("task"):
                self._sources[record["name"]] = record["name"]
                self._cards[record["name"]] = read_card(resolve_model(record["name"]))[0]
        for given in models:
            self._add(load_enhancer(given, device=device), str(given))

    def _add(self, runner: Runner, source: str) -> None:
        self._sources[runner.name] = source
        self._cards[runner.name] = runner.card
        self._runners[runner.name] = runner
        self._locks[runner.name] = threading.Lock()

    @property
    def model_names(self) -> list[str]:
        return list(self._sources)

    def choices(self, task: str, factor: int | None = None) -> list[tuple[str, str]]:
        """(label, key) pairs for the task's dropdown: models first, then the baselines available here.

        Args:
            task: a page task (`TASKS`).
            factor: the resolution factor; for "sr", only the models of that scale are listed (None: all).
        """
        from mrigan.baselines import BASELINES

        if task not in TASKS:
            raise UsageError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
        entries = [(self.label(name), method_key("model", name)) for name, card in self._cards.items()
                   if card.get("task") in TASKS[task]
                   and not (task == "sr" and factor is not None and _scale(card) != int(factor))]
        for name, factory in BASELINES.items():
            method = factory()
            if method.task != task or name in IDENTITY_ROWS:
                continue
            if name in NEEDS_TARGET:
                entries.append((f"{name} (classical: matches the target scan's histogram; needs a target)",
                                method_key("baseline", name)))
            elif method.available() is None:
                note = ", slow" if getattr(method, "slow", False) else ""
                entries.append((f"{name} (classical{note})", method_key("baseline", name)))
        return entries

    def label(self, name: str) -> str:
        """A model's dropdown label: "NAME (model)", with its scale ("x2") or its translation (source -> target)."""
        card = self._cards[name]
        if card.get("task") == "super_resolve":
            return f"{name} (model, x{_scale(card)})"
        if card.get("task") == "translate":
            return f"{name} (model: {_direction(card)})"
        return f"{name} (model)"

    def note(self, task: str, key: str | None = None) -> str:
        """A Markdown line for beside the method list: what the chosen model expects, or which models the task has."""
        kind, name = split_key(key) if key else ("", "")
        card = self._cards.get(name) if kind == "model" else None
        name = _markdown(name)
        if card is not None and card.get("task") == "translate":
            source, target = map(_markdown, _domains(card))
            return (f"**{name}** translates {source} -> {target}: the input should be {source} (on the grid "
                    f"wanted); the output keeps its grid. To score it, upload a {target} target on the same grid.")
        if card is not None and card.get("task") == "super_resolve":
            scale = _scale(card)
            return f"**{name}** upscales by {scale} in plane: it runs at the resolution factor {scale}."
        if kind == "baseline" and name in NEEDS_TARGET:
            return (f"**{name}** maps the input's intensities onto the target scan's histogram: upload a target "
                    "on the input's grid (its scores then use the target twice, so they flatter it).")
        if task == "sr":
            models = [f"{_markdown(model)} (x{_scale(c)})" for model, c in self._cards.items()
                      if c.get("task") == "super_resolve"]
            if models:
                return (f"Super-resolution models: {', '.join(models)}; each is listed when the resolution factor "
                        "equals its scale.")
        return ""

    def enhancer(self, name: str) -> tuple[Runner, threading.Lock]:
        """The loaded model (an Enhancer, Upscaler or Translator) and the lock that serialises its use."""
        from mrigan.commands import load_enhancer

        if name not in self._sources:
            raise UsageError(f"unknown model {name!r}; offered: {', '.join(self._sources) or 'none'}")
        with self._loading:
            if name not in self._runners:
                self._add(load_enhancer(self._sources[name], device=self.device), self._sources[name])
        return self._runners[name], self._locks[name]

    def check(self, key: str, task: str, degraded: Degraded | None = None, *,
              reference: np.ndarray | None = None) -> None:
        """Refuse a method that does not do `task` here, with what to do instead.

        Raises:
            UsageError: an unknown method or task, a model of another kind, a super-resolution model whose scale
                is not the request's factor, a baseline not available here, histogram matching without a target.
        """
        kind, name = split_key(key)
        if task not in TASKS:
            raise UsageError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
        if kind == "baseline":
            if key not in {value for _, value in self.choices(task)}:
                raise UsageError(f"{name} does not do the task {task!r} here; pick one of the list")
            if name in NEEDS_TARGET and reference is None:
                raise UsageError(f"{name} matches the input's histogram to a target scan's: upload a target "
                                 "(ground truth) on the input's grid, or pick a model")
            return
        if name not in self._cards:
            raise UsageError(f"unknown model {name!r}; offered: {', '.join(self._cards) or 'none'}")
        card = self._cards[name]
        if card.get("task") not in TASKS[task]:
            doing = [t for t, model_tasks in TASKS.items() if card.get("task") in model_tasks]
            raise UsageError(f"{name} does not do the task {task!r} (a {card.get('task')!r} model, for "
                             f"{' / '.join(doing) or 'no task of this page'}); pick one of the list")
        if card.get("task") == "super_resolve" and degraded is not None:
            from mrigan.baselines.upsample import sampling_zoom

            scale, asked = _scale(card), sorted({round(1.0 / z) for z in sampling_zoom(degraded)[:2]})
            if asked != [scale]:
                raise UsageError(f"{name} upscales by {scale} only, and the resolution factor is "
                                 f"{' / '.join(map(str, asked))}: set the factor to {scale}, or pick bicubic or "
                                 "Lanczos")

    def run(self, key: str, task: str, degraded: Degraded, *, reference: np.ndarray | None = None,
            uncertainty: bool = False) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
        """Run one method on `degraded.image` (and its "mask" map).

        Args:
            key: the method ("model:NAME" / "baseline:NAME").
            task: the page's task.
            degraded: what the method sees; for "sr", `source_shape` and `zoom` give the output grid.
            reference: the target scan's region, for methods that need one (histogram matching).
            uncertainty: ask a restoration model for its uncertainty (other methods give none).

        Returns:
            (output on the source grid, uncertainty std or None, what was run: see `describe`).

        Raises:
            UsageError: see `check`.
        """
        from mrigan.io import Volume

        self.check(key, task, degraded, reference=reference)
        kind, name = split_key(key)
        if kind == "baseline":
            from mrigan.baselines import BASELINES, HistogramMatch

            method = HistogramMatch(reference=reference) if name in NEEDS_TARGET else BASELINES[name]()
            return method(degraded), None, self.describe(key)
        runner, lock = self.enhancer(name)
        image = np.asarray(degraded.image, np.float32)
        with lock:
            if runner.task == "super_resolve":
                return self._upscale(runner, degraded), None, {**self.describe(key), "run": {
                    "mode": "super_resolve", "scale": runner.scale, "axes": "in-plane",
                    "input_shape": list(image.shape), "runner": "mrigan.bench.sr_models.SRModelMethod (as the "
                    "bench's sr suite: working units, output on the baselines' grid)", "device": str(runner.device)}}
            if runner.task == "translate":
                result = runner.restore(Volume(image))
            else:
                result = runner.restore(
                    Volume(image), mode=task, mask=degraded.maps.get("mask"),
                    uncertainty=UNCERTAINTY if uncertainty else None, samples=UNCERTAINTY_SAMPLES,
                )
        spread = None if result.uncertainty is None else result.uncertainty.data
        return result.volume.data, spread, {**self.describe(key), "run": result.info}

    @staticmethod
    def _upscale(runner: Upscaler, degraded: Degraded) -> np.ndarray:
        """The bench's way to run an SR model: in plane, onto `degraded.source_shape` (the baselines' grid)."""
        from mrigan.bench.sr_models import SRModelMethod

        return SRModelMethod.from_loaded(runner.model, runner.card, name=runner.name)(degraded)

    def describe(self, key: str) -> dict[str, Any]:
        """Name, kind and, for a model, its sha256, card file name, task, config and held-out metrics (and its
        scale, or its translation's domains)."""
        kind, name = split_key(key)
        if kind == "baseline":
            from mrigan.baselines import BASELINES

            method = BASELINES[name]()
            config = {"reference": "the target scan given (same region)"} if name in NEEDS_TARGET \
                else _parameters(method)
            return {"name": name, "kind": "classical baseline", "class": type(method).__name__,
                    "sha256": None, "config": config}
        from mrigan.models_catalog import held_out_metrics

        runner, _ = self.enhancer(name)
        card = runner.card
        described = {"name": runner.name, "kind": "trained model", "sha256": runner.sha256,
                     "card": runner.source.name if runner.source else None,  # never the server's folders
                     "task": runner.task, "class": card.get("class"), "config": card.get("config"),
                     "held_out_metrics": held_out_metrics(card), "mrigan_version": card.get("mrigan_version")}
        if runner.task == "super_resolve":
            described["scale"] = _scale(card)
        if runner.task == "translate":
            described.update(translation=_direction(card), source=card.get("source"), target=card.get("target"))
        return described


def _scale(card: dict[str, Any]) -> int | None:
    """A super-resolution card's scale (None for another card)."""
    info = card.get("super_resolution")
    return int(info["scale"]) if isinstance(info, dict) and "scale" in info else None


def _domains(card: dict[str, Any]) -> tuple[str, str]:
    """A translation card's (source, target) domains as text, e.g. ("T2*w GRE 7T, 2x voxels", "T2*w GRE 9.4T")."""
    from mrigan.data.translation import DomainConfig

    described = []
    for key in ("source", "target"):
        domain = card.get(key)
        try:
            described.append(DomainConfig(**domain).describe())
        except (TypeError, ValueError):
            described.append(str(domain.get("contrast", "?")) if isinstance(domain, dict) else "?")
    return described[0], described[1]


def _markdown(text: str) -> str:
    """`text` with Markdown's emphasis marks escaped ("T2*w" would start italics)."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")


def _direction(card: dict[str, Any]) -> str:
    """A translation card's "translation" ("SOURCE -> TARGET"), else one made from its domains."""
    return str(card.get("translation") or " -> ".join(_domains(card)))


def _parameters(method: object) -> dict[str, Any]:
    """A baseline's settings: its plain-valued attributes."""
    return {key: value for key, value in vars(method).items()
            if not key.startswith("_") and isinstance(value, (int, float, str, bool, type(None)))}
