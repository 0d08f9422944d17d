"""Run methods side by side on the same held-out, identically degraded data; tables, CSV and figures."""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mrigan.bench.suites import QUICK_SLICES, N_SLICES, Case, make_suite
from mrigan.physics.base import Degraded


@dataclass
class BenchResult:
    """Per-slice records and the rendered table."""

    suite: str
    records: list[dict] = field(default_factory=list)
    table: str = ""
    skipped: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    extra: dict[str, list[dict]] = field(default_factory=dict)  # more tables' rows (field suite: volume, seams)


def _methods_for(task: str, names: list[str] | None):
    from mrigan.baselines import BASELINES, baselines_for

    if names is not None:
        unknown = [n for n in names if n not in BASELINES]
        if unknown:
            from mrigan.errors import UsageError

            raise UsageError(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(BASELINES)}")
        return [BASELINES[n]() for n in names]
    return baselines_for(task)


def _score_slices(
    output: np.ndarray, clean: np.ndarray, masks: dict[str, np.ndarray | None]
) -> list[dict[str, float]]:
    from mrigan.metrics import score

    rows = []
    for k in range(clean.shape[-1]):
        slice_masks = {}
        for name, mask in masks.items():
            if mask is None:
                slice_masks[name] = None
            elif mask[..., k].any():
                slice_masks[name] = mask[..., k]
        rows.append(score(output[..., k], clean[..., k], data_range=1.0, masks=slice_masks))
    return rows


def run_suite(
    suite_name: str,
    *,
    quick: bool = False,
    methods: list[str] | None = None,
    sample: str | None = None,
    n_slices: int | None = None,
    out_dir: Path | None = None,
    progress: bool = True,
    models: list | None = None,
    require_models: bool = False,
) -> BenchResult:
    """Run every method of a suite on the held-out block.

    Args:
        suite_name: "denoise", "inpaint", "sr", or a translation suite ("translate", "field"; see
            `mrigan.bench.translation`, which runs those).
        quick: few slices and one case, to finish in under a minute.
        methods: names from `mrigan.baselines.BASELINES`; default (None) all for the task, [] none.
        sample: held-out anatomy (default colin27, the field suite colin27-hires; never one used for training).
        n_slices: contiguous axial slices (default 40, quick 6).
        out_dir: where the CSV, table and figures go (None: nothing written).
        progress: show a progress bar.
        models: trained models with the baselines' call shape (`Enhancer.as_method()`), run after them.
        require_models: translation suites: a model with no case here is an error (`mrigan evaluate`).

    Returns:
        The records, the markdown table, and the methods skipped with their reasons.
    """
    from rich.progress import Progress

    from mrigan.bench.heldout import held_out_block, real_sr_pair
    from mrigan.bench.translation import TRANSLATION_SUITES, run_translation_suite

    if suite_name in TRANSLATION_SUITES:
        return run_translation_suite(suite_name, quick=quick, methods=methods, sample=sample, n_slices=n_slices,
                                     out_dir=out_dir, progress=progress, models=models,
                                     require_models=require_models)
    sample = sample or "colin27"
    suite = make_suite(suite_name, quick=quick)
    n_slices = n_slices or (QUICK_SLICES if quick else N_SLICES)
    block = held_out_block(sample, n_slices)
    result = BenchResult(suite=suite_name)
    runnable = []
    for method in [*_methods_for(suite.task, methods), *(models or [])]:
        reason = method.available()
        if reason:
            result.skipped[method.name] = reason
        elif quick and not methods and getattr(method, "slow", False):
            result.skipped[method.name] = "slow (minutes per volume); left out of --quick, run without it"
        else:
            runnable.append(method)

    jobs: list[tuple[str, np.ndarray, np.ndarray, Degraded, tuple[str, ...]]] = []
    for case in suite.cases:
        jobs.append((case.name, block.clean, block.brain, case.degrade(block.clean), case.score_masks))
    if suite_name == "sr" and sample == "colin27":
        try:
            target, brain, degraded = real_sr_pair(n_slices // 2 if quick else n_slices)
            jobs.append(("real 1mm->0.5mm", target, brain, degraded, ("", "fg")))
        except FileNotFoundError as error:  # pragma: no cover - depends on mricron-data
            suite.notes.append(f"real pair skipped: {error}")

    figures: list[tuple[str, np.ndarray, np.ndarray, dict[str, np.ndarray]]] = []
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"bench {suite_name}", total=len(jobs) * len(runnable))
        for case_name, clean, brain, degraded, mask_names in jobs:
            masks: dict[str, np.ndarray | None] = {"": None, "fg": brain}
            if "hole" in mask_names:
                masks["hole"] = degraded.maps["mask"] < 0.5
            outputs = {}
            for method in runnable:
                if not getattr(method, "supports", lambda _: True)(degraded):  # e.g. a 2x model in the x4 case
                    bar.advance(task)
                    continue
                bar.update(task, description=f"{suite_name}: {case_name}: {method.name}")
                start = time.perf_counter()
                output = np.asarray(method(degraded), dtype=np.float32)
                seconds = time.perf_counter() - start
                if output.shape != clean.shape:
                    raise RuntimeError(f"{method.name} returned {output.shape}, expected {clean.shape}")
                for k, row in enumerate(_score_slices(output, clean, {m: masks[m] for m in mask_names})):
                    result.records.append(
                        {"suite": suite_name, "case": case_name, "method": method.name, "slice": k,
                         "seconds_per_slice": seconds / clean.shape[-1], **row}
                    )
                outputs[method.name] = output
                bar.advance(task)
            figures.append((case_name, clean, brain, outputs))

    result.table = render_table(result, suite.columns, notes=suite.notes)
    if out_dir is not None:
        result.files = write_outputs(result, figures, Path(out_dir), suite_name)
    return result


def render_table(result: BenchResult, columns: tuple[str, ...], *, notes: list[str] = ()) -> str:
    """Markdown table: one row per case and method, mean [95% bootstrap CI] over slices."""
    from mrigan.metrics import bootstrap_ci

    header = ["case", "method", *columns, "s/slice"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    keys = []
    for record in result.records:
        key = (record["case"], record["method"])
        if key not in keys:
            keys.append(key)
    for case, method in keys:
        rows = [r for r in result.records if r["case"] == case and r["method"] == method]
        cells = [case, method]
        for column in columns:
            values = np.array([r[column] for r in rows if column in r and np.isfinite(r[column])])
            if values.size == 0:
                cells.append("-")
                continue
            mean, low, high = bootstrap_ci(values)
            digits = 2 if column.startswith("psnr") else 5 if column.startswith("mse") else 3
            cells.append(f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]")
        cells.append(f"{rows[0]['seconds_per_slice']:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    for name, reason in result.skipped.items():
        lines.append(f"\nnot run: {name}: {reason}")
    for note in notes:
        lines.append(f"\nnote: {note}")
    return "\n".join(lines)


def write_outputs(result: BenchResult, figures, out_dir: Path, suite_name: str) -> list[Path]:
    """Write records.csv, table.md and one comparison figure per case into `out_dir`."""
    from mrigan.bench.figures import comparison_figure
    from mrigan.io.atomic import write_atomic

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    fields = sorted({key for record in result.records for key in record}, key=_field_order)

    def write_csv(path: Path) -> None:
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(result.records)

    written.append(write_atomic(out_dir / f"{suite_name}.csv", write_csv, overwrite=True))
    written.append(
        write_atomic(out_dir / f"{suite_name}.md", lambda p: p.write_text(result.table + "\n"), overwrite=True)
    )
    for case_name, clean, brain, outputs in figures:
        slug = "".join(c if c.isalnum() else "_" for c in case_name).strip("_")
        target = out_dir / f"{suite_name}_{slug}.png"
        written.append(
            write_atomic(target, lambda p: comparison_figure(clean, outputs, p, title=f"{suite_name}: {case_name}"),
                         overwrite=True)
        )
    return written


def _field_order(name: str) -> tuple[int, str]:
    order = ["suite", "case", "method", "slice"]
    return (order.index(name), name) if name in order else (len(order), name)
