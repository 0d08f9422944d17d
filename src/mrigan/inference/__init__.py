"""Inference: run a trained model from its self-describing checkpoint on scans, with uncertainty.

    from mrigan.inference import Enhancer
    from mrigan import io

    enhancer = Enhancer.from_path("model.json")   # a shipped name, a card or a .safetensors; sha256 checked
    scan = io.read("scan.nii.gz")
    result = enhancer.restore(scan, mode="denoise", uncertainty="mc-dropout")
    io.write(result.volume, "restored.nii.gz", like=scan)

`Enhancer.as_method(task)` gives the same model with the call shape of the classical baselines. Translation
models (task "translate") run through `Translator`, with the same interface.
"""

from __future__ import annotations

from mrigan.inference.enhancer import (
    AUTO_CLEAN_SIGMA,
    DEFAULT_HOLE_FRACTION,
    MODES,
    UNCERTAINTY_METHODS,
    Enhancer,
    EnhanceResult,
    as_known_mask,
    default_inpaint_mask,
    resolve_device,
)
from mrigan.inference.intensity import DEFAULT_INTENSITY, IntensityScaling
from mrigan.inference.method import ModelMethod
from mrigan.inference.translator import Translator

__all__ = [
    "AUTO_CLEAN_SIGMA",
    "DEFAULT_HOLE_FRACTION",
    "DEFAULT_INTENSITY",
    "MODES",
    "UNCERTAINTY_METHODS",
    "EnhanceResult",
    "Enhancer",
    "IntensityScaling",
    "ModelMethod",
    "Translator",
    "as_known_mask",
    "default_inpaint_mask",
    "resolve_device",
]
