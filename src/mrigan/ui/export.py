"""The downloads: the enhanced scan in the input's format, and the export pack (zip) with the evidence."""

from __future__ import annotations

import dataclasses
import shutil
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mrigan.io.volume import Volume
from mrigan.ui.pipeline import Outcome

PACK_NAME = "mrigan-export.zip"
NOTICE_FILE = "NOTICE.txt"


def grid_zoom(outcome: Outcome, array: np.ndarray) -> tuple[float, ...] | None:
    """Per-axis size ratio of `array`'s grid to the region's: None on the same grid, else the recorded zoom."""
    if np.shape(array) == np.shape(outcome.region.data):
        return None
    zoom = outcome.degraded.zoom or tuple(
        n / m for n, m in zip(np.shape(array), np.shape(outcome.region.data), strict=True))
    return tuple(zoom) if outcome.request.degrade else tuple(1.0 / z for z in zoom)


def as_volume(outcome: Outcome, array: np.ndarray, *, units: bool = True, scale: float | None = None) -> Volume:
    """A working-units array of `outcome` as a Volume in the scan's geometry (and units, unless `units=False`).

    `scale` is what the array was divided by (default the region's maximum, `outcome.scale`).
    """
    scaled = np.asarray(array, np.float32) * ((scale or outcome.scale) if units else 1.0)
    return outcome.region.to_volume(scaled, zoom=grid_zoom(outcome, array))


def write_like_input(volume: Volume, outcome: Outcome, folder: Path, stem: str) -> Path:
    """Write `volume` in the input's format as `folder/stem<suffix>` (a DICOM series: a folder).

    Values that the input's integer type cannot hold are clipped silently (an 8-bit PNG stays 8-bit).
    """
    from mrigan import io

    suffix = outcome.scan.output_suffix
    target = folder / stem if suffix == "/" else folder / f"{stem}{suffix}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Path(io.write(volume, f"{target}/" if suffix == "/" else target, like=outcome.region.template))


def write_float_map(volume: Volume, outcome: Outcome, folder: Path, stem: str) -> Path:
    """Write a float map (uncertainty) losslessly: float32 TIFF beside 2D images, NIfTI otherwise."""
    from mrigan import io

    volume.meta.pop("dtype", None)
    return Path(io.write(volume, folder / f"{stem}{'.tif' if outcome.scan.kind == 'image' else '.nii.gz'}"))


def write_enhanced(outcome: Outcome, folder: Path, stem: str = "enhanced") -> Path:
    """The enhanced scan in the input's format and geometry; a DICOM series is zipped into one file."""
    written = write_like_input(as_volume(outcome, outcome.output), outcome, folder, stem)
    return zip_folder(written, written.with_suffix(".zip")) if written.is_dir() else written


def zip_folder(folder: Path, target: Path) -> Path:
    """Zip a folder's files (names relative to its parent) into `target`."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in sorted(folder.rglob("*")):
            if member.is_file():
                archive.write(member, member.relative_to(folder.parent).as_posix())
    return target


def provenance_record(outcome: Outcome, files: dict[str, str], level: float, width: float) -> dict[str, Any]:
    """The JSON provenance of one result: input hashes, choices, method, degradation, metrics, files."""
    from mrigan.provenance import provenance

    request = {key: value for key, value in dataclasses.asdict(outcome.request).items() if key != "drawn_mask"}
    drawn = outcome.request.drawn_mask
    record = provenance(
        command="ui",
        inputs={"input": outcome.scan.path},
        options={**request, "painted_missing_pixels": int(np.count_nonzero(drawn)) if drawn is not None else 0,
                 "degradation_specs": outcome.request.degradation_specs(), "window": [level, width]},
        method=outcome.method,
        degradation=outcome.degraded.params,
        region={"shape": list(np.shape(outcome.region.data)), "axis": outcome.region.axis,
                "index": outcome.region.index, "whole_volume": outcome.region.whole,
                "working_units": f"input / {outcome.scale:g} (the region's maximum)"
                + (f"; target / {outcome.target_scale:g} (its own maximum: another contrast)"
                   if outcome.target_scale not in (None, outcome.scale) else "")},
        metrics={**outcome.metrics, "target": _target_kind(outcome)},
        seconds=outcome.seconds,
        files=files,
    )
    record["inputs"]["input"]["path"] = outcome.scan.name  # never the server's folders
    return record


def _target_kind(outcome: Outcome) -> str | None:
    if outcome.target is None:
        return None
    return "the clean input (a degradation was added)" if outcome.request.degrade else "the ground truth given"


def write_result(outcome: Outcome, folder: Path, level: float, width: float) -> dict[str, Path]:
    """Every file of one result into `folder`: input, output, target, uncertainty, figure, provenance."""
    from mrigan.provenance import dumps
    from mrigan.ui.render import save_figure

    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "input": write_like_input(as_volume(outcome, outcome.shown_input), outcome, folder, "input"),
        "output": write_like_input(as_volume(outcome, outcome.output), outcome, folder, "output"),
    }
    if outcome.target is not None:
        files["target"] = write_like_input(as_volume(outcome, outcome.target, scale=outcome.target_scale), outcome,
                                           folder, "target")
    if outcome.uncertainty is not None:
        files["uncertainty"] = write_float_map(as_volume(outcome, outcome.uncertainty), outcome, folder,
                                               "uncertainty")
    files["figure"] = save_figure(outcome, folder / "figure.png", level, width)
    names = {role: path.name for role, path in files.items()}
    files["provenance"] = folder / "provenance.json"
    files["provenance"].write_text(dumps(provenance_record(outcome, names, level, width)))
    return files


def write_pack(outcomes: Sequence[Outcome], folder: Path, level: float, width: float) -> Path:
    """The export pack: one folder per result (flat for one result), the notice, all zipped.

    Returns:
        `folder/mrigan-export.zip`.
    """
    import mrigan

    pack = folder / "mrigan-export"
    for number, outcome in enumerate(outcomes):
        write_result(outcome, pack if len(outcomes) == 1 else pack / f"{number + 1:02d}", level, width)
    (pack / NOTICE_FILE).write_text(f"{mrigan.RESEARCH_NOTICE}\nWritten by `mrigan ui`, mrigan {mrigan.__version__}.\n")
    target = zip_folder(pack, folder / PACK_NAME)
    shutil.rmtree(pack)
    return target


def write_downloads(outcomes: Sequence[Outcome], folder: Path, level: float, width: float) -> tuple[Path, Path]:
    """(enhanced scan, export pack): the enhanced file itself for one result, a zip of them for a batch."""
    if len(outcomes) == 1:
        enhanced = write_enhanced(outcomes[0], folder)
    else:
        batch = folder / "enhanced"
        batch.mkdir()
        for number, outcome in enumerate(outcomes):
            write_enhanced(outcome, batch, f"{number + 1:02d}_{Path(outcome.scan.name).stem}")
        enhanced = zip_folder(batch, folder / "enhanced.zip")
    return enhanced, write_pack(outcomes, folder, level, width)
