"""What the CLI's commands do, as plain functions (the CLI only parses options)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mrigan.errors import InputError, UsageError

TISSUES = ("gm", "wm", "csf")


def _write_with_sidecar(volume, output: Path, record: dict, *, overwrite: bool, inputs: list[Path]) -> None:
    """Write OUTPUT and OUTPUT.json, each atomically; neither is left behind if either fails."""
    from mrigan import io
    from mrigan.io.atomic import check_output_path, write_atomic
    from mrigan.provenance import dumps, sidecar_path

    sidecar = sidecar_path(output)
    check_output_path(output, overwrite=overwrite, inputs=inputs)
    check_output_path(sidecar, overwrite=overwrite, inputs=inputs)
    written = io.write(volume, output, overwrite=overwrite)
    try:
        write_atomic(sidecar, lambda p: p.write_text(dumps(record)), overwrite=overwrite, inputs=inputs)
    except BaseException:
        import shutil

        shutil.rmtree(written) if Path(written).is_dir() else Path(written).unlink(missing_ok=True)
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
    seed: int, overwrite: bool = False,
) -> Path:
    """Simulate one contrast of an anatomy and write it as NIfTI with OUTPUT.json."""
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
    check_output_path(output, overwrite=overwrite)
    check_output_path(sidecar_path(output), overwrite=overwrite)
    reference, tissues = load_tissues(anatomy)
    image, spacing, params = simulate_contrast(
        tissues, reference.spacing, contrast=contrast, sequence=sequence, field_t=field_t,
        voxel_mm=voxel_mm, seed=seed,
    )
    zoom = tuple(old / new for old, new in zip(reference.spacing, spacing))
    out = reference.with_data(image, zoom=zoom)
    out.source_path = None
    inputs = {} if anatomy in _sample_names() else {"tissue_folder": Path(anatomy)}
    record = provenance(
        command="simulate", inputs=inputs,
        options={"anatomy": anatomy, "contrast": contrast, "sequence": sequence, "field_t": field_t,
                 "voxel_mm": voxel_mm, "seed": seed},
        simulation=params,
        output={"path": str(output), "shape": list(out.shape), "spacing": list(out.spacing)},
    )
    _write_with_sidecar(out, Path(output), record, overwrite=overwrite, inputs=[])
    return Path(output)


def _sample_names() -> tuple[str, ...]:
    from mrigan.data.samples import SAMPLES

    return tuple(SAMPLES)


def run_bench(suite: str, *, quick: bool, methods: str | None, slices: int | None, out: Path) -> str:
    """Run a bench suite, print its markdown table and where the files went."""
    from mrigan.bench.runner import run_suite
    from mrigan.bench.suites import SUITES
    from mrigan.data.samples import missing_reason

    if suite not in SUITES:
        raise UsageError(f"unknown suite {suite!r}; available: {', '.join(SUITES)}")
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
    result = run_suite(suite, quick=quick, methods=names, n_slices=slices, out_dir=out)
    print(f"## mrigan bench {suite}{' --quick' if quick else ''} (held-out Colin27, PSNR/SSIM with 95% CI over slices)\n")
    print(result.table)
    print(f"\nwritten: {', '.join(str(p) for p in result.files)}")
    return result.table
