"""2D images: PNG and JPEG through Pillow, TIFF through tifffile; a display helper (window / level)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from mrigan.errors import InputError, OutputError
from mrigan.io.arrays import dtype_name, require_finite
from mrigan.io.volume import Volume

TIFF_SUFFIXES = (".tif", ".tiff")
#: ITU-R BT.601 luma weights, the ones Pillow's convert("L") uses.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])


def window_level(data: np.ndarray, center: float, width: float) -> np.ndarray:
    """Map intensities to an 8-bit display image with a linear window (DICOM's WindowCenter/WindowWidth).

    Args:
        data: intensities in any units.
        center: the intensity shown as mid grey.
        width: the intensity range mapped onto 0..255 (values outside are clipped); must be > 0.

    Returns:
        uint8 array of the same shape.
    """
    if not width > 0:
        raise ValueError(f"window width must be > 0, got {width}")
    low = center - width / 2.0
    scaled = (np.asarray(data, dtype=np.float64) - low) / width * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def read_image(path: Path) -> Volume:
    """Read a 2D grey image, keeping 8- and 16-bit values as they are.

    Colour images become grey (BT.601 luma) with a warning that names the file, unless every pixel is
    already grey (R == G == B), which is taken as it is. The affine is the identity (1 mm pixels);
    DPI tags are ignored.

    Returns:
        A Volume with data shape (H, W) and meta["dtype"] the stored dtype ("uint8", "uint16", ...).
    """
    if path.suffix.lower() in TIFF_SUFFIXES or _is_tiff(path):
        array = _read_tiff(path)
    else:
        array = _read_pillow(path)
    if array.ndim == 3:
        array = _to_grey(array, path)
    data = np.ascontiguousarray(array, dtype=np.float32)
    require_finite(data, path)
    meta = {"dtype": dtype_name(array.dtype)}
    return Volume(data=data, affine=np.eye(4), source_format="image", source_path=path, meta=meta)


def save_image(
    volume: Volume, path: Path, image_format: str, template: Volume, *, target: Path | None = None
) -> None:
    """Write a 2D volume as PNG, JPEG or TIFF.

    Values are rounded and clipped to the stored dtype: the template's meta["dtype"] when it is uint8 or
    uint16 (JPEG: always uint8), otherwise uint8 for PNG/JPEG and float32 (lossless) for TIFF. Clipping
    is reported with a warning (naming `target`, the final path, when given); use `window_level` first to
    map MRI intensities onto 0..255.
    """
    data = np.asarray(volume.data)
    if data.ndim != 2:
        raise OutputError(path, f"a {data.ndim}D volume cannot be written as {image_format}; write one slice")
    source_dtype = str(template.meta.get("dtype", ""))
    if image_format == "JPEG":
        dtype = np.dtype(np.uint8)
    elif source_dtype in ("uint8", "uint16"):
        dtype = np.dtype(source_dtype)
    else:
        dtype = np.dtype(np.float32 if image_format == "TIFF" else np.uint8)
    pixels = _cast(data, dtype, target or path)
    if image_format == "TIFF":
        import tifffile

        tifffile.imwrite(path, pixels, photometric="minisblack")
        return
    from PIL import Image

    options = {"quality": 95} if image_format == "JPEG" else {}
    Image.fromarray(pixels).save(path, format=image_format, **options)


def _cast(data: np.ndarray, dtype: np.dtype, path: Path) -> np.ndarray:
    if dtype.kind == "f":
        return data.astype(dtype)
    info = np.iinfo(dtype)
    rounded = np.rint(data)
    clipped = int(np.count_nonzero((rounded < info.min) | (rounded > info.max)))
    if clipped:
        warnings.warn(
            f"{path}: {clipped} pixels outside [{info.min}, {info.max}] were clipped for {dtype} storage",
            stacklevel=6,
        )
    return np.clip(rounded, info.min, info.max).astype(dtype)


def _is_tiff(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) in (b"II*\x00", b"MM\x00*")


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tiff:
            pages = len(tiff.pages)
            if pages > 1:
                raise InputError(path, f"multi-page TIFF ({pages} pages); save volumes as NIfTI or .npy")
            array = tiff.asarray()
    except (tifffile.TiffFileError, ValueError, OSError, IndexError) as error:
        raise InputError(path, f"not a recognised image format (TIFF: {error})") from None
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (2, 3, 4)):
        raise InputError(path, f"TIFF of shape {array.shape}; a 2D grey or colour image is needed")
    if array.dtype.kind not in "buif":
        raise InputError(path, f"unsupported TIFF sample type {array.dtype}")
    return array


def _read_pillow(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("1", "CMYK", "YCbCr", "LAB", "HSV"):
                image = image.convert("L" if image.mode == "1" else "RGB")
            elif image.mode in ("P", "PA"):
                image = image.convert("RGBA")
            array = np.array(image)
    except UnidentifiedImageError:
        raise InputError(path, "not a recognised image format (Pillow cannot identify it)") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise InputError(path, f"truncated or corrupt image ({error})") from None
    if array.dtype == np.int32 and array.size and array.min() >= 0 and array.max() <= 65535:
        array = array.astype(np.uint16)  # Pillow's "I" mode for 16-bit grey
    return array


def _to_grey(array: np.ndarray, path: Path) -> np.ndarray:
    """Grey from grey+alpha or colour (+alpha) pixels, warning when colour or transparency is dropped."""
    channels = array.shape[-1]
    colour = array[..., :1] if channels <= 2 else array[..., :3]
    alpha = array[..., -1] if channels in (2, 4) else None
    dropped = []
    if colour.shape[-1] == 3 and not (
        np.array_equal(colour[..., 0], colour[..., 1]) and np.array_equal(colour[..., 0], colour[..., 2])
    ):
        dropped.append("colour (converted to grey, BT.601 luma)")
        grey = colour.astype(np.float64) @ LUMA_WEIGHTS
        grey = np.rint(grey).astype(array.dtype) if array.dtype.kind in "iu" else grey.astype(array.dtype)
    else:
        grey = colour[..., 0]
    if alpha is not None and alpha.size and alpha.min() != alpha.max():
        dropped.append("transparency (alpha channel ignored)")
    if dropped:
        warnings.warn(f"{path}: image has {' and '.join(dropped)}", stacklevel=4)
    return np.ascontiguousarray(grey)
