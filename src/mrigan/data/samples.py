"""Real scans that ship with installed packages; nothing is downloaded.

- "mni152": MNI ICBM152 2009a nonlinear symmetric T1 (1 mm) with its GM and WM probability maps, from
  nilearn's package data. Skull-stripped.
- "mni152-gmm": the same MNI152 T1, its tissue maps segmented from the T1 by the 3-class Gaussian mixture that
  every other sample gets (`mrigan.physics.tissue_maps_from_t1`) instead of the shipped probability maps: a human
  anatomy with the crisper tissue boundaries of a segmented scan.
- "colin27": Colin Holmes' 27-average T1 at 1 mm (`ch2.nii.gz`, with skull; brain mask from `ch2bet.nii.gz`),
  from Debian's mricron-data.
- "colin27-hires": the same brain at 0.5 mm (`ch2better.nii.gz`, brain-extracted), from mricron-data.
- "inia19": the INIA19 rhesus macaque T1 template at 0.5 mm (skull-stripped), from mricron-data.
- "mni152-tight", "inia19-tight": the same anatomies with the CSF around the brain stripped off
  (`strip_outer_csf`), as a tight brain extraction such as BET's leaves a scan (Colin27's mask is BET's): the
  brain's outer edge is then grey matter, not a layer of CSF.

Protocol: train on mni152 (or mni152-gmm) and inia19; colin27 is held out for every reported number.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mrigan.io.volume import Volume

MRICRON_TEMPLATES = Path("/usr/share/mricron/templates")
SEGMENTATION_VARIANTS = {"mni152-gmm": "mni152"}
"""Variant -> the sample whose scan it is, its tissue maps segmented from the T1 (a scan viewer lists the scan once)."""
TIGHT_VARIANTS = {"mni152-tight": "mni152", "inia19-tight": "inia19"}
"""Variant -> the sample whose anatomy it is, with the CSF around its brain stripped off (`strip_outer_csf`)."""
TRAIN_SAMPLES = ("mni152", "inia19")
HELD_OUT_SAMPLES = ("colin27",)


@dataclass
class Sample:
    """A sample anatomy.

    Attributes:
        name: key in SAMPLES.
        t1: the T1-weighted volume in its file's units.
        brain_mask: boolean brain mask on t1's grid.
        tissues: GM / WM / CSF probability maps on t1's grid, when shipped (None: derive them with
            `mrigan.physics.tissue_maps_from_t1`).
    """

    name: str
    t1: Volume
    brain_mask: np.ndarray
    tissues: dict[str, np.ndarray] | None = None


def _nilearn_data() -> Path:
    import nilearn.datasets

    return Path(nilearn.datasets.__file__).parent / "data"


def _files(name: str) -> dict[str, Path]:
    name = SEGMENTATION_VARIANTS.get(name, TIGHT_VARIANTS.get(name, name))
    if name == "mni152":
        base = _nilearn_data()
        return {
            kind: base / f"mni_icbm152_{kind}_tal_nlin_sym_09a_converted.nii.gz"
            for kind in ("t1", "gm", "wm")
        }
    if name == "colin27":
        return {"t1": MRICRON_TEMPLATES / "ch2.nii.gz", "brain": MRICRON_TEMPLATES / "ch2bet.nii.gz"}
    if name == "colin27-hires":
        return {"t1": MRICRON_TEMPLATES / "ch2better.nii.gz"}
    if name == "inia19":
        return {"t1": MRICRON_TEMPLATES / "inia19-t1-brain.nii.gz"}
    raise KeyError(f"unknown sample {name!r}; known: {', '.join(SAMPLES)}")


SAMPLES: dict[str, str] = {
    "mni152": "MNI ICBM152 2009a T1 + GM/WM maps, 1 mm (nilearn package data)",
    "mni152-gmm": "MNI ICBM152 2009a T1, 1 mm, tissue maps from a Gaussian mixture of the T1 (nilearn package data)",
    "colin27": "Colin27 T1, 1 mm, with skull (Debian mricron-data) - held out",
    "colin27-hires": "Colin27 T1, 0.5 mm, brain only (Debian mricron-data) - held out",
    "inia19": "INIA19 macaque T1, 0.5 mm, brain only (Debian mricron-data)",
    "mni152-tight": "MNI ICBM152 2009a, the CSF around the brain stripped off as a tight brain extraction would",
    "inia19-tight": "INIA19 macaque, the CSF around the brain stripped off as a tight brain extraction would",
}


def missing_reason(name: str) -> str | None:
    """None when the sample's files are on disk, else why not (and how to get them)."""
    missing = [p for p in _files(name).values() if not p.exists()]
    if not missing:
        return None
    if str(missing[0]).startswith(str(MRICRON_TEMPLATES)):
        return f"{missing[0]} not found: install the Debian package mricron-data (apt-get install mricron-data)"
    return f"{missing[0]} not found (is nilearn installed?)"


def available_samples() -> list[str]:
    """Installed sample scans, each scan once (no segmentation variants)."""
    variants = {**SEGMENTATION_VARIANTS, **TIGHT_VARIANTS}
    return [name for name in SAMPLES if name not in variants and missing_reason(name) is None]


@functools.lru_cache(maxsize=4)
def load_sample(name: str) -> Sample:
    """Load a sample anatomy with its brain mask (and tissue maps where shipped)."""
    from mrigan.io import read
    from mrigan.preprocess.intensity import fill_holes

    reason = missing_reason(name)
    if reason:
        raise FileNotFoundError(reason)
    if name in TIGHT_VARIANTS:
        return _tight_sample(name)
    files = _files(name)
    t1 = read(files["t1"])
    tissues = None
    if SEGMENTATION_VARIANTS.get(name, name) == "mni152":
        gm = read(files["gm"]).data / 255.0
        wm = read(files["wm"]).data / 255.0
        brain = fill_holes((t1.data > 0) | (gm + wm > 0.2))
        gm, wm = gm * brain, wm * brain
        csf = np.clip(brain - gm - wm, 0.0, 1.0)
        if name == "mni152":
            tissues = {"gm": gm.astype(np.float32), "wm": wm.astype(np.float32), "csf": csf.astype(np.float32)}
    elif name == "colin27":
        brain = fill_holes(read(files["brain"]).data > 0)
    else:
        brain = fill_holes(t1.data > 0)
    return Sample(name=name, t1=t1, brain_mask=brain, tissues=tissues)


def strip_outer_csf(tissues: dict[str, np.ndarray], depth: int = 4) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Tissue maps and brain mask without the CSF around the brain, as a tight brain extraction leaves them.

    Voxels where CSF is the likeliest tissue are peeled off from the outside inwards, at most `depth` voxels
    deep; a closing then gives back the narrow sulci the peeling opened, and only the largest piece is kept.
    Ventricles and deep sulci stay. On MNI152 (1 mm) and inia19 (0.5 mm) at depth 4 the outermost voxels go
    from 71% / 96% CSF to 36% / 39%; Colin27's BET mask has 46%.
    """
    from scipy import ndimage

    from mrigan.preprocess.intensity import fill_holes

    brain = sum(tissues.values()) > 0.1
    csf_likeliest = brain & (tissues["csf"] >= np.maximum(tissues["gm"], tissues["wm"]))
    peeled = ndimage.binary_dilation(~brain, iterations=depth, mask=csf_likeliest | ~brain) & brain
    closing = ndimage.generate_binary_structure(brain.ndim, 1)
    tight = fill_holes(ndimage.binary_closing(brain & ~peeled, structure=closing, iterations=2) & brain)
    labels, count = ndimage.label(tight)
    if count > 1:
        tight = labels == np.bincount(labels.ravel())[1:].argmax() + 1
    return {name: (tissue * tight).astype(np.float32) for name, tissue in tissues.items()}, tight


def _tight_sample(name: str) -> Sample:
    from mrigan.physics import tissue_maps_from_t1
    from mrigan.preprocess import robust_minmax

    base = load_sample(TIGHT_VARIANTS[name])
    tissues = base.tissues or tissue_maps_from_t1(robust_minmax(base.t1.data), base.brain_mask)
    tissues, tight = strip_outer_csf(tissues)
    t1 = Volume(base.t1.data * tight, base.t1.affine, base.t1.source_format, base.t1.header, base.t1.source_path,
                dict(base.t1.meta))
    return Sample(name=name, t1=t1, brain_mask=tight, tissues=tissues)
