"""MR contrast simulation from tissue probability maps, in the spirit of BrainWeb.

Each voxel's signal is the sum over tissues of (probability x the tissue's signal), the tissue signal coming
from the closed-form steady-state equations of a spin echo or a spoiled gradient echo with the tissue's
T1 / T2 (T2*) / PD at the chosen field strength. The image is then resampled to the wanted voxel size and
Rician noise is added at an SNR that grows with field strength and voxel volume.

Relaxation table (`TISSUE_PROPERTIES`, T1 and T2 in ms, PD relative to CSF): rounded consensus values, not a
quotation of one paper's table. Sources:
    - Wansapura et al. 1999, JMRI 9:531 (T1, T2 at 1.5 T and 3 T).
    - Stanisz et al. 2005, MRM 54:507 (T1, T2 at 1.5 T and 3 T).
    - Rooney et al. 2007, MRM 57:308 (T1 from 0.2 T to 7 T; CSF T1 nearly field independent, ~4.3 s).
    - Marques et al. 2010, NeuroImage 49:1271 (MP2RAGE T1 at 7 T).
    - Pohmann et al. 2016, MRM 75:801 (T1 and T2* at 3, 7 and 9.4 T; SNR growth with B0).
    - Peters et al. 2007, MRI 25:748 (T2* at 1.5, 3 and 7 T), used to set the dephasing rates below.
    - Neeb et al. 2006, NeuroImage 31:1156 (water content: GM ~0.80, WM ~0.70).
T2 at 7 T and 9.4 T depends strongly on the method; those entries follow the observed trend of R2 growing
about linearly with B0. T1 lengthens and T2 shortens with field. Between and beyond table fields, values are
interpolated piecewise linearly in log(B0) (linear extrapolation from the end segments).

T2* is derived from T2: 1/T2* = 1/T2 + R2', with the reversible dephasing rate R2' = k x B0 (k per tissue,
s^-1 T^-1, fitted roughly to Peters et al. 2007: GM 1.5, WM 2.0, CSF 0.3).

Signal equations (TR, TE in ms, flip angle a):
    spin echo ("se"):               S = PD (1 - exp(-TR/T1)) exp(-TE/T2)
    spoiled gradient echo ("gre"):  S = PD sin(a) (1 - E1) / (1 - cos(a) E1) exp(-TE/T2*),  E1 = exp(-TR/T1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

TISSUES = ("csf", "gm", "wm")
TABLE_FIELDS_T = (1.5, 3.0, 7.0, 9.4)

TISSUE_PROPERTIES: dict[str, dict[float, dict[str, float]]] = {
    "gm": {
        1.5: {"t1": 1150.0, "t2": 100.0, "pd": 0.80},
        3.0: {"t1": 1400.0, "t2": 92.0, "pd": 0.80},
        7.0: {"t1": 1950.0, "t2": 55.0, "pd": 0.80},
        9.4: {"t1": 2150.0, "t2": 45.0, "pd": 0.80},
    },
    "wm": {
        1.5: {"t1": 750.0, "t2": 80.0, "pd": 0.70},
        3.0: {"t1": 850.0, "t2": 72.0, "pd": 0.70},
        7.0: {"t1": 1200.0, "t2": 47.0, "pd": 0.70},
        9.4: {"t1": 1400.0, "t2": 40.0, "pd": 0.70},
    },
    "csf": {
        1.5: {"t1": 4200.0, "t2": 2000.0, "pd": 1.00},
        3.0: {"t1": 4300.0, "t2": 1700.0, "pd": 1.00},
        7.0: {"t1": 4400.0, "t2": 1100.0, "pd": 1.00},
        9.4: {"t1": 4450.0, "t2": 900.0, "pd": 1.00},
    },
}
"""T1 (ms), T2 (ms) and PD (relative) per tissue and field strength (T); see the module notes for sources."""

DEPHASING_RATE_PER_TESLA: dict[str, float] = {"gm": 1.5, "wm": 2.0, "csf": 0.3}
"""k in R2' = k x B0 (s^-1 T^-1), giving T2* from T2."""

SEQUENCES: dict[str, dict[str, dict[str, float]]] = {
    "se": {
        "t1w": {"tr": 500.0, "te": 10.0, "flip_deg": 90.0},
        "t2w": {"tr": 6000.0, "te": 100.0, "flip_deg": 90.0},
        "pdw": {"tr": 3500.0, "te": 15.0, "flip_deg": 90.0},
    },
    "gre": {
        "t1w": {"tr": 20.0, "te": 4.0, "flip_deg": 25.0},
        "t2w": {"tr": 1000.0, "te": 25.0, "flip_deg": 15.0},  # T2*-weighted
        "pdw": {"tr": 500.0, "te": 4.0, "flip_deg": 10.0},
    },
}
"""Default TR (ms), TE (ms) and flip angle (degrees) per sequence and contrast."""

REFERENCE_VOXEL_MM3 = 1.0
"""Voxel volume at which `snr_at_3t` is given."""


def _log_interpolate(fields: Sequence[float], values: Sequence[float], field_t: float) -> float:
    """Piecewise-linear in log(B0), extrapolated linearly from the end segments."""
    logs = np.log(np.asarray(fields, dtype=float))
    values_array = np.asarray(values, dtype=float)
    target = np.log(field_t)
    if target <= logs[0]:
        left, right = 0, 1
    elif target >= logs[-1]:
        left, right = len(logs) - 2, len(logs) - 1
    else:
        return float(np.interp(target, logs, values_array))
    slope = (values_array[right] - values_array[left]) / (logs[right] - logs[left])
    return float(values_array[left] + slope * (target - logs[left]))


def tissue_properties(tissue: str, field_t: float) -> dict[str, float]:
    """T1, T2, T2* (ms) and PD of a tissue at any field strength.

    Args:
        tissue: "csf", "gm" or "wm".
        field_t: main field in tesla (> 0).

    Returns:
        {"t1": ms, "t2": ms, "t2star": ms, "pd": relative}.
    """
    if tissue not in TISSUE_PROPERTIES:
        raise ValueError(f"unknown tissue {tissue!r}; known: {sorted(TISSUE_PROPERTIES)}")
    if not field_t > 0:
        raise ValueError(f"the field strength must be positive, got {field_t}")
    table = TISSUE_PROPERTIES[tissue]
    fields = sorted(table)
    resolved = {
        key: max(1.0 if key != "pd" else 0.0, _log_interpolate(fields, [table[f][key] for f in fields], field_t))
        for key in ("t1", "t2", "pd")
    }
    dephasing_per_ms = DEPHASING_RATE_PER_TESLA[tissue] * field_t / 1000.0
    resolved["t2star"] = 1.0 / (1.0 / resolved["t2"] + dephasing_per_ms)
    return resolved


def signal_equation(properties: Mapping[str, float], sequence: str, tr: float, te: float, flip_deg: float) -> float:
    """Steady-state signal of one tissue (see the module notes for the equations)."""
    e1 = np.exp(-tr / properties["t1"])
    if sequence == "se":
        return float(properties["pd"] * (1.0 - e1) * np.exp(-te / properties["t2"]))
    if sequence == "gre":
        flip = np.deg2rad(flip_deg)
        steady = np.sin(flip) * (1.0 - e1) / (1.0 - np.cos(flip) * e1)
        return float(properties["pd"] * steady * np.exp(-te / properties["t2star"]))
    raise ValueError(f"unknown sequence {sequence!r}; expected one of {sorted(SEQUENCES)}")


def simulate_contrast(
    tissues: Mapping[str, np.ndarray],
    spacing: Sequence[float],
    *,
    contrast: str = "t1w",
    sequence: str = "se",
    field_t: float = 3.0,
    voxel_mm: float | Sequence[float] | None = None,
    snr_at_3t: float | None = 40.0,
    snr_field_exponent: float = 1.0,
    seed: int = 0,
    tr: float | None = None,
    te: float | None = None,
    flip_deg: float | None = None,
) -> tuple[np.ndarray, tuple[float, ...], dict[str, Any]]:
    """Simulate an MR image of a given contrast, field strength and voxel size from tissue maps.

    Steps: tissue signals from `TISSUE_PROPERTIES` and the sequence; signal = sum of probability x tissue
    signal, divided by the largest pure-tissue signal (so a voxel filled with the brightest tissue is exactly
    1 and the noise-free image lies in [0, 1] when probabilities sum to at most 1); resampled to `voxel_mm`
    (Gaussian anti-aliasing when coarser, linear interpolation, see `resample_to_spacing`); Rician noise of
    sigma = 1 / SNR with SNR = snr_at_3t x (field_t / 3) ** snr_field_exponent x voxel volume / 1 mm^3.
    SNR growing linearly with B0 is the classic approximation (Hoult & Richards 1976); Pohmann et al. 2016
    measured about B0 ** 1.65 with modern receive arrays (set `snr_field_exponent` to use it). A 2D image is
    taken as a 1 mm thick slice for the voxel volume.

    Args:
        tissues: probability maps on one grid, keyed by "csf", "gm", "wm" (any subset).
        spacing: voxel size of the maps per axis (mm).
        contrast: "t1w", "t2w" or "pdw" ("t2w" with "gre" is T2*-weighted).
        sequence: "se" (spin echo) or "gre" (spoiled gradient echo).
        field_t: main field strength (T).
        voxel_mm: output voxel size, one number (isotropic) or one per axis; None: keep `spacing`.
        snr_at_3t: SNR of the brightest pure tissue at 3 T in 1 mm^3 voxels; None: no noise.
        snr_field_exponent: SNR grows as field_t ** this.
        seed: seed of the noise.
        tr: repetition time (ms); None: the default of `SEQUENCES`.
        te: echo time (ms); None: the default.
        flip_deg: flip angle (degrees, gradient echo only); None: the default.

    Returns:
        (image float32, output spacing, params) with params holding the tissue properties and signals used,
        TR / TE / flip, field, SNR, absolute sigma, seed and the normaliser. Two contrasts of the same maps at
        the same `voxel_mm` share exactly the same grid.
    """
    from mrigan.physics.noise import RicianNoise
    from mrigan.physics.resolution import resample_to_spacing

    if sequence not in SEQUENCES:
        raise ValueError(f"unknown sequence {sequence!r}; expected one of {sorted(SEQUENCES)}")
    if contrast not in SEQUENCES[sequence]:
        raise ValueError(f"unknown contrast {contrast!r}; expected one of {sorted(SEQUENCES[sequence])}")
    if not tissues:
        raise ValueError("no tissue maps given")
    unknown = sorted(set(tissues) - set(TISSUE_PROPERTIES))
    if unknown:
        raise ValueError(f"unknown tissues {unknown}; known: {sorted(TISSUE_PROPERTIES)}")
    shapes = {np.shape(p) for p in tissues.values()}
    if len(shapes) != 1:
        raise ValueError(f"tissue maps must share one grid, got shapes {sorted(shapes)}")
    shape = shapes.pop()
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) != len(shape):
        raise ValueError(f"need one spacing per axis for shape {shape}, got {spacing}")

    defaults = SEQUENCES[sequence][contrast]
    tr = float(defaults["tr"] if tr is None else tr)
    te = float(defaults["te"] if te is None else te)
    flip_deg = float(defaults["flip_deg"] if flip_deg is None else flip_deg)

    used: dict[str, dict[str, float]] = {}
    for tissue in tissues:
        properties = tissue_properties(tissue, field_t)
        properties["signal"] = signal_equation(properties, sequence, tr, te, flip_deg)
        used[tissue] = properties
    normaliser = max(p["signal"] for p in used.values())
    if not normaliser > 0:
        raise ValueError("every tissue gives zero signal with these sequence parameters")
    signal = np.zeros(shape, dtype=np.float64)
    for tissue, probability in tissues.items():
        signal += np.asarray(probability, dtype=np.float64) * (used[tissue]["signal"] / normaliser)

    if voxel_mm is None:
        new_spacing = spacing
    else:
        sizes = np.broadcast_to(np.asarray(voxel_mm, dtype=float), (len(shape),))
        new_spacing = tuple(float(v) for v in sizes)
    image = resample_to_spacing(signal, spacing, new_spacing)

    voxel_mm3 = float(np.prod(new_spacing))  # a 2D slice counts as 1 mm thick
    params: dict[str, Any] = {
        "contrast": contrast,
        "sequence": sequence,
        "field_t": float(field_t),
        "tr_ms": tr,
        "te_ms": te,
        "flip_deg": flip_deg,
        "tissues": used,
        "normaliser": normaliser,
        "spacing": list(spacing),
        "new_spacing": list(new_spacing),
        "voxel_mm3": voxel_mm3,
        "snr_at_3t": snr_at_3t,
        "snr_field_exponent": snr_field_exponent,
        "seed": int(seed),
    }
    if snr_at_3t is None:
        params.update(snr=None, sigma=0.0)
        return image, new_spacing, params
    snr = float(snr_at_3t) * (field_t / 3.0) ** snr_field_exponent * voxel_mm3 / REFERENCE_VOXEL_MM3
    sigma = 1.0 / snr
    noisy = RicianNoise(sigma=sigma, seed=seed, reference=1.0)(image).image
    params.update(snr=snr, sigma=sigma)
    return noisy, new_spacing, params


def tissue_maps_from_t1(
    t1: np.ndarray, brain_mask: np.ndarray, seed: int = 0, *, max_samples: int = 200_000
) -> dict[str, np.ndarray]:
    """Fuzzy 3-class segmentation of a T1-weighted image: CSF, GM, WM probability maps.

    A 3-component Gaussian mixture (scikit-learn) is fitted to the brain voxels' intensities (a random subset
    of at most `max_samples`); components are named csf < gm < wm by increasing mean, as in T1w contrast.

    Args:
        t1: T1-weighted image (2D or 3D), any units.
        brain_mask: where the brain is (non-zero = brain), same shape.
        seed: seed of the subset and of the mixture's initialisation.
        max_samples: largest number of voxels the mixture is fitted on.

    Returns:
        {"csf", "gm", "wm"} float32 maps that sum to 1 inside the mask and are 0 outside.
    """
    from sklearn.mixture import GaussianMixture

    image = np.asarray(t1, dtype=np.float64)
    inside = np.asarray(brain_mask) != 0
    if inside.shape != image.shape:
        raise ValueError(f"mask shape {inside.shape} differs from image shape {image.shape}")
    values = image[inside].reshape(-1, 1)
    if values.shape[0] < 3:
        raise ValueError("the brain mask selects fewer than 3 voxels")
    rng = np.random.default_rng(seed)
    sample = (
        values if values.shape[0] <= max_samples else values[rng.choice(values.shape[0], max_samples, replace=False)]
    )
    mixture = GaussianMixture(
        n_components=3, random_state=seed, means_init=np.percentile(sample, [10, 50, 90]).reshape(-1, 1)
    )
    mixture.fit(sample)
    order = np.argsort(mixture.means_.ravel())
    probabilities = mixture.predict_proba(values)
    maps = {}
    for name, component in zip(TISSUES, order, strict=True):
        tissue = np.zeros(image.shape, dtype=np.float32)
        tissue[inside] = probabilities[:, component]
        maps[name] = tissue
    return maps
