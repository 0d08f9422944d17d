"""What the CLI's commands do, as plain functions (the CLI only parses options)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mrigan.errors import InputError, UsageError

TISSUES = ("gm", "wm", "csf")


def _write_with_sidecar(
    volume, output: Path, record: dict, *, overwrite: bool, inputs: list[Path], like=None,
    extra_outputs: list[tuple[object, Path]] = (),
) -> None:
    """Write OUTPUT (and any `extra_outputs`, as (volume, path) pairs) and OUTPUT.json, each atomically.

    Nothing is left behind if any of them fails. `like` is the template of OUTPUT (see `mrigan.io.write`).
    """
    import shutil

    from mrigan import io
    from mrigan.io.atomic import check_output_path, write_atomic
    from mrigan.provenance import dumps, sidecar_path

    sidecar = sidecar_path(output)
    for target in (output, *(path for _, path in extra_outputs), sidecar):
        check_output_path(target, overwrite=overwrite, inputs=inputs)
    written: list[Path] = []
    try:
        written.append(Path(io.write(volume, output, overwrite=overwrite, like=like)))
        for extra_volume, extra_path in extra_outputs:
            written.append(Path(io.write(extra_volume, extra_path, overwrite=overwrite)))
        write_atomic(sidecar, lambda p: p.write_text(dumps(record)), overwrite=overwrite, inputs=inputs)
    except BaseException:
        for path in written:
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        raise


def run_degrade(
    input: Path, output: Path, *, noise: str | None, hole: str | None, downsample: str | None, seed: int,
    overwrite: bool = False,
) -> Path:
    """Read INPUT, apply the seeded degradation chain, write OUTPUT in the input's geometry plus OUTPUT.json."""
    from mrigan import io
    from mrigan.io.atomic import check_output_path
    from mrigan.physics.spec import build_degradation
    from mrigan.provenance import provenance, sidecar_path

    if noise is None and hole is None and downsample is None:
        raise UsageError("nothing to do: give at least one of --noise, --hole, --downsample")
    operator = build_degradation(noise=noise, hole=hole, downsample=downsample, seed=seed)
    # refuse a bad output before doing any work
    check_output_path(output, overwrite=overwrite, inputs=[input])
    check_output_path(sidecar_path(output), overwrite=overwrite, inputs=[input])
    volume = io.read(input)
    degraded = operator(volume.data)
    zoom = degraded.zoom if degraded.zoom and any(z != 1.0 for z in degraded.zoom) else None
    out = volume.with_data(degraded.image, zoom=zoom)
    record = provenance(
        command="degrade",
        inputs={"input": Path(input)},
        options={"noise": noise, "hole": hole, "downsample": downsample, "seed": seed},
        degradation=degraded.params,
        output={"path": str(output), "shape": list(out.shape), "spacing": list(out.spacing)},
    )
    _write_with_sidecar(out, Path(output), record, overwrite=overwrite, inputs=[Path(input)])
    return Path(output)


def load_tissues(anatomy: str) -> tuple[object, dict[str, np.ndarray]]:
    """Tissue probability maps (gm, wm, csf) and the volume whose grid they share.

    `anatomy` is a sample name (mni152 ships GM/WM maps; the others are segmented from their T1 with a
    3-class Gaussian mixture) or a folder holding gm / wm / csf maps as NIfTI.
    """
    from mrigan import io
    from mrigan.data.samples import SAMPLES, load_sample, missing_reason

    if anatomy in SAMPLES:
        reason = missing_reason(anatomy)
        if reason:
            raise InputError(anatomy, reason)
        sample = load_sample(anatomy)
        if sample.tissues is not None:
            return sample.t1, sample.tissues
        from mrigan.physics import tissue_maps_from_t1
        from mrigan.preprocess import robust_minmax

        return sample.t1, tissue_maps_from_t1(robust_minmax(sample.t1.data), sample.brain_mask)
    folder = Path(anatomy)
    if not folder.is_dir():
        raise InputError(folder, f"not a sample name ({', '.join(SAMPLES)}) nor a folder of tissue maps")
    maps, reference = {}, None
    for tissue in TISSUES:
        candidates = [folder / f"{tissue}{ext}" for ext in (".nii.gz", ".nii")]
        found = next((p for p in candidates if p.exists()), None)
        if found is None:
            raise InputError(folder, f"no {tissue}.nii.gz (or .nii): a tissue folder needs gm, wm and csf maps")
        volume = io.read(found)
        if reference is not None and volume.shape != reference.shape:
            raise InputError(found, f"shape {volume.shape} differs from {reference.shape} of the other maps")
        reference = reference or volume
        scale = 255.0 if volume.data.max() > 1.0 + 1e-3 else 1.0
        maps[tissue] = np.clip(volume.data / scale, 0.0, 1.0).astype(np.float32)
    return reference, maps


def run_simulate(
    anatomy: str, output: Path, *, contrast: str, sequence: str, field_t: float, voxel_mm: float | None,
    seed: int, overwrite: bool = False, tr: float | None = None, te: float | None = None,
    flip_deg: float | None = None,
) -> Path:
    """Simulate one contrast of an anatomy and write it as NIfTI with OUTPUT.json (TR / TE / flip: None, the
    sequence's defaults)."""
    from mrigan.io.atomic import check_output_path
    from mrigan.physics import simulate_contrast
    from mrigan.provenance import provenance, sidecar_path

    if not (str(output).endswith(".nii") or str(output).endswith(".nii.gz")):
        raise UsageError(f"{output}: simulate writes NIfTI; give an output ending in .nii or .nii.gz")
    if contrast not in ("t1w", "t2w", "pdw"):
        raise UsageError(f"--contrast {contrast!r}: expected t1w, t2w or pdw")
    if sequence not in ("se", "gre"):
        raise UsageError(f"--sequence {sequence!r}: expected se or gre")
    if voxel_mm is not None and voxel_mm <= 0:
        raise UsageError(f"--voxel {voxel_mm}: must be a positive size in mm")
    for option, value in (("--tr", tr), ("--te", te), ("--flip", flip_deg)):
        if value is not None and not 0 < value < (180 if option == "--flip" else np.inf):
            raise UsageError(f"{option} {value}: must be positive" + (" and below 180" if option == "--flip" else ""))
    check_output_path(output, overwrite=overwrite)
    check_output_path(sidecar_path(output), overwrite=overwrite)
    reference, tissues = load_tissues(anatomy)
    image, spacing, params = simulate_contrast(
        tissues, reference.spacing, contrast=contrast, sequence=sequence, field_t=field_t,
        voxel_mm=voxel_mm, seed=seed, tr=tr, te=te, flip_deg=flip_deg,
    )
    zoom = tuple(old / new for old, new in zip(reference.spacing, spacing))
    out = reference.with_data(image, zoom=zoom)
    out.source_path = None
    inputs = {} if anatomy in _sample_names() else {"tissue_folder": Path(anatomy)}
    record = provenance(
        command="simulate", inputs=inputs,
        options={"anatomy": anatomy, "contrast": contrast, "sequence": sequence, "field_t": field_t,
                 "voxel_mm": voxel_mm, "seed": seed, "tr": tr, "te": te, "flip_deg": flip_deg},
        simulation=params,
        output={"path": str(output), "shape": list(out.shape), "spacing": list(out.spacing)},
    )
    _write_with_sidecar(out, Path(output), record, overwrite=overwrite, inputs=[])
    return Path(output)


def _sample_names() -> tuple[str, ...]:
    from mrigan.data.samples import SAMPLES

    return tuple(SAMPLES)


def run_bench(suite: str, *, quick: bool, methods: str | None, slices: int | None, out: Path,
              models: list[str] | None = None, no_models: bool = False, require_models: bool = False) -> str:
    """Run a bench suite, print its markdown table and where the files went.

    `require_models` (`mrigan evaluate`): a translation model with no case in the suite is an error.
    """
    from mrigan.bench.runner import run_suite
    from mrigan.bench.suites import ALL_SUITES, TRANSLATION_SUITES
    from mrigan.data.samples import missing_reason

    if suite not in ALL_SUITES:
        raise UsageError(f"unknown suite {suite!r}; available: {', '.join(ALL_SUITES)}")
    if slices is not None and slices < 1:
        raise UsageError(f"--slices {slices}: must be at least 1")
    names = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    if names:
        from mrigan.baselines import BASELINES

        unknown = [n for n in names if n not in BASELINES]
        if unknown:
            raise UsageError(f"--methods: unknown {', '.join(unknown)}; known: {', '.join(BASELINES)}")
    reason = missing_reason("colin27")
    if reason:
        raise InputError("colin27", f"the held-out brain is missing: {reason}")
    if suite in TRANSLATION_SUITES:  # two cards of one CycleGAN run (or its folder) become one method
        from mrigan.bench.translation_models import translation_methods

        model_methods = translation_methods(models or [])
    else:
        model_methods = [_model_method(model, suite) for model in (models or [])]
    if not models and not no_models:
        model_methods = _shipped_methods(suite)
    result = run_suite(suite, quick=quick, methods=names, n_slices=slices, out_dir=out, models=model_methods,
                       require_models=require_models)
    print(f"## mrigan bench {suite}{' --quick' if quick else ''} (held-out Colin27, PSNR/SSIM with 95% CI over slices)\n")
    print(result.table)
    print(f"\nwritten: {', '.join(str(p) for p in result.files)}")
    return result.table


# ------------------------------------------------------------------------------------------------ enhance

#: Output suffixes `mrigan.io.write` knows (besides a DICOM series folder).
_WRITABLE_SUFFIXES = (".nii", ".nii.gz", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".npy", ".dcm")


def enhance_inputs(folder: Path) -> tuple[list[Path], list[Path]] | None:
    """The items of a batch folder, or None when `folder` is not a batch (a file, or one DICOM series).

    A folder that holds only DICOM files (no sub-folders, no other images) is one series. Otherwise each
    image file (NIfTI, PNG / JPEG / TIFF, DICOM, .npy, .mat) and each sub-folder (a DICOM series) is an item;
    hidden files are ignored.

    Returns:
        (items, skipped files that are not images), or None.
    """
    from mrigan.io.readwrite import detect_format

    if not folder.is_dir():
        return None
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    folders = [p for p in entries if p.is_dir()]
    kinds = {p: _format_or_unreadable(p, detect_format) for p in entries if p.is_file()}
    if not folders and kinds and all(kind == "dicom" for kind in kinds.values()):
        return None
    items = [p for p in entries if p.is_dir() or kinds.get(p) is not None]
    skipped = [p for p, kind in kinds.items() if kind is None]
    return items, skipped


def _format_or_unreadable(path: Path, detect_format) -> str | None:
    """The file's format; "unreadable" when it cannot be opened (reported when the batch reaches it)."""
    try:
        return detect_format(path)
    except OSError:
        return "unreadable"


def uncertainty_path(output: Path, volume) -> Path:
    """Where the uncertainty map of OUTPUT goes: `OUTPUT_uncertainty.<ext>`.

    NIfTI and .npy keep their extension; a DICOM output (series folder or .dcm) gets NIfTI
    (`OUTPUT_uncertainty.nii.gz`), and PNG / JPEG / TIFF get a float32 TIFF, since 8- or 16-bit integers
    would round a standard deviation away.
    """
    name = output.name
    lower = name.lower()
    for suffix in (".nii.gz", ".nii", ".npy"):
        if lower.endswith(suffix):
            return output.with_name(f"{name[: -len(suffix)]}_uncertainty{name[-len(suffix):]}")
    stem = name[: -len(Path(name).suffix)] if Path(name).suffix else name
    if Path(lower).suffix in (".png", ".jpg", ".jpeg", ".tif", ".tiff"):
        return output.with_name(f"{stem}_uncertainty.tif")
    return output.with_name(f"{stem}_uncertainty.nii.gz")


def _check_output_format(volume, output: Path) -> None:
    """Refuse, before any work, an output `mrigan.io.write` could not write for this volume."""
    from mrigan.errors import OutputError
    from mrigan.io.readwrite import IMAGE_FORMATS, WRITABLE

    lower = output.name.lower()
    suffix = Path(lower).suffix
    folder = str(output).endswith(("/", os.sep)) or output.is_dir() or (not suffix and volume.source_format == "dicom")
    if not folder and not lower.endswith(_WRITABLE_SUFFIXES):
        raise OutputError(output, f"unsupported output format {suffix or '(no extension)'}; write to {WRITABLE}")
    if volume.ndim == 3 and suffix in IMAGE_FORMATS:
        raise OutputError(output, f"a 3D volume cannot be written as {IMAGE_FORMATS[suffix]}; write NIfTI (.nii.gz)"
                          " or a DICOM series folder")


def _read_mask(mask: Path | None) -> np.ndarray | None:
    from mrigan import io

    return None if mask is None else np.asarray(io.read(mask).data)


def load_enhancer(model: str | Path, device: str = "auto"):
    """The runner of a model for `mrigan enhance`, chosen by its card's task.

    "super_resolve": an `Upscaler`; "translate": a `Translator`; anything else: an `Enhancer` (which runs
    "restore" models and refuses the rest with a clear message).
    """
    from mrigan.checkpoint import read_card
    from mrigan.inference import Enhancer
    from mrigan.inference.translator import Translator
    from mrigan.inference.upscaler import Upscaler
    from mrigan.models_catalog import resolve_model

    runners = {"super_resolve": Upscaler, "translate": Translator}
    task = read_card(resolve_model(model))[0].get("task")
    return runners.get(task, Enhancer).from_path(model, device=device)


def run_enhance(
    input: Path, output: Path, *, model: str, mode: str = "denoise", mask: Path | None = None,
    noise_sigma: float | None = None, label: int | None = None, uncertainty: str | None = None,
    samples: int = 8, batch_size: int = 8, device: str = "auto", overwrite: bool = False,
    progress: bool = False, scale: int | None = None, through_plane: bool = False, flip_average: bool | None = None,
) -> list[Path]:
    """Restore (or, with a super-resolution model, upscale; with a translation model, translate) a scan or every
    scan in a folder; each output gets OUTPUT.json.

    The model's card decides which (`load_enhancer`). A CycleGAN run has one card per direction:
    `RUN/final/generator.json` translates A -> B (the config's source -> target), `generator_ba.json` B -> A.

    INPUT is a NIfTI, DICOM file or series folder, PNG / JPEG / TIFF, or a folder of such (see
    `enhance_inputs`; OUTPUT is then a folder and each output keeps its input's name and format). In a batch,
    a file that fails is reported on stderr with its name and the others go on; the run then ends with an
    InputError naming the failures.

    Returns:
        The outputs written.

    Raises:
        UsageError: bad options. InputError: bad input, mask or model. OutputError: output exists (without
            `overwrite`), is the input, or cannot hold the result.
    """
    from mrigan.errors import InputError, MriganError, OutputError
    from mrigan.io.atomic import check_output_path

    input, output = Path(input), Path(output)
    if mode not in ("denoise", "inpaint", "auto"):
        raise UsageError(f"--mode {mode!r}: expected denoise, inpaint or auto")
    if uncertainty not in (None, "mc-dropout", "tta"):
        raise UsageError(f"--uncertainty {uncertainty!r}: expected mc-dropout or tta")
    if uncertainty is not None and samples < 2:
        raise UsageError(f"--samples {samples}: an uncertainty map needs at least 2 samples")
    if batch_size < 1:
        raise UsageError(f"--batch-size {batch_size}: must be at least 1")
    if noise_sigma is not None and not (np.isfinite(noise_sigma) and noise_sigma >= 0):
        raise UsageError(f"--noise-sigma {noise_sigma}: must be a fraction >= 0 of the normalised range")
    if not input.exists():
        raise InputError(input, "no such file or folder")
    if mask is not None and not Path(mask).exists():
        raise InputError(mask, "no such file or folder")
    batch_items = enhance_inputs(input)
    if batch_items is None:
        check_output_path(output, overwrite=overwrite, inputs=[input, mask])
    else:
        if output.exists() and not output.is_dir():
            raise OutputError(output, "the input is a folder, so the output must be a folder too")
        check_output_path(output, overwrite=True, inputs=[input, mask])
    mask_data = _read_mask(mask)

    enhancer = load_enhancer(model, device=device)
    try:
        enhancer.check_options(mode=mode, uncertainty=uncertainty, samples=samples, batch_size=batch_size,
                               label=label, scale=scale)
        if through_plane and enhancer.task != "super_resolve":
            raise ValueError("--through-plane is for super-resolution models")
        if flip_average is not None and enhancer.task != "translate":
            raise ValueError("--flip-average / --no-flip-average are for translation models")
    except ValueError as error:
        raise UsageError(str(error)) from None
    if enhancer.task == "translate" and (mask is not None or noise_sigma is not None):
        raise UsageError(f"--{'mask' if mask is not None else 'noise-sigma'} is for restoration models; "
                         f"{enhancer.name!r} translates {enhancer.direction}")
    options = {"mode": mode, "mask": mask, "mask_data": mask_data, "noise_sigma": noise_sigma, "label": label,
               "uncertainty": uncertainty, "samples": samples, "batch_size": batch_size, "overwrite": overwrite,
               **({"through_plane": True} if through_plane else {}),
               **({"flip_average": flip_average} if flip_average is not None else {})}
    if batch_items is None:
        written = _enhance_one(enhancer, input, output, progress=progress, **options)
        print(f"wrote {', '.join(map(str, written))}")
        return written[:1]

    items, skipped = batch_items
    if not items:
        raise InputError(input, "no images in folder (NIfTI, DICOM, PNG / JPEG / TIFF, .npy, .mat)")
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True, soft_wrap=True, highlight=False)
    for path in skipped:
        console.print(f"mrigan: skipped {path.name} (not an image file)", markup=False)
    written_paths, failed = [], []
    with Progress(console=console, transient=True, disable=not (progress and console.is_terminal)) as bar:
        task = bar.add_task("enhancing files", total=len(items))
        for item in items:
            bar.update(task, description=f"enhancing {item.name}")
            try:
                written = _enhance_one(enhancer, item, output / item.name, progress=False, **options)
                written_paths.append(written[0])
                print(f"wrote {', '.join(map(str, written))}")
            except MriganError as error:
                failed.append(item.name)
                console.print(f"mrigan: {error.kind}: {error}", markup=False)
            except (OSError, ValueError, RuntimeError) as error:  # one file's problem must not stop the batch
                failed.append(item.name)
                console.print(f"mrigan: error: {item}: {error}", markup=False)
            bar.advance(task)
    if failed:
        raise InputError(input, f"{len(failed)} of {len(items)} inputs failed: {', '.join(failed)}")
    return written_paths


def _enhance_one(
    enhancer, input: Path, output: Path, *, mode: str, mask: Path | None, mask_data: np.ndarray | None,
    noise_sigma: float | None, label: int | None, uncertainty: str | None, samples: int, batch_size: int,
    overwrite: bool, progress: bool, **runner_options: bool,
) -> list[Path]:
    """Read one input, restore it, write OUTPUT (+ uncertainty) and OUTPUT.json; returns the paths written."""
    from mrigan import io
    from mrigan.errors import InputError
    from mrigan.inference import as_known_mask
    from mrigan.io.atomic import check_output_path
    from mrigan.provenance import provenance, sidecar_path

    protected = [input, mask, *enhancer.files]
    check_output_path(output, overwrite=overwrite, inputs=protected)
    check_output_path(sidecar_path(output), overwrite=overwrite, inputs=protected)
    volume = io.read(input)
    _check_output_format(volume, output)
    extra_path = uncertainty_path(output, volume) if uncertainty else None
    if extra_path is not None:
        check_output_path(extra_path, overwrite=overwrite, inputs=protected)
    known = None
    if mask_data is not None:
        try:
            known = as_known_mask(mask_data, volume.shape)
        except ValueError as error:
            raise InputError(mask, str(error)) from None
    try:
        result = enhancer.restore(
            volume, mode=mode, mask=known, noise_sigma=noise_sigma, label=label, uncertainty=uncertainty,
            samples=samples, batch_size=batch_size, progress=progress, **runner_options,
        )
    except ValueError as error:
        raise InputError(input, str(error)) from None
    info = result.info
    card = enhancer.card
    record = provenance(
        command="enhance",
        inputs={"input": input, **({"mask": Path(mask)} if mask is not None else {})},
        options={
            "mode": mode, "mode_used": info["mode"], "noise_sigma": noise_sigma,
            "noise_sigma_used": info["noise_sigma"], "noise_sigma_source": info["noise_sigma_source"],
            "mask": str(mask) if mask is not None else None, "mask_used": info["mask"],
            "uncertainty": uncertainty, "uncertainty_method": info["uncertainty"],
            "samples": info["samples"], "label": label, "device": info["device"], "batch_size": batch_size,
            **({"scale": info["scale"], "axes": info["axes"]} if "scale" in info else {}),
        },
        model={
            "name": enhancer.name, "sha256": enhancer.sha256, "path": str(enhancer.source), "task": enhancer.task,
            **({"translation": info["translation"]} if "translation" in info else {}),
            "class": card.get("class"), "kwargs": card.get("kwargs"), "config": card.get("config"),
            "training": card.get("training"), "metrics": card.get("metrics"),
            "mrigan_version": card.get("mrigan_version"),
        },
        restoration=info,
        output={
            "path": str(output), "shape": list(result.volume.shape), "spacing": list(result.volume.spacing),
            "uncertainty": str(extra_path) if extra_path is not None else None,
            "uncertainty_units": "standard deviation in the input's intensity units" if extra_path else None,
        },
    )
    extra = [(result.uncertainty, extra_path)] if extra_path is not None else []
    _write_with_sidecar(result.volume, output, record, overwrite=overwrite, inputs=protected, like=volume,
                        extra_outputs=extra)
    return [output, *([extra_path] if extra_path is not None else []), sidecar_path(output)]


def run_models(*, as_json: bool = False) -> list[dict]:
    """Print the shipped models as a table (or JSON); returns the records."""
    import json

    from mrigan.models_catalog import list_models, models_dir

    records = list_models()
    if as_json:
        print(json.dumps(records, indent=2))
        return records
    rows = [("name", "task", "size MB", "sha256", "held-out PSNR", "status")]
    for record in records:
        psnr = record["metrics"].get("psnr")
        rows.append((
            record["name"], record["task"] or "-",
            "-" if record["size_mb"] is None else f"{record['size_mb']:.2f}",
            (record["sha256"] or "-")[:12],
            "-" if psnr is None else f"{float(psnr):.2f}",
            "present" if record["present"] else f"missing {record.get('missing', '')}".strip(),
        ))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    if not records:
        print(f"(no shipped models in this version; models folder: {models_dir()})")
    return records


def _model_method(model: str | Path, suite: str):
    """A trained model wrapped with the baselines' call shape, for a bench suite."""
    from mrigan.checkpoint import read_card
    from mrigan.inference import Enhancer
    from mrigan.models_catalog import resolve_model

    if suite == "sr" or read_card(resolve_model(model))[0].get("task") == "super_resolve":
        from mrigan.bench.sr_models import SRModelMethod

        return SRModelMethod(resolve_model(model))
    return Enhancer.from_path(model).as_method(task=suite)


def _shipped_methods(suite: str) -> list:
    """The shipped models that do the suite's task (restoration models for denoise and inpaint)."""
    from mrigan.models_catalog import list_models

    wanted = {"denoise": "restore", "inpaint": "restore", "sr": "super_resolve", "translate": "translate",
              "field": "translate"}.get(suite)
    names = [entry["name"] for entry in list_models() if entry.get("present") and entry.get("task") == wanted]
    if wanted == "translate":
        from mrigan.bench.translation_models import translation_methods

        return translation_methods(names)
    return [_model_method(name, suite) for name in names]


# ------------------------------------------------------------------------------------------------ register

#: Transform files SimpleITK writes: ITK text, or HDF5.
_TRANSFORM_SUFFIXES = (".tfm", ".txt", ".h5", ".hdf5")


def run_register(
    moving: Path, fixed: Path, output: Path, *, deformable: bool = True, upsample: float = 2.0,
    transform_out: Path | None = None, fixed_out: Path | None = None, n4: bool = False,
    clip: tuple[float, float] | None = None, seed: int = 0, overwrite: bool = False,
) -> list[Path]:
    """Register MOVING onto FIXED (`mrigan.preprocess.register`) and write it on FIXED's (refined) grid.

    Both volumes are first N4-corrected (`n4`) and clipped to their `clip` percentiles of the non-zero voxels,
    when asked; the outputs carry those changes. OUTPUT.json records the inputs' sha256, the options and the
    metric values; `transform_out` gets the transform (ITK's LPS convention), `fixed_out` FIXED itself on the
    output grid, so that OUTPUT and it make a ready pair (e.g. for a translation recipe's `data.pairs`).

    Returns:
        The files written: OUTPUT, OUTPUT.json, then the transform and FIXED's copy when asked.

    Raises:
        UsageError: bad options. InputError: a missing, unreadable, 2D or flat input. OutputError: an output
            exists (without `overwrite`), is an input, or cannot hold a 3D volume. Nothing is written then.
    """
    from mrigan import io
    from mrigan.io.atomic import check_output_path, write_atomic
    from mrigan.preprocess import clip_percentiles, n4_bias_correction
    from mrigan.preprocess.register import refine_grid, register, write_transform
    from mrigan.provenance import provenance, sidecar_path

    moving, fixed, output = Path(moving), Path(fixed), Path(output)
    if not (np.isfinite(upsample) and 0 < upsample <= 8):
        raise UsageError(f"--upsample {upsample}: expected a factor in (0, 8] (1: FIXED's own grid)")
    if clip is not None and not 0 <= clip[0] < clip[1] <= 100:
        raise UsageError(f"--clip {clip[0]:g} {clip[1]:g}: expected two percentiles 0 <= LOW < HIGH <= 100")
    if transform_out is not None and not str(transform_out).lower().endswith(_TRANSFORM_SUFFIXES):
        raise UsageError(f"--transform {transform_out}: expected a {', '.join(_TRANSFORM_SUFFIXES)} file")
    outputs = [output, sidecar_path(output), *(p for p in (transform_out, fixed_out) if p is not None)]
    if len({Path(p).absolute() for p in outputs}) < len(outputs):
        raise UsageError("-o, --transform and --fixed-out must be different files")
    for target in outputs:
        check_output_path(target, overwrite=overwrite, inputs=[moving, fixed])

    volumes = {}
    for role, path in (("moving", moving), ("fixed", fixed)):
        volume = io.read(path)
        if volume.ndim != 3:
            raise InputError(path, f"a {volume.ndim}D image (shape {volume.shape}); {role} must be a 3D volume")
        volumes[role] = volume
    for target in (output, fixed_out):
        if target is not None:
            _check_output_format(volumes["moving"], Path(target))
    for role, volume in volumes.items():
        data = volume.data
        try:
            if n4:
                data = n4_bias_correction(data, volume.spacing)[0]
            if clip is not None:
                data = clip_percentiles(data, clip[0], clip[1])
        except ValueError as error:  # e.g. nothing but zeros to take percentiles of
            raise InputError(volume.source_path, str(error)) from None
        volumes[role] = volume.with_data(data)
    try:
        registered, transform = register(volumes["moving"], volumes["fixed"], upsample=upsample,
                                         deformable=deformable, seed=seed)
    except ValueError as error:
        role, _, problem = str(error).partition(": ")
        raise InputError({"moving": moving, "fixed": fixed}.get(role, moving), problem or str(error)) from None

    record = provenance(
        command="register",
        inputs={"moving": moving, "fixed": fixed},
        options={"deformable": deformable, "upsample": upsample, "n4": n4, "clip": list(clip) if clip else None,
                 "seed": seed},
        registration=registered.meta["registration"],
        output={"path": str(output), "shape": list(registered.shape), "spacing": list(registered.spacing),
                "transform": str(transform_out) if transform_out else None,
                "transform_convention": "ITK: maps FIXED's world points (LPS mm) to MOVING's",
                "fixed_out": str(fixed_out) if fixed_out else None},
    )
    extra = [] if fixed_out is None else [(refine_grid(volumes["fixed"], upsample), Path(fixed_out))]
    written = []
    try:
        if transform_out is not None:
            write_atomic(transform_out, lambda tmp: write_transform(transform, tmp), overwrite=overwrite,
                         inputs=[moving, fixed])
            written.append(Path(transform_out))
        _write_with_sidecar(registered, output, record, overwrite=overwrite, inputs=[moving, fixed],
                            like=volumes["moving"], extra_outputs=extra)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return [output, sidecar_path(output), *written, *(path for _, path in extra)]
