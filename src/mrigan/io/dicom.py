"""DICOM: read single images and series (pydicom), write de-identified derived series.

Axis convention: a series is read as data (columns, rows, slices), the (x, y, z) index order of ITK /
SimpleITK and of a NIfTI converted without reorientation, with slices sorted by position along the slice
normal (ImageOrientationPatient row direction x column direction), never by file name or InstanceNumber;
the affine maps these axes to RAS+ mm (DICOM's LPS with x and y negated). A single DICOM image is read as a
2D Volume (rows, columns) = (H, W), like any other 2D image: affine column 0 steps from one row to the
next, column 1 from one column to the next, column 2 is the slice normal times the slice thickness. A
folder is always read as 3D, even when it holds one slice.

A Volume read from DICOM keeps its sorted pydicom datasets, without their pixel data, as `header`; writing
it (or any 2D/3D volume) as DICOM gives a new, de-identified DERIVED series: see `derived_datasets`.
A volume whose affine is left-handed in DICOM terms (slice step against row x column, e.g. LAS NIfTI)
comes back from a written series with its slice axis reversed: the same voxels in the same world places.
"""

from __future__ import annotations

import copy
import datetime as _dt
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_rescale
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid
from pydicom.valuerep import format_number_as_ds

import mrigan
from mrigan.errors import InputError, OutputError
from mrigan.io.arrays import dtype_name, require_finite
from mrigan.io.atomic import write_atomic
from mrigan.io.volume import Volume

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
_PIXEL_DATA_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")

#: Type 2 attributes that must stay present: they are emptied.
BLANKED_KEYWORDS = (
    "PatientName", "PatientID", "PatientBirthDate", "ReferringPhysicianName", "AccessionNumber", "StudyID",
)  # fmt: skip
#: Attributes that identify the patient, staff or site, or link back to the source images: they are removed.
REMOVED_KEYWORDS = (
    "PatientAddress", "OtherPatientIDs", "OtherPatientIDsSequence", "OtherPatientNames", "PatientBirthName",
    "PatientBirthTime", "PatientMotherBirthName", "PatientTelephoneNumbers", "PatientTelecomInformation",
    "MilitaryRank", "BranchOfService", "MedicalRecordLocator", "Occupation", "AdditionalPatientHistory",
    "PatientComments", "PatientInsurancePlanCodeSequence", "CountryOfResidence", "RegionOfResidence",
    "EthnicGroup", "IssuerOfPatientID", "ResponsiblePerson", "ResponsibleOrganization",
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "InstitutionCodeSequence",
    "StationName", "DeviceSerialNumber", "OperatorsName", "OperatorIdentificationSequence",
    "PerformingPhysicianName", "PerformingPhysicianIdentificationSequence", "PhysiciansOfRecord",
    "NameOfPhysiciansReadingStudy", "RequestingPhysician", "ReferringPhysicianAddress",
    "ReferringPhysicianTelephoneNumbers", "ReferringPhysicianIdentificationSequence",
    "RequestAttributesSequence", "ReferencedPatientSequence", "ReferencedStudySequence",
    "ReferencedPerformedProcedureStepSequence", "PerformedProcedureStepID", "RequestedProcedureID",
    "ScheduledProcedureStepID", "ImageComments", "StudyComments", "IconImageSequence",
    "SourceImageSequence", "ReferencedImageSequence",
)  # fmt: skip
#: Attributes that describe the old pixel values and no longer hold for the new ones.
STALE_PIXEL_KEYWORDS = (
    "SmallestImagePixelValue", "LargestImagePixelValue", "SmallestPixelValueInSeries",
    "LargestPixelValueInSeries", "PixelPaddingValue", "PixelPaddingRangeLimit", "WindowCenterWidthExplanation",
    "VOILUTSequence", "ModalityLUTSequence", "RescaleType", "NumberOfFrames", "PlanarConfiguration",
)  # fmt: skip
DEIDENTIFICATION_METHOD = "mrigan: identifying attributes removed, UIDs replaced"


# ---------------------------------------------------------------------------------------------- reading


def is_dicom_file(path: Path) -> bool:
    """True when the file carries the DICM marker after its 128-byte preamble."""
    try:
        with open(path, "rb") as handle:
            return handle.read(132)[128:] == b"DICM"
    except OSError:
        return False


def read_dicom(path: Path) -> Volume:
    """Read a DICOM file (2D Volume) or a folder holding a DICOM series (3D Volume)."""
    return _read_series(path) if path.is_dir() else _read_file(path)


def _read_file(path: Path) -> Volume:
    dataset = _parse(path, force=True)
    if dataset is None or not (is_dicom_file(path) or "SOPClassUID" in dataset or _has_pixels(dataset)):
        raise InputError(path, "not a recognised image format (not a DICOM file)")
    if not _has_pixels(dataset):
        raise InputError(path, "DICOM file has no pixel data")
    data, affine, stored_dtype = _assemble([dataset], path, single=True)
    # (columns, rows, 1) -> (rows, columns): the same (H, W) layout as every other 2D image
    affine_2d = affine[:, [1, 0, 2, 3]]
    return Volume(
        data=np.ascontiguousarray(data[:, :, 0].T),
        affine=affine_2d,
        source_format="dicom",
        header=[dataset],
        source_path=path,
        meta={"dtype": stored_dtype},
    )


def _read_series(folder: Path) -> Volume:
    """Read the DICOM series in `folder` (searched recursively).

    A folder holding several series (or slices of different size or orientation) is read as its largest
    series, with a warning that says so.
    """
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    datasets = [ds for ds in (_parse(f, force=f.suffix.lower() == ".dcm") for f in files) if ds is not None]
    if not datasets:
        raise InputError(folder, "no DICOM files in folder")
    images = [ds for ds in datasets if _has_pixels(ds)]
    if not images:
        raise InputError(folder, f"no DICOM images in folder ({len(datasets)} DICOM files, none with pixel data)")
    groups: dict[tuple, list[Dataset]] = {}
    for ds in images:
        orientation = tuple(np.round(_floats(ds, "ImageOrientationPatient", [1, 0, 0, 0, 1, 0]), 4))
        key = (str(ds.get("SeriesInstanceUID", "")), int(ds.get("Rows", 0)), int(ds.get("Columns", 0)), orientation)
        groups.setdefault(key, []).append(ds)
    chosen = max(groups.values(), key=len)
    if len(groups) > 1:
        description = chosen[0].get("SeriesDescription", "") or "no description"
        warnings.warn(
            f"{folder}: holds {len(groups)} DICOM series (or slice geometries); reading the largest "
            f"('{description}', {len(chosen)} slices). Give a folder with one series to choose another.",
            stacklevel=4,
        )
    data, affine, stored_dtype = _assemble(chosen, folder, single=False)
    return Volume(
        data=data,
        affine=affine,
        source_format="dicom",
        header=chosen,
        source_path=folder,
        meta={"dtype": stored_dtype},
    )


def _parse(path: Path, *, force: bool) -> Dataset | None:
    """The dataset in `path`, None when it is not DICOM; InputError when it is DICOM but damaged."""
    looks_dicom = is_dicom_file(path)
    try:
        return pydicom.dcmread(path, force=force or looks_dicom)
    except InvalidDicomError:
        return None
    except (EOFError, OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        if looks_dicom or path.suffix.lower() == ".dcm":
            raise InputError(path, f"truncated or corrupt DICOM ({error})") from None
        return None


def _has_pixels(dataset: Dataset) -> bool:
    return any(keyword in dataset for keyword in _PIXEL_DATA_KEYWORDS)


def _floats(dataset: Dataset, keyword: str, default: Sequence[float] | None = None) -> np.ndarray | None:
    value = dataset.get(keyword)
    if value is None or value == "":
        return None if default is None else np.asarray(default, dtype=float)
    return np.asarray([float(v) for v in (value if isinstance(value, Sequence) else [value])], dtype=float)


def _assemble(slices: list[Dataset], path: Path, *, single: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """Sort the slices along their normal and stack them (columns, rows, slices) with their RAS affine.

    The pixel data is dropped from the datasets once decoded (they are kept as the header).
    """
    first = slices[0]
    if int(first.get("NumberOfFrames", 1) or 1) > 1:
        raise InputError(
            path, f"multi-frame DICOM ({first.NumberOfFrames} frames) is not supported; convert it with dcm2niix"
        )
    if int(first.get("SamplesPerPixel", 1)) != 1:
        raise InputError(path, f"colour DICOM ({first.get('PhotometricInterpretation', '?')}) is not supported")
    orientation = _floats(first, "ImageOrientationPatient", [1, 0, 0, 0, 1, 0])
    row_direction, column_direction = orientation[:3], orientation[3:]
    normal = np.cross(row_direction, column_direction)
    if single:
        positions = [_floats(first, "ImagePositionPatient", [0, 0, 0])]
    else:
        positions = [_floats(ds, "ImagePositionPatient") for ds in slices]
        if any(position is None for position in positions):
            raise InputError(path, "DICOM slices have no ImagePositionPatient; cannot order the series")
    distances = np.array([position @ normal for position in positions])
    order = np.argsort(distances, kind="stable")
    slices[:] = [slices[i] for i in order]
    positions = [positions[i] for i in order]
    distances = distances[order]
    gaps = np.diff(distances)
    if len(gaps) and gaps.min() < 1e-3:
        repeats = int(np.count_nonzero(gaps < 1e-3))
        raise InputError(
            path, f"{repeats} slices share a position (multi-echo or time series?); give one 3D series"
        )
    if len(gaps) and gaps.max() - gaps.min() > max(0.01 * gaps.mean(), 1e-3):
        warnings.warn(
            f"{path}: slice gaps vary from {gaps.min():.3f} to {gaps.max():.3f} mm; using the mean gap",
            stacklevel=5,
        )
    if len(slices) > 1:
        slice_step = (positions[-1] - positions[0]) / (len(slices) - 1)
    else:
        thickness = _floats(first, "SpacingBetweenSlices")
        if thickness is None:
            thickness = _floats(first, "SliceThickness")
        slice_step = normal * (float(thickness[0]) if thickness is not None and thickness[0] > 0 else 1.0)
    spacing = _floats(first, "PixelSpacing")
    if spacing is None:
        spacing = _floats(first, "ImagerPixelSpacing", [1.0, 1.0])
    row_spacing, column_spacing = float(spacing[0]), float(spacing[1])
    lps = np.eye(4)
    lps[:3, 0] = row_direction * column_spacing  # next column: one step along a row
    lps[:3, 1] = column_direction * row_spacing  # next row: one step down a column
    lps[:3, 2] = slice_step
    lps[:3, 3] = positions[0]
    affine = LPS_TO_RAS @ lps

    stored_dtype = ""
    planes = []
    for ds in slices:
        if (ds.get("Rows"), ds.get("Columns")) != (first.get("Rows"), first.get("Columns")):
            raise InputError(path, "DICOM slices differ in size")
        try:
            pixels = ds.pixel_array
        except Exception as error:  # decoders raise many kinds (missing plugin, bad stream, ...)
            raise InputError(path, f"cannot decode DICOM pixel data ({type(error).__name__}: {error})") from None
        stored_dtype = dtype_name(pixels.dtype)
        values = apply_rescale(pixels, ds)  # RescaleSlope / RescaleIntercept, per slice
        planes.append(np.asarray(values, dtype=np.float32).T)  # (rows, columns) -> (columns, rows)
        for keyword in _PIXEL_DATA_KEYWORDS:
            if keyword in ds:
                delattr(ds, keyword)
    data = np.stack(planes, axis=-1)
    require_finite(data, path)
    return data, affine, stored_dtype


# ---------------------------------------------------------------------------------------------- writing


def write_dicom_series(
    volume: Volume, folder: str | Path, *, overwrite: bool = False, series_description: str | None = None
) -> Path:
    """Write a 3D volume (from NIfTI, DICOM or anywhere) as a de-identified derived DICOM series.

    One file per slice (`IM00001.dcm`, ...) in `folder`, written atomically. See `save_series`.

    Args:
        volume: data (columns, rows, slices) with its RAS affine.
        folder: the series folder to create.
        overwrite: replace an existing folder.
        series_description: SeriesDescription before " (mrigan)"; default: the source series' own
            description when the volume came from DICOM, else "mrigan".

    Returns:
        The folder written.
    """
    folder = Path(folder)
    check_writable(volume, folder)
    return write_atomic(
        folder,
        lambda tmp: save_series(volume, tmp, volume, series_description=series_description),
        overwrite=overwrite,
        inputs=[volume.source_path],
        directory=True,
    )


def save_series(
    volume: Volume, folder: Path, template: Volume, *, series_description: str | None = None
) -> None:
    """Write one derived MR image per slice into the existing `folder` (no atomicity: see write()).

    The template's DICOM datasets (when it came from DICOM) give the non-geometric attributes; otherwise a
    minimal MR Image dataset is built. Geometry always comes from `volume.affine`. A 2D volume is written
    as a one-slice series.
    """
    data, affine = _as_series_axes(volume)
    datasets = derived_datasets(data, affine, template, series_description=series_description)
    for index, dataset in enumerate(datasets, start=1):
        dataset.save_as(folder / f"IM{index:05d}.dcm", enforce_file_format=True)


def save_file(volume: Volume, path: Path, template: Volume) -> None:
    """Write a 2D volume (or a one-slice 3D volume) as a single derived DICOM file."""
    data, affine = _as_series_axes(volume)
    (dataset,) = derived_datasets(data, affine, template)
    dataset.save_as(path, enforce_file_format=True)


def check_writable(volume: Volume, target: Path, *, single_file: bool = False) -> None:
    """Raise OutputError, before anything is written, when DICOM cannot hold `volume`."""
    if volume.ndim not in (2, 3):
        raise OutputError(target, f"{volume.ndim}D data cannot be written as DICOM")
    if single_file and volume.ndim == 3 and volume.shape[2] != 1:
        raise OutputError(target, "a 3D volume needs a DICOM series: give a folder path ending in '/'")
    _, affine = _as_series_axes(volume)
    steps = np.asarray(affine, dtype=float)[:3, :3]
    norms = np.linalg.norm(steps, axis=0)
    if np.any(norms == 0):
        raise OutputError(target, "the affine has a zero voxel size")
    if abs(steps[:, 0] @ steps[:, 1]) / (norms[0] * norms[1]) > 1e-4:
        raise OutputError(target, "the affine shears rows against columns, which DICOM cannot represent")
    data = np.asarray(volume.data)
    bad = int(data.size - np.count_nonzero(np.isfinite(data)))
    if bad:
        raise OutputError(target, f"data contains {bad} NaN/Inf voxels")


def _as_series_axes(volume: Volume) -> tuple[np.ndarray, np.ndarray]:
    """Data (columns, rows, slices) and affine; a 2D (rows, columns) image becomes one slice."""
    affine = np.asarray(volume.affine, dtype=float)
    if volume.ndim == 2:
        return np.asarray(volume.data).T[:, :, None], affine[:, [1, 0, 2, 3]]
    return np.asarray(volume.data), affine


def derived_datasets(
    data: np.ndarray, affine: np.ndarray, template: Volume, *, series_description: str | None = None
) -> list[Dataset]:
    """One de-identified derived MR dataset per slice of `data` (columns, rows, slices).

    Pixels are stored as uint16 (or int16 for negative whole numbers). Whole numbers that fit are stored
    as they are, without RescaleSlope/Intercept (a plain standard MR object); other data get a
    RescaleSlope/Intercept chosen so they come back to within one quantisation step. Those two attributes
    are outside the MR Image IOD (a "Standard Extended" object, as many scanners write) but every common
    reader (pydicom, dcm2niix, ITK/GDCM, nibabel, viewers) applies them.
    """
    sources = [ds for ds in (template.header or []) if isinstance(ds, Dataset)]
    from_dicom = template.source_format == "dicom" and bool(sources)
    n_slices = data.shape[2]
    lps = np.diag([-1.0, -1.0, 1.0]) @ np.asarray(affine, dtype=float)[:3, :]
    column_step, row_step, slice_step, origin = lps[:, 0], lps[:, 1], lps[:, 2], lps[:, 3]
    column_spacing, row_spacing = float(np.linalg.norm(column_step)), float(np.linalg.norm(row_step))
    row_direction, column_direction = column_step / column_spacing, row_step / row_spacing
    normal = np.cross(row_direction, column_direction)
    slice_spacing = float(np.linalg.norm(slice_step))
    stored, slope, intercept = quantise(data)
    low, high = np.percentile(data, [1, 99])
    window_center, window_width = (low + high) / 2.0, max(float(high - low), 1.0)

    base_description = series_description
    if base_description is None:
        base_description = str(sources[0].get("SeriesDescription", "")) if from_dicom else ""
        base_description = base_description or "mrigan"
    # LO holds at most 64 characters; do not stack " (mrigan)" on a series mrigan already derived
    description = base_description[:64] if "mrigan" in base_description else f"{base_description[:55]} (mrigan)"
    derivation = f"mrigan {mrigan.__version__}"
    if template.meta.get("derivation"):
        derivation += f": {template.meta['derivation']}"
    now = _dt.datetime.now()
    study_uid = _hashed_uid(sources[0], "StudyInstanceUID") if from_dicom else generate_uid()
    frame_uid = _hashed_uid(sources[0], "FrameOfReferenceUID") if from_dicom else generate_uid()
    series_uid = generate_uid()
    source_number = sources[0].get("SeriesNumber") if from_dicom else None
    series_number = int(source_number) + 1000 if source_number not in (None, "") else 1000
    # a scanner's SliceThickness (which may differ from the spacing) holds only while the slice grid is unchanged
    keep_thickness = (
        from_dicom and len(sources) == n_slices and np.isclose(_slice_spacing(sources), slice_spacing, atol=1e-3)
    )

    datasets = []
    for k in range(n_slices):
        if from_dicom:
            source = sources[k] if len(sources) == n_slices else sources[0]
            ds = copy.deepcopy(source)
            # written as Explicit VR Little Endian whatever the source was (implicit VR, big endian, compressed)
            ds.set_original_encoding(False, True, ds.original_character_set)
            for keyword in (*_PIXEL_DATA_KEYWORDS, *STALE_PIXEL_KEYWORDS):
                if keyword in ds:
                    delattr(ds, keyword)
        else:
            ds = _minimal_mr_dataset()
        deidentify(ds)
        if "SOPClassUID" not in ds:
            ds.SOPClassUID, ds.Modality = MRImageStorage, "MR"
        position = origin + k * slice_step
        ds.SOPInstanceUID = generate_uid()
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.SeriesNumber = series_number
        ds.InstanceNumber = k + 1
        ds.ImageType = ["DERIVED", "SECONDARY", "OTHER"]  # MR images need a 3rd value
        ds.SeriesDescription = description
        ds.DerivationDescription = derivation
        ds.SeriesDate = ds.ContentDate = now.strftime("%Y%m%d")
        ds.SeriesTime = ds.ContentTime = now.strftime("%H%M%S")
        ds.ImageOrientationPatient = [_ds(v) for v in (*row_direction, *column_direction)]
        ds.ImagePositionPatient = [_ds(v) for v in position]
        ds.PixelSpacing = [_ds(row_spacing), _ds(column_spacing)]
        ds.SpacingBetweenSlices = _ds(slice_spacing)
        if not (keep_thickness and "SliceThickness" in ds):
            ds.SliceThickness = _ds(slice_spacing)
        ds.SliceLocation = _ds(position @ normal)
        if (slope, intercept) == (1.0, 0.0):
            # whole numbers stored as they are: no Modality LUT, which the MR IOD does not define
            for keyword in ("RescaleSlope", "RescaleIntercept"):
                if keyword in ds:
                    delattr(ds, keyword)
        else:
            ds.RescaleSlope, ds.RescaleIntercept = _ds(slope), _ds(intercept)
        ds.WindowCenter, ds.WindowWidth = _ds(window_center), _ds(window_width)
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.set_pixel_data(
            np.ascontiguousarray(stored[:, :, k].T), "MONOCHROME2", 16, generate_instance_uid=False
        )
        datasets.append(ds)
    return datasets


def quantise(data: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Integer pixels plus (slope, intercept) so that `pixels * slope + intercept` restores `data`.

    Whole numbers within uint16 or int16 are stored as they are (slope 1, intercept 0); anything else is
    spread over the uint16 range, with slope and intercept rounded to their DICOM text form first, so the
    error is at most one quantisation step (`slope`).
    """
    data = np.asarray(data, dtype=np.float64)
    low, high = float(data.min()), float(data.max())
    if np.array_equal(data, np.rint(data)):
        if low >= 0 and high <= 65535:
            return data.astype(np.uint16), 1.0, 0.0
        if low >= -32768 and high <= 32767:
            return data.astype(np.int16), 1.0, 0.0
    intercept = float(_ds(low))
    slope = float(_ds((high - low) / 65534.0)) if high > low else 1.0
    if slope <= 0:
        slope = 1.0
    pixels = np.clip(np.rint((data - intercept) / slope), 0, 65535).astype(np.uint16)
    return pixels, slope, intercept


def deidentify(ds: Dataset) -> None:
    """Blank or remove identifying attributes (and every person name), private tags and overlays, in place."""
    for keyword in BLANKED_KEYWORDS:
        setattr(ds, keyword, "")
    for keyword in REMOVED_KEYWORDS:
        if keyword in ds:
            delattr(ds, keyword)
    ds.remove_private_tags()

    def blank_names(dataset: Dataset, element: pydicom.DataElement) -> None:
        if element.VR == "PN":
            element.value = ""

    ds.walk(blank_names)
    for tag in [tag for tag in ds.keys() if 0x5000 <= tag.group <= 0x60FF and tag.group % 2 == 0]:
        del ds[tag]  # curves (50xx) and overlays (60xx) can hold burned-in text
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = DEIDENTIFICATION_METHOD


def _minimal_mr_dataset() -> Dataset:
    """The attributes an MR Image Storage object needs besides geometry, pixels and UIDs."""
    ds = Dataset()
    ds.SOPClassUID = MRImageStorage
    ds.Modality = "MR"
    ds.PatientSex = ""
    today = _dt.date.today().strftime("%Y%m%d")
    ds.StudyDate, ds.StudyTime = today, "000000"
    ds.Manufacturer = ""
    ds.SoftwareVersions = f"mrigan {mrigan.__version__}"
    ds.PositionReferenceIndicator = ""
    ds.PatientPosition = ""
    ds.Laterality = ""
    ds.ScanningSequence = "RM"  # research mode: the pixels are not a plain acquisition
    ds.SequenceVariant = "NONE"
    ds.ScanOptions = ""
    ds.MRAcquisitionType = "3D"
    ds.RepetitionTime = ds.EchoTime = ds.EchoTrainLength = ""
    ds.PhotometricInterpretation = "MONOCHROME2"
    return ds


def _slice_spacing(sources: list[Dataset]) -> float:
    """The source series' slice spacing: from its first two positions, else from its tags (0 if unknown)."""
    positions = [_floats(ds, "ImagePositionPatient") for ds in sources[:2]]
    if len(positions) == 2 and positions[0] is not None and positions[1] is not None:
        return float(np.linalg.norm(positions[1] - positions[0]))
    for keyword in ("SpacingBetweenSlices", "SliceThickness"):
        value = _floats(sources[0], keyword)
        if value is not None:
            return float(value[0])
    return 0.0


def _hashed_uid(source: Dataset, keyword: str) -> str:
    """A new UID derived from the source's one, so derived series of one study share it, yet do not reveal it."""
    original = source.get(keyword)
    return generate_uid(entropy_srcs=["mrigan", str(original)]) if original else generate_uid()


def _ds(value: float) -> str:
    """A number as DICOM decimal-string text (at most 16 characters), with no negative zero."""
    return format_number_as_ds(float(value) + 0.0)
