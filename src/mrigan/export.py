"""`mrigan export`: a shareable pack (one zip) of an enhanced output or of a training run, with its provenance.

The source decides the pack:

- an output of `mrigan enhance` (a NIfTI / PNG / ... file or a DICOM series folder, with its `OUTPUT.json`): the
  output as written, the sidecar as `provenance.json`, the uncertainty map if enhance wrote one, PNG previews
  (the middle slice along each axis of a volume) and, given the original scan (checked against the sha256 in
  the sidecar), its previews and an input / output / difference figure;
- a training run folder (`mrigan train`): the exported generator(s) of `best/` (else `final/`), the resolved
  config, the metric CSVs, the loss curves and the last validation figure, and a generated `MODEL_CARD.md`.
  Training checkpoints (`checkpoints/*.pt`) are never packed.

Every pack has a README.md and a manifest.json that list each file with its sha256 (the manifest does not list
itself), the mrigan version and the time. The zip is written atomically; the source is only read.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io as _io
import json
import math
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import mrigan
from mrigan.errors import InputError, OutputError, UsageError

PACK_FORMAT = "mrigan-export/1"
#: Members already compressed: stored, not deflated again.
_STORED_SUFFIXES = (".gz", ".png", ".jpg", ".jpeg", ".zip", ".safetensors")
#: Previews are enlarged (nearest neighbour, whole pixels) until their longer side reaches this.
PREVIEW_MIN_SIDE = 256
_PLANE_NAMES = {"R": "sagittal", "L": "sagittal", "A": "coronal", "P": "coronal", "S": "axial", "I": "axial"}
_RUN_PARTS = ("best", "final", "metrics", "figures", "checkpoints", "tb")
_CHECKPOINTS_WHY = ("training checkpoints (optimiser, EMA and random state for an exact resume) are pickled PyTorch "
                    "files, large and unsafe to load from others; they are never packed. The safetensors weights "
                    "in model/ are what using the model needs.")
_TASKS = {
    "restore": "restoration: denoising and inpainting, UMR-GAN",
    "super_resolve": "super-resolution",
    "translate": "image-to-image translation: contrast or field strength",
}


@dataclass
class Member:
    """One file of the pack: `path` inside it, one line on what it is, and bytes or a file to copy."""

    path: str
    what: str
    data: bytes | None = None
    source: Path | None = None

    def chunks(self) -> Iterator[bytes]:
        if self.data is not None:
            yield self.data
            return
        with open(self.source, "rb") as stream:
            yield from iter(lambda: stream.read(1 << 20), b"")

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else self.source.stat().st_size


@dataclass
class Pack:
    """What goes into a pack: its files, the README and manifest texts' parts, what was left out and why."""

    kind: str
    title: str
    intro: str
    members: list[Member] = field(default_factory=list)
    left_out: list[dict[str, Any]] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)

    def add_file(self, path: str, source: Path, what: str) -> None:
        self.members.append(Member(path, what, source=source))

    def add_bytes(self, path: str, data: bytes, what: str) -> None:
        self.members.append(Member(path, what, data=data))


# ------------------------------------------------------------------------------------------------------------------
def run_export(source: str | Path, output: str | Path, *, original: str | Path | None = None,
               overwrite: bool = False) -> Path:
    """Write the export pack of `source` (an enhanced output or a training run folder) to `output` (.zip).

    Args:
        source: an output of `mrigan enhance` (file or DICOM series folder, with OUTPUT.json), its sidecar, or a
            run folder of `mrigan train`.
        output: the pack, a .zip file; written atomically.
        original: the scan the output was made from (enhanced outputs only): its sha256 must be the one in the
            sidecar; adds its previews and an input / output / difference figure.
        overwrite: replace an existing pack.

    Returns:
        The pack's path.

    Raises:
        InputError: a missing source, a file without a sidecar, a folder that is neither, a wrong original.
        OutputError: the pack exists (without `overwrite`), is not a .zip, or would land on or inside a source.
        UsageError: `original` given with a run folder.
    """
    source, output = Path(source), Path(output)
    found = find_source(source)
    if isinstance(found, RunSource):
        if original is not None:
            raise UsageError(f"--input is for an enhanced output; {source} is a training run folder")
        protected = [found.run_dir]
    else:
        if original is not None:
            original = Path(original)
            check_original(original, found)
        protected = [p for p in (found.output, found.sidecar, found.uncertainty, original) if p is not None]
    target = check_pack_path(output, overwrite=overwrite, sources=protected)
    pack = run_pack(found) if isinstance(found, RunSource) else enhanced_pack(found, original)
    return write_pack(pack, target, overwrite=overwrite, protected=protected)


# ------------------------------------------------------------------------------------------------------------------
# what the source is


@dataclass
class EnhancedSource:
    """An output of `mrigan enhance`: the file or series folder, its sidecar and record, its uncertainty map."""

    output: Path
    sidecar: Path
    record: dict[str, Any]
    uncertainty: Path | None


@dataclass
class RunSource:
    """A training run folder and the exported generator(s) packed from it: name -> (card, card path, weights)."""

    run_dir: Path
    model_dir: Path
    cards: dict[str, tuple[dict[str, Any], Path, Path]]


def find_source(path: Path) -> EnhancedSource | RunSource:
    """Tell a run folder from an enhanced output (given as itself or as its sidecar); refuse anything else."""
    from mrigan.provenance import sidecar_path

    if not path.exists():
        raise InputError(path, "no such file or folder")
    if path.is_dir() and (path / "config.yaml").is_file():
        return find_run(path)
    if path.is_file() and path.name.lower().endswith(".json") and not sidecar_path(path).exists():
        described = path.with_name(path.name[: -len(".json")])
        if described.exists():  # the sidecar itself was given: export the output it describes
            path = described
    sidecar = sidecar_path(path)
    if sidecar.is_file():
        return find_enhanced(path, sidecar)
    if path.is_dir():
        raise InputError(path, _folder_problem(path, sidecar))
    raise InputError(path, f"no provenance sidecar {sidecar.name} beside it: export takes an output of "
                           "`mrigan enhance` (with its OUTPUT.json) or a training run folder")


def _folder_problem(path: Path, sidecar: Path) -> str:
    if path.name in _RUN_PARTS and (path.parent / "config.yaml").is_file():
        return f"a part of the run folder {path.parent}: export the run folder itself"
    outputs = sorted(p for p in path.glob("*.json") if p.with_name(p.name[: -len(".json")]).exists())
    if outputs:
        example = outputs[0].with_name(outputs[0].name[: -len(".json")])
        return (f"a folder of enhanced outputs ({len(outputs)}, a batch): export each one, e.g. "
                f"`mrigan export {example}`")
    return (f"neither a training run folder (no config.yaml) nor an enhanced DICOM series (no {sidecar.name} "
            "beside it)")


def find_enhanced(output: Path, sidecar: Path) -> EnhancedSource:
    """Read and check the sidecar of an enhanced output; find its uncertainty map."""
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(sidecar, f"not a readable provenance sidecar ({error.__class__.__name__})") from None
    if not isinstance(record, dict) or "command" not in record:
        raise InputError(sidecar, "not a mrigan provenance sidecar (no command recorded)")
    if record["command"] != "enhance":
        raise InputError(sidecar, f"written by `mrigan {record['command']}`, not `mrigan enhance`: export packs "
                                  "enhanced outputs and training runs")
    model = record.get("model")
    if not isinstance(model, dict) or not model.get("sha256"):
        raise InputError(sidecar, "records no model sha256: not a complete `mrigan enhance` sidecar")
    named = (record.get("output") or {}).get("uncertainty")
    uncertainty = None
    if named:
        uncertainty = output.parent / Path(str(named)).name
        if not uncertainty.is_file():
            raise InputError(uncertainty, f"missing: {sidecar.name} names it as the output's uncertainty map")
    return EnhancedSource(output, sidecar, record, uncertainty)


def find_run(run_dir: Path) -> RunSource:
    """The exported generator(s) of a run (best/, else final/), each weights file checked against its card."""
    from mrigan.checkpoint import read_card
    from mrigan.io import sha256_file

    model_dir = next((run_dir / kind for kind in ("best", "final") if (run_dir / kind / "generator.json").is_file()),
                     None)
    if model_dir is None:
        raise InputError(run_dir, "a run folder without an exported model (best/ or final/generator.json): "
                                  "export it once training has validated or finished")
    cards = {}
    for card_path in sorted(model_dir.glob("generator*.json")):
        card, weights = read_card(card_path)
        actual = sha256_file(weights)
        if actual != card["sha256"]:
            raise InputError(weights, f"sha256 {actual[:16]}... does not match its card {card_path.name} "
                                      f"({str(card['sha256'])[:16]}...): the weights were changed after export")
        cards[card_path.stem] = (card, card_path, weights)
    return RunSource(run_dir, model_dir, cards)


def check_original(original: Path, found: EnhancedSource) -> None:
    """Refuse an original scan whose sha256 is not the input's recorded in the sidecar."""
    from mrigan.io import sha256_file

    if not original.exists():
        raise InputError(original, "no such file or folder")
    expected = ((found.record.get("inputs") or {}).get("input") or {}).get("sha256")
    if not expected:
        raise InputError(found.sidecar, "records no input sha256 to check --input against")
    actual = sha256_file(original)
    if actual != expected:
        raise InputError(original, f"sha256 {actual[:12]}... is not the input's recorded in {found.sidecar.name} "
                                   f"({expected[:12]}...): not the scan {found.output.name} was made from")


def check_pack_path(target: Path, *, overwrite: bool, sources: list[Path]) -> Path:
    """Refuse a pack on or inside a source, not named .zip, or existing without `overwrite`; returns it absolute."""
    from mrigan.io.atomic import check_output_path

    absolute = target.absolute()
    for source in sources:
        if source.is_dir() and source.absolute() in absolute.parents:
            raise OutputError(target, f"is inside {source}, which export only reads: write the pack elsewhere")
    check_output_path(target, overwrite=True, inputs=sources)
    if not target.name.lower().endswith(".zip") or target.name.lower() == ".zip":
        raise OutputError(target, "an export pack is a zip file: give a name ending in .zip")
    if target.is_dir():
        raise OutputError(target, "is a folder: give the pack's file name, e.g. pack.zip")
    return check_output_path(target, overwrite=overwrite)


# ------------------------------------------------------------------------------------------------------------------
# an enhanced output


def enhanced_pack(found: EnhancedSource, original: Path | None = None) -> Pack:
    """The pack of an enhanced output: the output, its provenance and uncertainty, previews, the figure."""
    from mrigan import io
    from mrigan.display import grey

    record, output = found.record, found.output
    model = record["model"]
    volume = io.read(output)
    window = auto_window_of(volume.data)
    planes = plane_names(volume)
    pack = Pack(
        kind="enhanced output",
        title=f"mrigan export: {output.name}",
        intro=(f"`{output.name}`, written by `mrigan enhance` (mrigan {record.get('mrigan_version', '?')}, "
               f"{record.get('created_utc', '?')}) with the model `{model.get('name')}` "
               f"({model.get('task') or 'restore'}; weights sha256 `{model['sha256']}`)."),
    )
    if output.is_dir():
        for file in sorted(p for p in output.rglob("*") if p.is_file()):
            pack.add_file(f"output/{output.name}/{file.relative_to(output).as_posix()}", file,
                          "the enhanced series (one DICOM file per slice), as `mrigan enhance` wrote it")
    else:
        pack.add_file(f"output/{output.name}", output, "the enhanced scan, as `mrigan enhance` wrote it")
    pack.add_file("provenance.json", found.sidecar,
                  f"the output's sidecar {found.sidecar.name}, unchanged: model name, sha256, class and config, "
                  "the input's sha256, the options, the mrigan version and the time")
    uncertainty = None
    if found.uncertainty is not None:
        pack.add_file(f"output/{found.uncertainty.name}", found.uncertainty,
                      "the uncertainty map: per-voxel standard deviation over stochastic passes, input units")
        uncertainty = io.read(found.uncertainty)
    for axis, plane in enumerate(planes):
        suffix = f"_{plane}" if plane else ""
        shown = display_plane(volume, axis)
        pack.add_bytes(f"previews/output{suffix}.png", png_bytes(grey(shown, *window)),
                       f"the output{_plane_phrase(plane, volume, axis)}")
        if uncertainty is not None:
            pack.add_bytes(f"previews/uncertainty{suffix}.png", uncertainty_preview(volume, uncertainty, axis, window),
                           f"the uncertainty (std, inferno) over the output{_plane_phrase(plane, volume, axis)}")
    source_record = {"name": output.name, "kind": "enhanced output", "sidecar": found.sidecar.name,
                     "model": {"name": model.get("name"), "sha256": model["sha256"], "task": model.get("task")},
                     "input_sha256": ((record.get("inputs") or {}).get("input") or {}).get("sha256"),
                     "input_checked": original is not None}
    previews = {"window": {"level": window[0], "width": window[1],
                           "how": "0.5-99.5 percentiles of the output's non-zero voxels"},
                "slices": {plane or "image": _middle(volume, axis) for axis, plane in enumerate(planes)}}
    if original is not None:
        scan = io.read(original)
        input_window = auto_window_of(scan.data)
        for axis, plane in enumerate(plane_names(scan)):
            suffix = f"_{plane}" if plane else ""
            pack.add_bytes(f"previews/input{suffix}.png", png_bytes(grey(display_plane(scan, axis), *input_window)),
                           f"the original scan{_plane_phrase(plane, scan, axis)} (its own window)")
        if scan.ndim == volume.ndim:
            pack.add_bytes("figures/input_output_difference.png",
                           difference_figure(scan, volume, planes, window, title=output.name, model=model),
                           "input / output / output - input (blue: lower, red: higher), the middle slice along "
                           "each axis; input and output share the output's window")
        source_record["input"] = original.name
    pack.record = {"source": source_record, "previews": previews}
    return pack


def _middle(volume, axis: int) -> int | None:
    return None if volume.ndim == 2 else int(volume.shape[axis] // 2)


def _plane_phrase(plane: str, volume, axis: int) -> str:
    if not plane:
        return ""
    return f", middle {plane} slice ({_middle(volume, axis)} of {volume.shape[axis]} along axis {axis})"


def plane_names(volume) -> list[str]:
    """"" for a 2D image; for a volume the plane cut across each axis (axial, coronal, sagittal) by its affine,
    or axis0 / axis1 / axis2 where the affine does not say."""
    if volume.ndim == 2:
        return [""]
    try:
        names = [_PLANE_NAMES.get(code) for code in volume.orientation]
    except Exception:  # noqa: BLE001 - a degenerate affine: fall back to the axis numbers
        names = [None, None, None]
    if None in names or len(set(names)) != 3:
        return [f"axis{axis}" for axis in range(3)]
    return names


def auto_window_of(data: np.ndarray) -> tuple[float, float]:
    """The display window (level, width) of a whole scan: 0.5-99.5 percentiles of its non-zero voxels."""
    from mrigan.display import auto_window

    values = np.asarray(data, np.float32)
    return auto_window(values[np.isfinite(values)])


def display_plane(volume, axis: int, shape: tuple[int, int] | None = None) -> np.ndarray:
    """The middle plane across `axis` turned for display (as the UI turns it), resampled (nearest) to square
    millimetres and enlarged to a readable size; or onto `shape` when given. A 2D image is its own plane."""
    from mrigan.display import orient, resize_nearest

    data = np.asarray(volume.data, np.float32)
    if volume.ndim == 2:
        plane, spacing = orient(data, "image"), (volume.spacing[0], volume.spacing[1])
    else:
        plane = orient(np.take(data, data.shape[axis] // 2, axis=axis),
                       "dicom" if volume.source_format == "dicom" else "volume")
        first, second = (volume.spacing[a] for a in range(3) if a != axis)
        spacing = (second, first)  # displayed rows run along the second remaining axis, columns along the first
    if shape is None:
        finest = min(s for s in spacing if s > 0) if any(s > 0 for s in spacing) else 1.0
        rows, cols = (n * (s / finest if s > 0 else 1.0) for n, s in zip(plane.shape, spacing, strict=True))
        factor = max(1, math.ceil(PREVIEW_MIN_SIDE / max(rows, cols)))
        shape = (max(1, round(rows * factor)), max(1, round(cols * factor)))
    return resize_nearest(plane, shape) if tuple(shape) != plane.shape else plane


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 grey or RGB image as PNG bytes."""
    from PIL import Image

    buffer = _io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
    return buffer.getvalue()


def uncertainty_preview(volume, uncertainty, axis: int, window: tuple[float, float]) -> bytes:
    """The uncertainty laid over the output (inferno); alone when the map is not on the output's grid."""
    from mrigan.display import colour, grey, overlay_rgb, symmetric_limit

    if uncertainty.shape == volume.shape:
        base = display_plane(volume, axis)
        heat = display_plane(volume.with_data(np.asarray(uncertainty.data, np.float32)), axis)
        return png_bytes(overlay_rgb(grey(base, *window), heat))
    heat = display_plane(uncertainty, axis)
    return png_bytes(colour(heat, "inferno", 0.0, symmetric_limit(heat)))


def difference_figure(scan, volume, planes: list[str], window: tuple[float, float], *, title: str,
                      model: dict[str, Any]) -> bytes:
    """PNG: one row per plane; input, output (one window) and output - input on a symmetric blue-red scale.

    An input on a coarser grid (super-resolution) is repeated onto the output's (nearest neighbour).
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from mrigan.display import symmetric_limit

    rows = []
    for axis in range(len(planes)):
        output_plane = display_plane(volume, axis)
        input_plane = display_plane(scan, axis, shape=output_plane.shape)
        rows.append((input_plane, output_plane, output_plane - input_plane))
    limit = symmetric_limit(np.concatenate([row[2].ravel() for row in rows]))
    low, high = window[0] - window[1] / 2, window[0] + window[1] / 2
    aspects = [row[1].shape[0] / row[1].shape[1] for row in rows]
    figure = Figure(figsize=(9.8, sum(3.0 * a + 0.4 for a in aspects) + 0.8), layout="constrained")
    axes = figure.subplots(len(rows), 3, squeeze=False, gridspec_kw={"height_ratios": aspects})
    for row, (plane, (input_plane, output_plane, difference)) in enumerate(zip(planes, rows, strict=True)):
        for col, (name, image) in enumerate((("input", input_plane), ("output", output_plane))):
            axes[row, col].imshow(image, cmap="gray", vmin=low, vmax=high, interpolation="nearest")
            axes[row, col].set_title(f"{name}{f' ({plane})' if plane else ''}", fontsize=9)
        shown = axes[row, 2].imshow(difference, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        axes[row, 2].set_title("output - input", fontsize=9)
        for axis in axes[row]:
            axis.set_xticks([])
            axis.set_yticks([])
    figure.colorbar(shown, ax=axes[:, 2].tolist(), shrink=0.8, label="output - input (input units)")
    figure.suptitle(f"{title}: {model.get('name')} ({model.get('task') or 'restore'}); window level {window[0]:.4g}, "
                    f"width {window[1]:.4g}", fontsize=10)
    figure.supxlabel(mrigan.RESEARCH_NOTICE, fontsize=8, color="#a00")
    buffer = _io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------------------------
# a training run


def run_pack(found: RunSource) -> Pack:
    """The pack of a training run: exported generator(s), config, metrics, figures and a generated model card."""
    run = found.run_dir
    config = _read_config(run / "config.yaml")
    name = str(config.get("name") or run.name)
    pack = Pack(kind="training run", title=f"mrigan export: run {run.name}",
                intro=f"The training run `{run.name}` (config `{name}`, recipe `{config.get('task', 'restore')}`), "
                      f"its exported model from `{found.model_dir.name}/` and a model card.")
    for stem, (card, card_path, weights) in found.cards.items():
        pack.add_file(f"model/{weights.name}", weights, f"{stem} weights (safetensors), exported from "
                                                        f"{found.model_dir.name}/; sha256 also in its card")
        pack.add_file(f"model/{card_path.name}", card_path, f"{stem} card: class, arguments, config, training "
                                                           "data, validation metrics, sha256 of the weights")
    pack.add_file("config.yaml", run / "config.yaml", "the resolved training config (`mrigan train` wrote it)")
    validation = _read_csv(run / "metrics" / "val.csv")
    for part in ("train", "val"):
        path = run / "metrics" / f"{part}.csv"
        if path.is_file():
            pack.add_file(f"metrics/{part}.csv", path, "training losses per logging interval" if part == "train"
                          else "validation metrics at each validation")
    figures = run / "figures"
    if (figures / "loss_curves.png").is_file():
        pack.add_file("figures/loss_curves.png", figures / "loss_curves.png", "loss curves (training and validation)")
    samples = sorted(figures.glob("val_step_*.png"))
    best_step = _best_step(found, config, validation)
    shown = [samples[-1]] if samples else []
    best_figure = figures / f"val_step_{best_step:07d}.png" if best_step is not None else None
    if best_figure is not None and best_figure.is_file() and best_figure not in shown:
        shown.insert(0, best_figure)
    for path in shown:
        step = int(path.stem.rsplit("_", 1)[-1])
        which = "the last validation" if path == samples[-1] else "the best validation"
        pack.add_file(f"figures/{path.name}", path, f"validation samples at step {step} ({which})")
    pack.add_bytes("MODEL_CARD.md", model_card(found, config, validation, best_step).encode(),
                   "the model card: task, class, size, training data, steps, validation scores, weights sha256")

    checkpoints = sorted(p.name for p in (run / "checkpoints").glob("*.pt")) if (run / "checkpoints").is_dir() else []
    pack.left_out.append({"path": "checkpoints/*.pt", "files": checkpoints, "why": _CHECKPOINTS_WHY})
    others = sorted(p.name for p in found.model_dir.glob("*.safetensors") if not p.stem.startswith("generator"))
    if others:
        pack.left_out.append({"path": f"{found.model_dir.name}/", "files": others,
                              "why": "discriminators: used in training only, not needed to run the model"})
    other_kind = "final" if found.model_dir.name == "best" else None
    if other_kind and (run / other_kind).is_dir():
        pack.left_out.append({"path": f"{other_kind}/", "why": f"the model at the last step; {found.model_dir.name}/ "
                                                               "is the one packed (best validation score)"})
    skipped = [p.name for p in samples if p not in shown]
    if skipped:
        pack.left_out.append({"path": "figures/val_step_*.png", "files": skipped,
                              "why": "earlier validation figures (the best and the last are packed)"})
    for part, why in (("tb", "TensorBoard logs (the same numbers as metrics/*.csv)"), ("train.log", "the log")):
        if (run / part).exists():
            pack.left_out.append({"path": part + ("/" if (run / part).is_dir() else ""), "why": why})
    pack.record = {"source": {"name": run.name, "kind": "training run", "model_dir": found.model_dir.name,
                              "best_step": best_step,
                              "models": {stem: {"sha256": card["sha256"], "class": card.get("class")}
                                         for stem, (card, _, _) in found.cards.items()}}}
    return pack


def _read_config(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise InputError(path, f"not a readable run config ({error.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise InputError(path, "not a run config (expected a YAML mapping)")
    return data


def _read_csv(path: Path) -> list[dict[str, float]]:
    """Rows of a metrics CSV with numbers as floats (empty cells left out); [] when there is no file."""
    if not path.is_file():
        return []
    rows = []
    with open(path, newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            values = {}
            for key, value in row.items():
                try:
                    values[key] = float(value)
                except (TypeError, ValueError):
                    continue
            rows.append(values)
    return rows


def _early_stopping(config: dict[str, Any]) -> tuple[str | None, str]:
    settings = ((config.get("trainer") or {}).get("early_stopping")) or {}
    return settings.get("metric"), str(settings.get("mode", "max"))


def _best_step(found: RunSource, config: dict[str, Any], validation: list[dict[str, float]]) -> int | None:
    """The step of the best validation: the best/ card's, else the val.csv row with the best early-stopping value."""
    card = found.cards["generator"][0]
    if found.model_dir.name == "best" and "steps" in (card.get("training") or {}):
        return int(card["training"]["steps"])
    metric, mode = _early_stopping(config)
    scored = [row for row in validation if metric in row and math.isfinite(row[metric]) and "step" in row]
    if not scored:
        return None
    best = (max if mode == "max" else min)(scored, key=lambda row: row[metric])
    return int(best["step"])


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(map(_format_value, value)) or "(none)"
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return "(none)" if value is None else str(value)


def _flat_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Validation metrics of a card (flat, or under "validation")."""
    if isinstance(metrics.get("validation"), dict):
        metrics = metrics["validation"]
    return {key: value for key, value in metrics.items() if isinstance(value, int | float)}


def model_card(found: RunSource, config: dict[str, Any], validation: list[dict[str, float]],
               best_step: int | None) -> str:
    """MODEL_CARD.md of a run: what the model is, how it was trained, its validation scores, its weights' sha256."""
    from mrigan.checkpoint import weights_size

    run = found.run_dir
    card = found.cards["generator"][0]
    training = dict(card.get("training") or {})
    metric, mode = _early_stopping(config)
    final_card = run / "final" / "generator.json"
    total_steps, finished = None, final_card.is_file()
    if finished:
        try:
            total_steps = json.loads(final_card.read_text(encoding="utf-8")).get("training", {}).get("steps")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            total_steps = None
    if total_steps is None:
        trained = _read_csv(run / "metrics" / "train.csv")
        total_steps = int(trained[-1]["step"]) if trained and "step" in trained[-1] else training.get("steps")
    task = str(card.get("task", "?"))
    lines = [
        f"# Model card: run `{run.name}`",
        "",
        f"> {mrigan.RESEARCH_NOTICE}",
        "",
        f"Generated by `mrigan export` (mrigan {mrigan.__version__}, "
        f"{_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds')}) from the run folder and the exported "
        f"model's card{'s' if len(found.cards) > 1 else ''}.",
        "",
        "## Model",
        "",
        "| | |",
        "|---|---|",
        f"| task | `{task}` ({_TASKS.get(task, 'as the card names it')}) |",
        f"| recipe | `{config.get('task', '?')}` (config `{config.get('name', '?')}`, resolved in `config.yaml`) |",
    ]
    for stem, (entry, card_path, weights) in found.cards.items():
        what = f"`{entry.get('class')}`, {weights_size(weights):,} parameters"
        if entry.get("translation"):
            what += f"; translates {entry['translation']}"
        elif stem == "generator_ba":
            what += "; translates B -> A"
        elif len(found.cards) > 1:
            what += "; translates A -> B"
        scale = (entry.get("super_resolution") or {}).get("scale")
        if scale:
            what += f"; {scale}x"
        lines.append(f"| {stem} | {what} |")
        lines.append(f"| {stem} weights | `model/{weights.name}`, sha256 `{entry['sha256']}` |")
    exported = f"`{found.model_dir.name}/`"
    if found.model_dir.name == "best" and best_step is not None:
        exported += f": the best validation {metric or 'score'} ({mode}), at step {best_step}"
    else:
        exported += f": the model at step {training.get('steps', '?')} (no best/ export: no early-stopping metric)"
    lines += [
        f"| exported | {exported} |",
        f"| trained | {_format_value(total_steps)} steps{'' if finished else ' so far (no final/: unfinished or stopped)'}, seed {_format_value(training.get('seed'))}, EMA "
        f"{_format_value(training.get('ema_decay'))}, AMP {_format_value(training.get('amp'))}, "
        f"{_format_value(training.get('world_size'))} process(es); mrigan {card.get('mrigan_version', '?')}, "
        f"torch {card.get('torch_version', '?')} |",
        "",
        "## Training data",
        "",
    ]
    data = training.get("data")
    if isinstance(data, dict) and data:
        lines += [f"- {key}: {_format_value(value)}" for key, value in data.items()]
    else:
        lines.append(f"- {_format_value(data)}" if data else "- not recorded in the card; see `config.yaml` (data)")
    lines += ["", "## Validation scores", ""]
    best_at = best_step if best_step is not None else training.get("steps")
    scores = _flat_metrics(dict(card.get("metrics") or {}))
    if scores:
        lines += [f"At the exported step ({best_at}), on the run's validation slices (not held-out data):", "",
                  "| metric | value |", "|---|---|"]
        lines += [f"| {key}{' (early stopping)' if key == metric else ''} | {value:.4f} |"
                  for key, value in scores.items()]
    else:
        lines.append("No validation metrics in the card.")
    if validation and metric:
        scored = [row for row in validation if metric in row and math.isfinite(row[metric])]
        if scored:
            best = (max if mode == "max" else min)(scored, key=lambda row: row[metric])
            lines += ["", f"Over {len(validation)} validations (`metrics/val.csv`): best {metric} "
                          f"{best[metric]:.4f} at step {int(best.get('step', -1))}; last {scored[-1][metric]:.4f} at "
                          f"step {int(scored[-1].get('step', -1))}."]
    heldout = (card.get("metrics") or {}).get("heldout")
    if isinstance(heldout, dict):
        lines += ["", "Held-out: " + ", ".join(f"{k} {_format_value(v)}" for k, v in heldout.items())]
    else:
        suite = {"restore": "denoise", "super_resolve": "sr", "translate": "translate|field"}.get(task, "...")
        lines += ["", f"Held-out scores: none in the card; `mrigan evaluate model/generator.json --suite {suite} "
                      "--quick` scores it on held-out Colin27 beside the classical methods."]
    lines += [
        "",
        "## Use",
        "",
        "```bash",
        "mrigan enhance scan.nii.gz -m model/generator.json -o enhanced.nii.gz",
        "```",
        "",
        *(["`-m model/generator_ba.json` translates the other way (B -> A).", ""]
          if "generator_ba" in found.cards else []),
        "The weights load only if their sha256 matches the card; nothing is unpickled. Training checkpoints "
        "(`checkpoints/*.pt`) are not in this pack.",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------------------
# writing


def write_pack(pack: Pack, target: Path, *, overwrite: bool = False, protected: list[Path] = ()) -> Path:
    """Write `pack` as one zip at `target`, atomically: content, then README.md, then manifest.json.

    Every member is hashed as it is written, so the listed sha256s are those of the bytes in the zip.
    """
    from mrigan.io.atomic import write_atomic

    top = target.name[: -len(".zip")] if target.name.lower().endswith(".zip") else target.name
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

    def write(path: Path) -> None:
        with zipfile.ZipFile(path, "w") as archive:
            listed = [_add(archive, top, member) for member in pack.members]
            readme = Member("README.md", "this file: what the pack holds, with each file's sha256",
                            data=readme_text(pack, listed, created).encode())
            listed.append(_add(archive, top, readme))
            manifest = manifest_record(pack, listed, created)
            from mrigan.provenance import dumps

            _add(archive, top, Member("manifest.json", "", data=dumps(manifest).encode()))

    return write_atomic(target, write, overwrite=overwrite, inputs=protected)


def _add(archive: zipfile.ZipFile, top: str, member: Member) -> dict[str, Any]:
    info = zipfile.ZipInfo(f"{top}/{member.path}", date_time=time.localtime()[:6])
    info.compress_type = (zipfile.ZIP_STORED if member.path.lower().endswith(_STORED_SUFFIXES)
                          else zipfile.ZIP_DEFLATED)
    info.external_attr = 0o644 << 16
    digest, size = hashlib.sha256(), 0
    with archive.open(info, "w", force_zip64=member.size > (1 << 30)) as stream:
        for chunk in member.chunks():
            digest.update(chunk)
            stream.write(chunk)
            size += len(chunk)
    return {"path": member.path, "sha256": digest.hexdigest(), "bytes": size, "what": member.what}


def manifest_record(pack: Pack, listed: list[dict[str, Any]], created: str) -> dict[str, Any]:
    """manifest.json: format, kind, version, time, the source, every other member with sha256, what was left out."""
    return {
        "format": PACK_FORMAT,
        "kind": pack.kind,
        "mrigan_version": mrigan.__version__,
        "created_utc": created,
        "command": "export",
        **pack.record,
        "files": listed,
        "left_out": pack.left_out,
        "notice": mrigan.RESEARCH_NOTICE,
    }


def readme_text(pack: Pack, listed: list[dict[str, Any]], created: str) -> str:
    """README.md: the notice, what the pack is, a table of its files with sha256, what was left out."""
    lines = [f"# {pack.title}", "", f"> {mrigan.RESEARCH_NOTICE}", "",
             f"Made by `mrigan export` (mrigan {mrigan.__version__}) at {created}. {pack.intro}", ""]
    previews = pack.record.get("previews")
    if previews:
        window = previews["window"]
        lines += [f"Previews show the middle slice along each axis of a volume, turned as the web UI shows it, "
                  f"resampled to square millimetres, window level {window['level']:.4g} / width "
                  f"{window['width']:.4g} ({window['how']}).", ""]
        if not pack.record["source"].get("input_checked"):
            lines += ["The original scan was not given (`--input`), so there is no input preview or difference "
                      "figure; `provenance.json` records its sha256.", ""]
        else:
            lines += ["The original scan given with `--input` matched the input sha256 in `provenance.json`; it is "
                      "shown, not included.", ""]
    lines += ["| file | what | sha256 |", "|---|---|---|"]
    lines += [f"| `{entry['path']}` | {entry['what']} | `{entry['sha256']}` |" for entry in listed]
    lines += ["", "`manifest.json` lists the same files with their sizes, for programs. Check a file with "
                  "`sha256sum FILE`."]
    if pack.left_out:
        lines += ["", "Left out on purpose:", ""]
        lines += [f"- `{entry['path']}`"
                  + (f" ({len(entry['files'])} file{'s' if len(entry['files']) != 1 else ''})" if "files" in entry
                     else "") + f": {entry['why']}" for entry in pack.left_out]
    return "\n".join(lines) + "\n"

