"""Classical baselines with the call shape of a trained model: `method(degraded) -> restored image`.

`BASELINES` maps each table name to a zero-argument factory; `baselines_for(task)` builds a task's rows in
table order. Heavy or optional libraries (bm3d, bm4d, dipy, OpenCV, Pillow) load only when a method runs;
`method.available()` names what is missing.
"""

from __future__ import annotations

from collections.abc import Callable

from mrigan.baselines.base import TASKS, Baseline, Identity, Method, source_shape
from mrigan.baselines.contrast import HistogramMatch
from mrigan.baselines.denoise import (
    BM3D,
    BM4D,
    NonLocalMeans,
    RicianNonLocalMeans,
    is_rician,
    noise_sigma,
    rician_bias_correct,
)
from mrigan.baselines.inpaint import Biharmonic, Telea, missing_pixels
from mrigan.baselines.rfsr import RFSR
from mrigan.baselines.upsample import Lanczos, SplineUpsample, sampling_zoom

BASELINES: dict[str, Callable[[], Method]] = {
    "noisy": lambda: Identity("noisy", "denoise"),
    "nlm": NonLocalMeans,
    "nlm-rician": RicianNonLocalMeans,
    "bm3d": BM3D,
    "bm4d": BM4D,
    "masked": lambda: Identity("masked", "inpaint"),
    "biharmonic": Biharmonic,
    "telea": Telea,
    "nearest": lambda: SplineUpsample(order=0),
    "bicubic": lambda: SplineUpsample(order=3),
    "lanczos": Lanczos,
    "rfsr": RFSR,
    "identity": lambda: Identity("identity", "translate"),
    "histmatch": HistogramMatch,
}
"""Table name -> factory of the method with its default (tuned) settings."""


def baselines_for(task: str) -> list[Method]:
    """Every baseline of a task, identity row first, in `BASELINES` order.

    Args:
        task: "denoise", "inpaint", "sr" or "translate".

    Returns:
        Fresh method objects; check `available()` before calling them.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    methods = [factory() for factory in BASELINES.values()]
    return [method for method in methods if method.task == task]


__all__ = [
    "BASELINES",
    "BM3D",
    "BM4D",
    "Baseline",
    "Biharmonic",
    "HistogramMatch",
    "Identity",
    "Lanczos",
    "Method",
    "NonLocalMeans",
    "RFSR",
    "RicianNonLocalMeans",
    "SplineUpsample",
    "TASKS",
    "Telea",
    "baselines_for",
    "is_rician",
    "missing_pixels",
    "noise_sigma",
    "rician_bias_correct",
    "sampling_zoom",
    "source_shape",
]
