"""Degradations as seeded, composable operators, and MR contrast simulation.

An operator holds all its parameters (a `seed` for anything random) and maps an image to a `Degraded` record
(image, maps, params, source_shape, zoom); `Random*` samplers draw operators from a numpy Generator. Only numpy
is imported here: scipy, scikit-image, OpenCV, TorchIO and scikit-learn are imported when an operator runs.
"""

from __future__ import annotations

from mrigan.physics.artefacts import BiasField, Ghosting, Motion
from mrigan.physics.base import IN_PLANE_AXES, Compose, Degraded, Operator, OperatorBase, Sampler, seed_of
from mrigan.physics.contrast import (
    SEQUENCES,
    TISSUE_PROPERTIES,
    TISSUES,
    signal_equation,
    simulate_contrast,
    tissue_maps_from_t1,
    tissue_properties,
)
from mrigan.physics.masks import BrushStrokes, RandomBoxes, RandomHole, SquareHole
from mrigan.physics.noise import GaussianNoise, RandomNoise, RicianNoise, estimate_noise_sigma, make_noise
from mrigan.physics.resolution import Decimate, KSpaceTruncation, ThickSlices, resample_to_spacing
from mrigan.physics.spec import build_degradation, parse_downsample, parse_hole, parse_noise

__all__ = [
    "IN_PLANE_AXES",
    "SEQUENCES",
    "TISSUES",
    "TISSUE_PROPERTIES",
    "BiasField",
    "BrushStrokes",
    "Compose",
    "Decimate",
    "Degraded",
    "GaussianNoise",
    "Ghosting",
    "KSpaceTruncation",
    "Motion",
    "Operator",
    "OperatorBase",
    "RandomBoxes",
    "RandomHole",
    "RandomNoise",
    "RicianNoise",
    "Sampler",
    "SquareHole",
    "ThickSlices",
    "build_degradation",
    "estimate_noise_sigma",
    "make_noise",
    "parse_downsample",
    "parse_hole",
    "parse_noise",
    "resample_to_spacing",
    "seed_of",
    "signal_equation",
    "simulate_contrast",
    "tissue_maps_from_t1",
    "tissue_properties",
]
