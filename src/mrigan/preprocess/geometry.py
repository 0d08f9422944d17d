"""Geometry: resampling to a voxel size or onto another grid (SimpleITK), centre crop / pad, resize."""

from __future__ import annotations

import numpy as np

from mrigan.io.volume import Volume

_INTERPOLATORS = {"nearest": "sitkNearestNeighbor", "linear": "sitkLinear", "bspline": "sitkBSpline"}


def _to_sitk(volume: Volume):
    import SimpleITK as sitk

    if volume.ndim != 3:
        raise ValueError(f"resampling needs a 3D volume, got shape {volume.shape}")
    image = sitk.GetImageFromArray(np.ascontiguousarray(volume.data.T, dtype=np.float32))
    # SimpleITK works in LPS; the Volume affine is RAS.
    lps = np.diag([-1.0, -1.0, 1.0]) @ np.asarray(volume.affine, dtype=float)[:3, :]
    spacing = np.sqrt((lps[:, :3] ** 2).sum(axis=0))
    image.SetSpacing(tuple(spacing))
    image.SetDirection(tuple((lps[:, :3] / spacing).ravel()))
    image.SetOrigin(tuple(lps[:, 3]))
    return image


def _from_sitk(image, template: Volume) -> Volume:
    import SimpleITK as sitk

    spacing = np.array(image.GetSpacing())
    direction = np.array(image.GetDirection()).reshape(3, 3)
    affine = np.eye(4)
    affine[:3, :3] = np.diag([-1.0, -1.0, 1.0]) @ (direction * spacing)
    affine[:3, 3] = np.diag([-1.0, -1.0, 1.0]) @ np.array(image.GetOrigin())
    data = sitk.GetArrayFromImage(image).T.astype(np.float32)
    out = template.with_data(data)
    out.affine = affine
    return out


def resample_like(volume: Volume, reference: Volume, *, interpolation: str = "bspline", transform=None) -> Volume:
    """Resample `volume` onto `reference`'s grid (world coordinates; outside the field of view is 0).

    `transform`: a SimpleITK transform mapping `reference`'s world points (LPS mm) into `volume`'s, as
    `mrigan.preprocess.register` returns; default the identity.
    """
    import SimpleITK as sitk

    moving, fixed = _to_sitk(volume), _to_sitk(reference)
    method = getattr(sitk, _INTERPOLATORS[interpolation])
    resampled = sitk.Resample(moving, fixed, transform or sitk.Transform(), method, 0.0, sitk.sitkFloat32)
    out = _from_sitk(resampled, reference)
    out.meta = dict(volume.meta)
    return out


def resample_to_spacing(
    volume: Volume, spacing: float | tuple[float, float, float], *, interpolation: str = "bspline"
) -> Volume:
    """Resample to a new voxel size over the same field of view (anti-aliased when coarser)."""
    import SimpleITK as sitk

    image = _to_sitk(volume)
    new_spacing = np.broadcast_to(np.asarray(spacing, dtype=float), (3,))
    old_spacing = np.array(image.GetSpacing())
    if np.any(new_spacing > old_spacing):
        sigmas = np.maximum(new_spacing**2 - old_spacing**2, 0.0) ** 0.5 / 2.355
        image = sitk.SmoothingRecursiveGaussian(image, [float(s) for s in np.maximum(sigmas, 1e-3)])
    size = np.array(image.GetSize())
    new_size = np.maximum(np.round(size * old_spacing / new_spacing), 1).astype(int)
    # keep the field of view's corner fixed
    direction = np.array(image.GetDirection()).reshape(3, 3)
    origin = np.array(image.GetOrigin()) + direction @ ((new_spacing - old_spacing) / 2)
    method = getattr(sitk, _INTERPOLATORS[interpolation])
    resampled = sitk.Resample(
        image, [int(s) for s in new_size], sitk.Transform(), method, tuple(origin),
        tuple(new_spacing), image.GetDirection(), 0.0, sitk.sitkFloat32,
    )
    return _from_sitk(resampled, volume)


def center_crop_or_pad(data: np.ndarray, shape: tuple[int, ...], *, value: float = 0.0) -> np.ndarray:
    """Crop or zero-pad each axis symmetrically to `shape` (None keeps an axis)."""
    out = data
    for axis, size in enumerate(shape):
        if size is None:
            continue
        current = out.shape[axis]
        if current > size:
            start = (current - size) // 2
            out = np.take(out, range(start, start + size), axis=axis)
        elif current < size:
            before = (size - current) // 2
            pad = [(0, 0)] * out.ndim
            pad[axis] = (before, size - current - before)
            out = np.pad(out, pad, constant_values=value)
    return out


def resize(data: np.ndarray, shape: tuple[int, ...], *, order: int = 1) -> np.ndarray:
    """Resize to `shape` with anti-aliasing when shrinking (scikit-image)."""
    from skimage.transform import resize as sk_resize

    shrinking = any(n < o for n, o in zip(shape, data.shape))
    return sk_resize(data, shape, order=order, anti_aliasing=shrinking, preserve_range=True).astype(
        np.float32
    )
