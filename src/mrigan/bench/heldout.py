"""The held-out data of the bench: a contiguous block of axial Colin27 slices, and the real 1 mm -> 0.5 mm pair."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mrigan.physics.base import Degraded


@dataclass
class HeldOutBlock:
    """Clean slices to degrade and score on.

    Attributes:
        clean: (X, Y, Z) float32 in [0, 1]; Z indexes axial slices.
        brain: boolean brain mask on the same grid.
        sample: the sample's name.
        slices: the original axial slice indices of the block.
    """

    clean: np.ndarray
    brain: np.ndarray
    sample: str
    slices: tuple[int, int]


def _centre_block(brain: np.ndarray, n_slices: int) -> tuple[int, int]:
    z = np.nonzero(brain.any(axis=(0, 1)))[0]
    centre = int(round((z.min() + z.max()) / 2))
    start = max(0, centre - n_slices // 2)
    return start, min(brain.shape[2], start + n_slices)


def held_out_block(sample: str = "colin27", n_slices: int = 40) -> HeldOutBlock:
    """A block of `n_slices` contiguous axial slices through the centre of the brain, normalised to [0, 1]."""
    from mrigan.data.samples import load_sample
    from mrigan.preprocess import robust_minmax

    loaded = load_sample(sample)
    volume = robust_minmax(loaded.t1.data)
    start, stop = _centre_block(loaded.brain_mask, n_slices)
    return HeldOutBlock(
        clean=np.ascontiguousarray(volume[:, :, start:stop]),
        brain=np.ascontiguousarray(loaded.brain_mask[:, :, start:stop]),
        sample=sample,
        slices=(start, stop),
    )


@lru_cache(maxsize=1)
def pair_translation():
    """The translation aligning Colin27's 0.5 mm scan (`ch2better`) to its 1 mm scan (`ch2bet`).

    SimpleITK, Mattes mutual information, translation only (the same head; a full affine found no scaling
    beyond 0.1%), a 2 / 1 shrink pyramid; deterministic (fixed metric sample seed, one thread); computed once per
    process.

    Returns:
        A `SimpleITK.TranslationTransform` mapping 1 mm world points (LPS mm) to 0.5 mm ones.
    """
    import SimpleITK as sitk

    from mrigan.data.samples import MRICRON_TEMPLATES
    from mrigan.io import read
    from mrigan.preprocess.geometry import _to_sitk

    fixed = _to_sitk(read(MRICRON_TEMPLATES / "ch2bet.nii.gz"))
    moving = _to_sitk(read(MRICRON_TEMPLATES / "ch2better.nii.gz"))
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(0.005, 1)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=1e-4, numberOfIterations=100)
    method.SetShrinkFactorsPerLevel([2, 1])
    method.SetSmoothingSigmasPerLevel([1.0, 0.0])
    method.SetInitialTransform(sitk.TranslationTransform(3), inPlace=False)
    method.SetNumberOfThreads(1)
    return method.Execute(fixed, moving)


def real_sr_pair(n_slices: int = 40) -> tuple[np.ndarray, np.ndarray, Degraded]:
    """Colin27 scanned at 1 mm (input) and at 0.5 mm (target), on one common grid.

    The 0.5 mm volume is resampled (B-spline) onto the exact 2x refinement of the 1 mm grid, so every 1 mm
    voxel covers 2 x 2 x 2 target voxels, after aligning it to the 1 mm scan: the two templates sit about half a
    millimetre apart in x and y (`pair_translation`), which alone cost a sharp upscaler more than it gained. Both are brain-extracted scans (`ch2bet`, `ch2better`) and are
    normalised with robust min-max over their brain voxels. The two scans were processed differently (the
    0.5 mm one has a stronger grey / white contrast), so the 1 mm input's intensities are mapped onto the
    target's by histogram matching against the target averaged down to 1 mm, inside the brain: a monotonic
    intensity calibration that uses no 0.5 mm detail.

    Returns:
        (target (X, Y, Z) in [0, 1], target brain mask, Degraded holding the 1 mm block with zoom 0.5).
    """
    from skimage.exposure import match_histograms

    from mrigan.data.samples import MRICRON_TEMPLATES
    from mrigan.io import read
    from mrigan.preprocess import resample_like, robust_minmax

    low = read(MRICRON_TEMPLATES / "ch2bet.nii.gz")
    high = read(MRICRON_TEMPLATES / "ch2better.nii.gz")
    brain_low = low.data > 0
    start, stop = _centre_block(brain_low, n_slices)
    # the 1 mm block, and the 2x refined grid covering the same field of view
    block = low.with_data(low.data[:, :, start:stop])
    block.affine = low.affine.copy()
    block.affine[:3, 3] = low.affine[:3, :3] @ np.array([0, 0, start]) + low.affine[:3, 3]
    fine = block.with_data(np.zeros([2 * n for n in block.shape], np.float32), zoom=(2.0, 2.0, 2.0))
    target = resample_like(high, fine, interpolation="bspline", transform=pair_translation()).data
    brain_high = target > 0.5
    inside = target > 0
    # only keep voxels the 0.5 mm scan actually covers
    target = robust_minmax(np.where(inside, target, 0.0))
    low_block = robust_minmax(block.data)
    target_at_1mm = target.reshape(low_block.shape[0], 2, low_block.shape[1], 2, low_block.shape[2], 2).mean(
        axis=(1, 3, 5)
    )
    low_brain = low_block > 0
    low_block = low_block.copy()
    low_block[low_brain] = match_histograms(low_block[low_brain], target_at_1mm[low_brain])
    degraded = Degraded(
        image=low_block, source_shape=tuple(target.shape), zoom=(0.5, 0.5, 0.5),
        params=[{"op": "real-pair", "input": "ch2bet.nii.gz (1 mm)", "target": "ch2better.nii.gz (0.5 mm)"}],
    )
    return target.astype(np.float32), brain_high, degraded
