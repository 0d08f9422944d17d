"""Registration of one volume onto another with SimpleITK: affine, then B-spline deformable, Mattes MI.

`register(moving, fixed)` estimates the transform that maps `fixed`'s world points into `moving` (ITK's
convention: LPS millimetres, the form `sitk.WriteTransform` writes and 3D Slicer / ANTs read), in two stages:

1. affine: centred on the images' centres of mass, then a regular-step gradient descent on Mattes mutual information
   (so T1w onto T2w works as well as T1w onto T1w) over a 4 / 2 / 1 shrink pyramid;
2. deformable (optional): a cubic B-spline grid (one control point about every `mesh_mm`) on top of the
   affine, L-BFGS-B, over a 2 / 1 pyramid.

The moving volume is then resampled once (cubic B-spline, clipped to its own intensity range, 0 outside its
field of view) onto `fixed`'s grid refined `upsample` times per axis (seed 004 upsampled the 7 T volume 2x
before registering it to 9.4 T); `upsample=1` gives exactly `fixed`'s grid. The transform is estimated on the
images as given: it lives in world coordinates, so refining the output grid does not change it, only what
the output samples.

Deterministic: the metric samples a fixed number of voxels at random from `seed`, and runs on one thread by
default (the metric's sums would otherwise depend on how the image is split between threads).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mrigan.io.volume import Volume
from mrigan.preprocess.geometry import _from_sitk, _to_sitk


@dataclass
class RegistrationSettings:
    """What the two stages use; the defaults suit brain MRI at 0.5-4 mm.

    Attributes:
        samples: voxels of the fixed image the metric samples per pyramid level (at random, from the seed;
            all of them on a level with fewer).
        bins: histogram bins of Mattes mutual information.
        affine_iterations: gradient-descent iterations per pyramid level of the affine stage.
        mesh_mm: B-spline control point spacing in mm (coarser: smoother, fewer degrees of freedom).
        deformable_iterations: L-BFGS-B iterations per pyramid level of the deformable stage.
        threads: threads of the registration (1 keeps it bit-for-bit repeatable; SimpleITK's process-wide
            default is set to it while `register` runs).
    """

    samples: int = 50_000
    bins: int = 32
    affine_iterations: int = 200
    mesh_mm: float = 50.0
    deformable_iterations: int = 30
    threads: int = 1


def refine_grid(volume: Volume, factor: float) -> Volume:
    """`volume` resampled (cubic B-spline) onto its own grid with `factor` times as many voxels per axis.

    The grid `register(..., upsample=factor)` writes its output on: the same field of view (its corner stays
    where it is). Factor 1 returns a copy.
    """
    import SimpleITK as sitk

    if factor == 1:
        return volume.with_data(volume.data)
    image = _to_sitk(volume)
    size, origin, spacing = _refined_grid(image, factor)
    refined = sitk.Resample(image, size, sitk.Transform(), sitk.sitkBSpline, origin, spacing, image.GetDirection(),
                            0.0, sitk.sitkFloat32)
    out = _from_sitk(refined, volume)
    out.data = np.clip(out.data, min(float(volume.data.min()), 0.0), float(volume.data.max())).astype(np.float32)
    return out


def _sampling_seed(seed: int) -> int:
    """An ITK sampling seed from any int: ITK reads 0 as "seed from the wall clock", so 0 is never given."""
    return int(seed) % (2**31 - 2) + 1


def _method(settings: RegistrationSettings, seed: int, fixed_image, shrink: list[int]):
    """A registration method with the metric, sampling, pyramid (smoothing sigma = shrink / 2 voxels) and threads."""
    import SimpleITK as sitk

    voxels = float(np.prod(fixed_image.GetSize()))
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=settings.bins)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentagePerLevel(
        [min(1.0, settings.samples * f**3 / voxels) for f in shrink], _sampling_seed(seed)
    )
    method.SetInterpolator(sitk.sitkLinear)
    method.SetShrinkFactorsPerLevel(shrink)
    method.SetSmoothingSigmasPerLevel([f / 2.0 if f > 1 else 0.0 for f in shrink])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    method.SetNumberOfThreads(settings.threads)
    return method


def _shrinks(image, wanted: list[int]) -> list[int]:
    """Pyramid shrink factors, dropping levels that would leave fewer than 8 voxels along an axis."""
    smallest = min(image.GetSize())
    kept = [f for f in wanted if smallest // f >= 8]
    return kept or [1]


def register(
    moving: Volume, fixed: Volume, *, upsample: float = 2.0, deformable: bool = True, seed: int = 0,
    settings: RegistrationSettings | None = None,
) -> tuple[Volume, Any]:
    """Register `moving` onto `fixed` (affine, then B-spline) and resample it onto `fixed`'s (refined) grid.

    Args:
        moving: the 3D volume to move (any contrast).
        fixed: the 3D reference volume.
        upsample: the output grid is `fixed`'s with this many times as many voxels per axis (1: `fixed`'s grid).
        deformable: add the B-spline stage after the affine one.
        seed: seed of the metric's random voxel sample.
        settings: stage settings (`RegistrationSettings`); default the defaults.

    Returns:
        (registered, transform): `moving` on the refined grid of `fixed` (float32, `moving`'s intensity units
        and header, `meta["registration"]` the metric values and settings), and the `SimpleITK.Transform`
        mapping fixed world points (LPS mm) to moving ones.

    Raises:
        ValueError: a volume is not 3D, is flat (all one value), or `upsample` is not positive.
    """
    import SimpleITK as sitk

    settings = settings or RegistrationSettings()
    for role, volume in (("moving", moving), ("fixed", fixed)):
        if volume.ndim != 3:
            raise ValueError(f"{role}: registration needs a 3D volume, got shape {volume.shape}")
        if not np.ptp(volume.data) > 0:
            raise ValueError(f"{role}: every voxel has the same value; nothing to register on")
    if not upsample > 0:
        raise ValueError(f"upsample must be positive, got {upsample}")
    fixed_image, moving_image = _to_sitk(fixed), _to_sitk(moving)
    threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(settings.threads)  # the metric's threads follow it
    try:
        transform, record = _estimate(fixed_image, moving_image, deformable=deformable, seed=seed,
                                      settings=settings)
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    size, origin, spacing = _refined_grid(fixed_image, upsample)
    resampled = sitk.Resample(moving_image, size, transform, sitk.sitkBSpline, origin, spacing,
                              fixed_image.GetDirection(), 0.0, sitk.sitkFloat32)
    registered = _from_sitk(resampled, moving)
    low, high = float(moving.data.min()), float(moving.data.max())
    registered.data = np.clip(registered.data, min(low, 0.0), high).astype(np.float32)  # no spline overshoot
    registered.meta["registration"] = {
        **record, "deformable": deformable, "upsample": upsample, "seed": seed,
        "metric": "mattes_mutual_information", "settings": vars(settings).copy(),
    }
    return registered, transform


def _estimate(fixed_image, moving_image, *, deformable: bool, seed: int, settings: RegistrationSettings):
    """(transform, record of the metric values): the affine stage, then the B-spline stage on top of it."""
    import SimpleITK as sitk

    initial = sitk.CenteredTransformInitializer(
        fixed_image, moving_image, sitk.AffineTransform(3), sitk.CenteredTransformInitializerFilter.MOMENTS
    )
    method = _method(settings, seed, fixed_image, _shrinks(fixed_image, [4, 2, 1]))
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0, minStep=1e-4, numberOfIterations=settings.affine_iterations, relaxationFactor=0.5,
        gradientMagnitudeTolerance=1e-8,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetInitialTransform(initial, inPlace=False)
    affine = sitk.AffineTransform(method.Execute(fixed_image, moving_image).GetNthTransform(0))
    record: dict[str, Any] = {"affine_metric": method.GetMetricValue()}
    if not deformable:
        return affine, record

    extent = np.array(fixed_image.GetSize()) * np.array(fixed_image.GetSpacing())
    mesh = [max(int(round(e / settings.mesh_mm)), 1) for e in extent]
    bspline = sitk.BSplineTransformInitializer(fixed_image, mesh, order=3)
    method = _method(settings, seed, fixed_image, _shrinks(fixed_image, [2, 1]))
    method.SetOptimizerAsLBFGSB(
        gradientConvergenceTolerance=1e-5, numberOfIterations=settings.deformable_iterations,
        maximumNumberOfCorrections=5, maximumNumberOfFunctionEvaluations=4 * settings.deformable_iterations,
        costFunctionConvergenceFactor=1e7,
    )
    method.SetMovingInitialTransform(affine)
    method.SetInitialTransform(bspline, inPlace=True)
    method.Execute(fixed_image, moving_image)
    record.update(deformable_metric=method.GetMetricValue(), mesh=mesh)
    # ITK composites apply the last transform first: fixed point -> B-spline -> affine -> moving point
    return sitk.CompositeTransform([affine, bspline]), record


def _refined_grid(image, factor: float) -> tuple[list[int], tuple[float, ...], tuple[float, ...]]:
    """(size, origin, spacing) of `image`'s grid with `factor` times the voxels per axis, same field of view."""
    old_spacing = np.array(image.GetSpacing())
    size = np.maximum(np.round(np.array(image.GetSize()) * factor), 1).astype(int)
    spacing = old_spacing * np.array(image.GetSize()) / size
    direction = np.array(image.GetDirection()).reshape(3, 3)
    origin = np.array(image.GetOrigin()) + direction @ ((spacing - old_spacing) / 2)  # the corner stays put
    return [int(n) for n in size], tuple(float(o) for o in origin), tuple(float(s) for s in spacing)


def write_transform(transform: Any, path) -> None:
    """Write a SimpleITK transform (`.tfm` text or `.h5`); the format follows the suffix."""
    import SimpleITK as sitk

    sitk.WriteTransform(transform, str(path))
