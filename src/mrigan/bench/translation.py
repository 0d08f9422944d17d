"""The bench suites `translate` and `field`: translation models beside classical rows on held-out Colin27.

Both simulate Colin27 (a brain no model trained on) with `mrigan.data.translation.translation_volumes`, exactly
as the training data are simulated, with the domains of the recipes' configs:

* `translate` (seed 003, configs/translation/cyclegan_t1_t2.yaml): T1w and T2w spin echo at 3 T on the 1 mm
  Colin27. Cases: T1w -> T2w and T2w -> T1w (input: one contrast as acquired, with its noise; truth: the other
  contrast noise-free) and the round trips T1w -> T2w -> T1w (F(G(a))) and T2w -> T1w -> T2w (G(F(b))), scored
  against the noise-free input contrast; only a model with both generators (a CycleGAN run) has round-trip rows.
* `field` (seed 004, configs/translation/pix2pix_7t_9t4.yaml): 7 T T2*-weighted gradient echo on voxels twice
  the anatomy's, cubic-spline upsampled back onto its grid, -> 9.4 T at the anatomy's voxel size (noise-free
  truth), on the 0.5 mm Colin27 ("colin27-hires", so the target is at 0.5 mm and the input at 1 mm). Besides
  the per-slice table, every method's output is scored as one stitched volume (3D PSNR / SSIM / MSE over the
  block), and a seam table compares the seam score (`mrigan.data.translation.seam_score`: mean jump across
  patch borders over the mean jump elsewhere) of the model stitched with a Hann window and with plain
  averaging against the target's own score on the same grid (the inside-patch baseline: about 1, not exactly,
  since the border lines are few and sample the anatomy unevenly; compare the ratio). On the 0.5 mm Colin27 the
  upsampled 7 T input scores 1.05 or 0.89 as the borders fall on even or odd voxels: its coarse voxels are two
  fine ones wide. `--slices` beyond the brain's extent scores the whole volume; `--quick` uses the 1 mm Colin27
  (segmenting the 0.5 mm one alone takes ~20 s).

Rows: "identity" (the input unchanged; in the field suite this *is* the cubic-spline upsampled 7 T input, named
so), "histmatch" (the input's brain histogram matched to mni152, a training anatomy, simulated in the case's
target domain as acquired; not in the round trips) and the models (`TranslationModelMethod`), each only in the
cases of its direction. Scores: PSNR / SSIM / MSE (data range 1) on each of a block of contiguous central axial
slices, over the whole slice and inside the brain ("_fg"), mean [95% bootstrap CI] over slices. The volumes are
simulated with a margin of slices around the block, so its first and last slices see no edge effects.
"""

from __future__ import annotations

import csv
import functools
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from mrigan.physics.base import Degraded

TRANSLATION_SUITES = ("translate", "field")
N_SLICES = {"translate": 40, "field": 40}
QUICK_SLICES = {"translate": 6, "field": 12}  # the field suite's 3D SSIM needs 11 slices (its window)
SAMPLES = {"translate": "colin27", "field": "colin27-hires"}
QUICK_SAMPLES = {"translate": "colin27", "field": "colin27"}  # segmenting the 0.5 mm Colin27 alone takes ~20 s
MARGIN = 8
"""Extra slices simulated on each side of the block (the 7 T voxels are 2 slices thick)."""
SEED = 1000
"""Noise seed of the bench's simulations (training runs use their config's seed, 0 by default)."""
REFERENCE_SAMPLE = "mni152"

COLIN27_T1W_PROTOCOL = {"sequence": "gre", "field_t": 1.5, "tr": 18.0, "te": 10.0, "flip_deg": 30.0}
"""The sequence of the real Colin27 T1w (Holmes et al. 1998, J Comput Assist Tomogr 22:324: FLASH at 1.5 T, TR 18 ms,
TE 10 ms, flip 30 degrees): the translate suite's "T1w (Colin27's FLASH)" input, a T1w of another sequence."""
COLUMNS = ("psnr_fg", "ssim_fg", "mse_fg", "fdist_fg", "psnr", "ssim", "mse")
VOLUME_COLUMNS = ("psnr_fg", "ssim_fg", "mse_fg", "psnr", "ssim", "mse")


@dataclass
class TranslationCase:
    """One direction of a suite: an input as acquired, the noise-free truth it should become, on one grid.

    Attributes:
        name: table name, e.g. "T1w -> T2w".
        image: (X, Y, Z) input in [0, 1].
        truth: (X, Y, Z) noise-free target in [0, 1].
        brain: boolean brain mask.
        source, target: domains (`DomainConfig`) of input and truth.
        via: domains a round trip passes through (empty for a translation).
        baselines: the classical rows that make sense here ("identity", "histmatch").
        generators: (source, target) domains of the generators to run, in order, when they are not the ones the
            case's domains name: seed 003's reconstruction T1w -> T1w runs the T2w -> T1w generator on a T1w.
    """

    name: str
    image: np.ndarray
    truth: np.ndarray
    brain: np.ndarray
    source: object
    target: object
    via: tuple = ()
    baselines: tuple[str, ...] = ("identity", "histmatch")
    generators: tuple = ()

    def degraded(self) -> Degraded:
        """The input as the methods take it: the brain in maps["fg"], the direction in params."""
        return Degraded(
            image=self.image, maps={"fg": self.brain}, source_shape=tuple(self.image.shape),
            params=[{"op": "translate", "case": self.name, "source": asdict(self.source),
                     "target": asdict(self.target), "via": [asdict(d) for d in self.via],
                     "generators": [[asdict(s), asdict(t)] for s, t in self.generators]}],
        )


@dataclass
class TranslationSuite:
    """A suite's cases, the domains it simulates, the patch grid its seam table uses, and notes."""

    name: str
    sample: str
    cases: list[TranslationCase]
    identity_name: str = "identity"
    grid: object = None
    notes: list[str] = field(default_factory=list)


def suite_domains(suite_name: str):
    """(source, target) `DomainConfig`s: the CycleGAN recipe's (translate), pix2pix 7 T -> 9.4 T's (field)."""
    from mrigan.tasks.translate import CycleGANConfig, Pix2PixConfig

    data = CycleGANConfig().data if suite_name == "translate" else Pix2PixConfig().data
    return data.source, data.target


def default_grid():
    """The field recipe's stitching grid (64 x 64 patches every 20 pixels, Hann window)."""
    from mrigan.data.translation import PatchGrid
    from mrigan.tasks.translate import Pix2PixConfig

    config = Pix2PixConfig()
    return PatchGrid(tuple(config.data.patch), config.stitch.stride, config.stitch.overlap_mode)


@functools.lru_cache(maxsize=4)
def _simulated(sample: str, source_key: str, target_key: str, n_slices: int, seed: int):
    import json

    from mrigan.data.translation import DomainConfig, translation_volumes

    source, target = DomainConfig(**json.loads(source_key)), DomainConfig(**json.loads(target_key))
    volume = translation_volumes([sample], source, target, seed=seed, max_slices=n_slices + 2 * MARGIN)[0]
    depth = volume.image.shape[-1]
    covered = np.nonzero(volume.brain.any(axis=(0, 1)))[0]
    centre = int(covered.mean()) if covered.size else depth // 2
    start = int(np.clip(centre - n_slices // 2, 0, max(depth - n_slices, 0)))
    keep = slice(start, start + n_slices)
    return tuple(np.ascontiguousarray(a[..., keep]) for a in
                 (volume.image, volume.image_true, volume.target, volume.target_true, volume.brain))


def simulated_block(sample: str, source, target, n_slices: int, seed: int = SEED):
    """(source acquired, source true, target acquired, target true, brain): `n_slices` central axial slices.

    Simulated by `translation_volumes` with `MARGIN` more slices on each side, then cut (cached per process).
    """
    import json

    return _simulated(sample, json.dumps(asdict(source), sort_keys=True), json.dumps(asdict(target), sort_keys=True),
                      int(n_slices), int(seed))


def make_translation_suite(name: str, *, quick: bool = False, sample: str | None = None,
                           n_slices: int | None = None) -> TranslationSuite:
    """Simulate a suite's held-out block and its cases ("translate" or "field")."""
    if name not in TRANSLATION_SUITES:
        raise KeyError(name)
    sample = sample or (QUICK_SAMPLES if quick else SAMPLES)[name]
    n_slices = n_slices or (QUICK_SLICES if quick else N_SLICES)[name]
    source, target = suite_domains(name)
    image, image_true, target_image, target_true, brain = simulated_block(sample, source, target, n_slices)
    if name == "translate":
        a, b = source.contrast[:2].upper() + "w", target.contrast[:2].upper() + "w"
        flash = with_sequence(source, **COLIN27_T1W_PROTOCOL)
        cases = [
            TranslationCase(f"{a} -> {b}", image, target_true, brain, source, target),
            TranslationCase(f"{b} -> {a}", target_image, image_true, brain, target, source),
            TranslationCase(f"{a} -> {b} -> {a}", image, image_true, brain, source, source, via=(target,),
                            baselines=("identity",)),
            TranslationCase(f"{b} -> {a} -> {b}", target_image, target_true, brain, target, target, via=(source,),
                            baselines=("identity",)),
            TranslationCase(f"{a} -> {a} ({b} -> {a} generator)", image, image_true, brain, source, source,
                            baselines=("identity",), generators=((target, source),)),
            TranslationCase(f"{b} -> {b} ({a} -> {b} generator)", target_image, target_true, brain, target, target,
                            baselines=("identity",), generators=((source, target),)),
            TranslationCase(f"{a} (Colin27's FLASH) -> {b}", simulated_block(sample, flash, target, n_slices)[0],
                            target_true, brain, flash, target, generators=((source, target),)),
        ]
        notes = [f"{sample}, {source.describe()} and {target.describe()} (SNR {source.snr:g} / {target.snr:g} at "
                 "3 T), scored against the noise-free image; round trips need both generators of a recipe",
                 f"{a} -> {a} and {b} -> {b}: seed 003's reconstructions, an image of a contrast given to the generator "
                 "that translates into that contrast (CycleGAN's identity mapping)",
                 f"{a} (Colin27's FLASH): the {a} simulated with the real Colin27's own sequence ("
                 f"{flash.describe()}, noise as the {source.describe()}'s) and given "
                 f"to the {a} -> {b} generator: how a model copes with a {a} of another sequence"]
        return TranslationSuite(name, sample, cases, notes=notes)
    cases = [TranslationCase(f"{source.field_t:g}T -> {target.field_t:g}T", image, target_true, brain, source,
                             target)]
    notes = [f"{sample}: {source.describe()} (cubic-spline upsampled onto the target grid) -> {target.describe()}, "
             "scored against the noise-free 9.4 T image"]
    return TranslationSuite(name, sample, cases, identity_name="upsampled input (cubic spline)", grid=default_grid(),
                            notes=notes)


def with_sequence(domain, **changes):
    """`domain` with `changes` (sequence, field, TR / TE / flip), its SNR (given at 3 T) set so that the noise stays
    that of `domain`: only the contrast changes."""
    changed = replace(domain, **changes)
    if domain.snr is None:
        return changed
    return replace(changed, snr=domain.snr * (domain.field_t / changed.field_t) ** domain.snr_field_exponent)


@functools.lru_cache(maxsize=4)
def _reference(domain_key: str, n_slices: int) -> tuple[np.ndarray, np.ndarray]:
    import json

    from mrigan.data.translation import DomainConfig

    domain = DomainConfig(**json.loads(domain_key))
    image, _, _, _, brain = simulated_block(REFERENCE_SAMPLE, domain, domain, n_slices, seed=SEED + 1)
    return image, brain


def histogram_reference(domain, n_slices: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """(image as acquired, brain) of mni152, a training anatomy, simulated in `domain`: histmatch's reference."""
    import json

    return _reference(json.dumps(asdict(domain), sort_keys=True), n_slices)


def _baseline(key: str, case: TranslationCase, suite: TranslationSuite):
    from mrigan.baselines import HistogramMatch, Identity

    if key == "identity":
        return Identity(suite.identity_name, "translate")
    reference, mask = histogram_reference(case.target)
    return HistogramMatch(reference=reference, mask=mask)


@functools.lru_cache(maxsize=1)
def feature_distance():
    """The LPIPS-style distance the suites report as `fdist_fg` (the shipped MRI feature network)."""
    from mrigan.metrics.perceptual import FeatureDistance

    return FeatureDistance()


def _score_slices(output: np.ndarray, truth: np.ndarray, brain: np.ndarray) -> list[dict[str, float]]:
    """PSNR / SSIM / NRMSE / MAE / MSE per axial slice, over the slice and inside the brain (where there is one),
    and the feature distance inside the brain."""
    from mrigan.metrics import mse, score

    rows = []
    for k in range(truth.shape[-1]):
        masks = {"": None}
        if brain[..., k].any():
            masks["fg"] = brain[..., k]
        row = score(output[..., k], truth[..., k], data_range=1.0, masks=masks)
        for name, mask in masks.items():
            row["mse" + (f"_{name}" if name else "")] = mse(output[..., k], truth[..., k], mask=mask)
        if "fg" in masks:
            row["fdist_fg"] = feature_distance()(np.clip(output[..., k], 0, 1), truth[..., k], mask=masks["fg"])
        rows.append(row)
    return rows


def score_volume(output: np.ndarray, truth: np.ndarray, brain: np.ndarray) -> dict[str, float]:
    """3D PSNR / SSIM / MSE of a whole stitched block, over it and inside the brain (SSIM NaN if too thin)."""
    from mrigan.metrics import mse, psnr, ssim

    row = {}
    for suffix, mask in (("", None), ("_fg", brain)):
        row[f"psnr{suffix}"] = psnr(output, truth, data_range=1.0, mask=mask)
        row[f"mse{suffix}"] = mse(output, truth, mask=mask)
        try:
            row[f"ssim{suffix}"] = ssim(output, truth, data_range=1.0, mask=mask)
        except ValueError:  # fewer slices than the 11-voxel window
            row[f"ssim{suffix}"] = float("nan")
    return row


def run_translation_suite(
    suite_name: str, *, quick: bool = False, methods: list[str] | None = None, sample: str | None = None,
    n_slices: int | None = None, out_dir: Path | None = None, progress: bool = True, models: list | None = None,
    require_models: bool = False,
):
    """Run the identity and histogram-matching rows and the given models on a translation suite.

    Args:
        suite_name: "translate" or "field".
        quick: fewer slices (translate 6, field 12; field on the 1 mm Colin27), for a run in seconds.
        methods: baseline keys ("identity", "histmatch"); None all, [] none.
        sample: held-out anatomy (default: colin27 for translate, colin27-hires for field, colin27 for quick).
        n_slices: contiguous central axial slices (default 40).
        out_dir: where CSVs, the table and figures go (None: nothing written).
        progress: show a progress bar.
        models: `TranslationModelMethod`s (or anything with the call shape and a `supports(degraded)`).
        require_models: a model that cannot run here (unavailable, or no case of its direction) is an error
            raised before anything runs, rather than a "not run" line under the table.

    Returns:
        A `BenchResult`: per-slice records, and for the field suite `extra["volume"]` (3D scores) and
        `extra["seams"]` (seam scores); its table holds all of them.
    """
    from rich.progress import Progress

    from mrigan.bench.runner import BenchResult, render_table
    from mrigan.errors import UsageError

    known = ("identity", "histmatch")
    if methods is not None:
        unknown = [m for m in methods if m not in known]
        if unknown:
            raise UsageError(f"unknown method(s) {', '.join(unknown)} for the {suite_name} suite; known: "
                             f"{', '.join(known)}")
    wanted = list(known) if methods is None else list(methods)
    suite = make_translation_suite(suite_name, quick=quick, sample=sample, n_slices=n_slices)
    result = BenchResult(suite=suite_name, extra={"volume": [], "seams": []})
    runnable, names = [], set()
    for model in models or []:
        reason = model.available()
        if not reason and not any(getattr(model, "supports", lambda _: True)(case.degraded()) for case in suite.cases):
            other = next(s for s in TRANSLATION_SUITES if s != suite_name)
            reason = f"no case of its direction in the {suite_name} suite (try --suite {other})"
        if reason and require_models:
            raise UsageError(f"{model.name}: {reason}")
        if reason:
            result.skipped[model.name] = reason
            continue
        base, number = model.name, 2
        while model.name in names:
            model.name, number = f"{base} #{number}", number + 1
        names.add(model.name)
        runnable.append(model)

    figures = []
    seam_grid = suite.grid
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"bench {suite_name}", total=len(suite.cases) * (len(wanted) + len(runnable)))
        for case in suite.cases:
            degraded = case.degraded()
            rows = [_baseline(key, case, suite) for key in wanted if key in case.baselines]
            rows += [model for model in runnable if model.supports(degraded)]
            outputs: dict[str, np.ndarray] = {}
            for method in rows:
                bar.update(task, description=f"{suite_name}: {case.name}: {method.name}")
                start = time.perf_counter()
                output = np.asarray(method(degraded), dtype=np.float32)
                seconds = time.perf_counter() - start
                if output.shape != case.truth.shape:
                    raise RuntimeError(f"{method.name} returned {output.shape}, expected {case.truth.shape}")
                for k, row in enumerate(_score_slices(output, case.truth, case.brain)):
                    result.records.append({"suite": suite_name, "case": case.name, "method": method.name, "slice": k,
                                           "seconds_per_slice": seconds / case.truth.shape[-1], **row})
                if suite_name == "field":
                    result.extra["volume"].append({"case": case.name, "method": method.name,
                                                   **score_volume(output, case.truth, case.brain)})
                outputs[method.name] = output
                bar.advance(task)
            bar.advance(task, len(wanted) + len(runnable) - len(rows))
            if seam_grid is not None:
                result.extra["seams"] += _seam_rows(case, outputs, runnable, degraded, seam_grid)
            figures.append((case, {name: o for name, o in outputs.items() if name != suite.identity_name}))

    distance_note = (f"fdist_fg: LPIPS-style feature distance inside the brain (lower is closer), features of "
                     f"{feature_distance().describe()}, trained without Colin27")
    result.table = render_table(result, COLUMNS, notes=[*suite.notes, distance_note])
    if result.extra["volume"]:
        result.table += "\n\n" + volume_table(result.extra["volume"], suite.cases[0].truth.shape[-1])
    if result.extra["seams"]:
        result.table += "\n\n" + seam_table(result.extra["seams"])
    if out_dir is not None:
        result.files = _write(result, figures, Path(out_dir), suite_name)
    return result


def _seam_rows(case: TranslationCase, outputs: dict[str, np.ndarray], models: list, degraded: Degraded,
               default_grid) -> list[dict]:
    """Seam scores inside the brain: the target's and the input's on each grid, each patch model's per overlap mode."""
    from mrigan.data.translation import seam_score

    rows, grids = [], {}
    for model in models:
        grid = model.grid() if hasattr(model, "grid") else None
        if grid is None or not model.supports(degraded) or len(model.chain(degraded)) != 1:
            continue
        key = (grid.patch, grid.stride)
        grids.setdefault(key, grid)
        modes = list(dict.fromkeys([grid.overlap_mode, "hann", "average"]))
        for mode in modes:
            output = outputs[model.name] if mode == grid.overlap_mode else model.stitched(degraded, mode)
            stitched_grid = model.grid(mode)
            rows.append({"case": case.name, "method": model.name, "overlap": mode, "grid": _grid_name(stitched_grid),
                         "seam_score": seam_score(output, stitched_grid, case.brain)})
    grids.setdefault((default_grid.patch, default_grid.stride), default_grid)
    for grid in grids.values():
        for name, image in (("target (inside-patch baseline)", case.truth), ("input (not stitched)", case.image)):
            rows.append({"case": case.name, "method": name, "overlap": "-", "grid": _grid_name(grid),
                         "seam_score": seam_score(image, grid, case.brain)})
    return rows


def _grid_name(grid) -> str:
    return f"{'x'.join(map(str, grid.patch))} every {'x'.join(map(str, grid.stride))}"


def volume_table(rows: list[dict], depth: int) -> str:
    """Markdown table of the 3D scores of the stitched block (one number per method)."""
    lines = [f"stitched volume ({depth} slices, 3D):", "",
             "| case | method | " + " | ".join(VOLUME_COLUMNS) + " |", "|" + "---|" * (len(VOLUME_COLUMNS) + 2)]
    for row in rows:
        cells = [_format(column, row[column]) for column in VOLUME_COLUMNS]
        lines.append(f"| {row['case']} | {row['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def seam_table(rows: list[dict]) -> str:
    """Markdown table of seam scores, each with its ratio to the target's on the same grid (1.00: no seams left)."""
    baseline = {(r["case"], r["grid"]): r["seam_score"] for r in rows if r["method"].startswith("target")}
    lines = ["seams (mean jump across patch borders / elsewhere, inside the brain; target = the inside-patch "
             "baseline):", "", "| case | method | overlap | grid | seam score | / target |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        reference = baseline.get((row["case"], row["grid"]), float("nan"))
        lines.append(f"| {row['case']} | {row['method']} | {row['overlap']} | {row['grid']} | "
                     f"{row['seam_score']:.3f} | {row['seam_score'] / reference:.3f} |")
    return "\n".join(lines)


def _format(column: str, value: float) -> str:
    if not np.isfinite(value):
        return "-" if np.isnan(value) else "inf"
    return f"{value:.2f}" if column.startswith("psnr") else f"{value:.5f}" if column.startswith("mse") \
        else f"{value:.3f}"


def _write(result, figures, out_dir: Path, suite_name: str) -> list[Path]:
    """The runner's CSV and table, the field suite's volume and seam CSVs, and one figure per case."""
    from mrigan.bench.figures import translation_figure
    from mrigan.bench.runner import write_outputs
    from mrigan.io.atomic import write_atomic

    written = write_outputs(result, [], out_dir, suite_name)
    for key, rows in result.extra.items():
        if not rows:
            continue
        fields = list(dict.fromkeys(k for row in rows for k in row))

        def write_csv(path: Path, rows=rows, fields=fields) -> None:
            with open(path, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=fields)
                writer.writeheader()
                writer.writerows(rows)

        written.append(write_atomic(out_dir / f"{suite_name}_{key}.csv", write_csv, overwrite=True))
    for case, outputs in figures:
        slug = re.sub(r"[^A-Za-z0-9]+", "_", case.name.replace("->", "to")).strip("_")
        target = out_dir / f"{suite_name}_{slug}.png"
        written.append(write_atomic(
            target, lambda p, case=case, outputs=outputs: translation_figure(
                case.image, outputs, case.truth, p, title=f"{suite_name}: {case.name} (held-out Colin27)"),
            overwrite=True))
    return written
