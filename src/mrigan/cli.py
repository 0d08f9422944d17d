"""The `mrigan` command line. It parses, calls the library, and turns user errors into one line + exit 2."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mrigan", prog_name="mrigan")
def app() -> None:
    """mrigan: enhance MRI with GANs - restoration, super-resolution, contrast and field translation.

    For research use only; not a medical device.
    """


@app.command()
@click.argument("input", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Output path, written in the input's format and geometry.")
@click.option("--noise", help="rician:SIGMA or gaussian:SIGMA, SIGMA a fraction of the image maximum.")
@click.option("--hole", help="square:SIZE, boxes:N or brush:N (a mask of missing pixels).")
@click.option("--downsample", help="F (anti-aliased in-plane decimation by F, e.g. 2 or 4), kspace:F (k-space "
              "truncation, same grid) or thick:F (F-times thicker slices); the header's voxel size grows.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
def degrade(input: Path, output: Path, noise: str | None, hole: str | None, downsample: str | None,
            seed: int, overwrite: bool) -> None:
    """Degrade a scan with seeded MR physics; writes OUTPUT and OUTPUT.json (the parameters used)."""
    from mrigan.commands import run_degrade

    written = run_degrade(input, output, noise=noise, hole=hole, downsample=downsample, seed=seed,
                          overwrite=overwrite)
    click.echo(f"wrote {written} and {written}.json")


@app.command()
@click.option("--anatomy", default="mni152", show_default=True,
              help="mni152, mni152-gmm, colin27, colin27-hires, inia19, or a folder with gm/wm/csf NIfTI maps.")
@click.option("--contrast", type=click.Choice(["t1w", "t2w", "pdw"]), default="t1w", show_default=True)
@click.option("--sequence", type=click.Choice(["se", "gre"]), default="se", show_default=True,
              help="se: spin echo; gre: spoiled gradient echo.")
@click.option("--field", type=float, default=3.0, show_default=True, help="Field strength in tesla.")
@click.option("--voxel", type=float, help="Isotropic voxel size in mm (default: the anatomy's).")
@click.option("--tr", type=float, help="Repetition time in ms (default: the sequence's for the contrast).")
@click.option("--te", type=float, help="Echo time in ms (default: the sequence's for the contrast).")
@click.option("--flip", type=float, help="Flip angle in degrees, gradient echo only (default: the sequence's).")
@click.option("--seed", type=int, default=0, show_default=True, help="Noise seed.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Output .nii or .nii.gz.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
def simulate(anatomy: str, contrast: str, sequence: str, field: float, voxel: float | None, tr: float | None,
             te: float | None, flip: float | None, seed: int, output: Path, overwrite: bool) -> None:
    """Simulate a T1w / T2w / PDw scan of a real anatomy with the MR signal equations.

    E.g. Colin27's own T1w protocol: --sequence gre --field 1.5 --tr 18 --te 10 --flip 30.
    """
    from mrigan.commands import run_simulate

    written = run_simulate(anatomy, output, contrast=contrast, sequence=sequence, field_t=field,
                           voxel_mm=voxel, seed=seed, overwrite=overwrite, tr=tr, te=te, flip_deg=flip)
    click.echo(f"wrote {written} and {written}.json")


@app.command()
@click.argument("suite", type=click.Choice(["denoise", "inpaint", "sr", "translate", "field"]), metavar="SUITE")
@click.option("--quick", is_flag=True, help="A few slices and one case: under a minute.")
@click.option("--methods", help="Comma-separated method names (default: all for the task).")
@click.option("--slices", type=int, help="Contiguous axial slices (default 40; with --quick 6, field 12).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench-results"), show_default=True,
              help="Folder for the CSV, table and figures.")
@click.option("-m", "--model", "models", multiple=True,
              help="A trained model (name, card or weights) to run beside the baselines; repeatable. "
                   "Default: the shipped models for the suite's task.")
@click.option("--no-models", is_flag=True, help="Baselines only.")
def bench(suite: str, quick: bool, methods: str | None, slices: int | None, out: Path, models: tuple[str, ...],
          no_models: bool) -> None:
    """Run methods side by side on held-out Colin27 with identical seeded degradations.

    SUITE: denoise, inpaint, sr; translate (simulated T1w <-> T2w, and CycleGAN round trips) or field (7 T ->
    9.4 T, with stitched-volume and seam tables). For translate and field, -m takes a model card or a run
    folder; a CycleGAN run folder, or its two cards, also gives the round-trip rows.
    """
    from mrigan.commands import run_bench

    run_bench(suite, quick=quick, methods=methods, slices=slices, out=out, models=list(models),
              no_models=no_models)


@app.command()
@click.argument("moving", type=click.Path(path_type=Path))
@click.argument("fixed", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="MOVING registered onto FIXED's grid (NIfTI .nii / .nii.gz); OUTPUT.json records how.")
@click.option("--deformable/--no-deformable", default=True, show_default=True,
              help="Add the B-spline stage after the affine one.")
@click.option("--upsample", type=float, default=2.0, show_default=True,
              help="The output grid has this many times FIXED's voxels per axis (1: FIXED's own grid).")
@click.option("--transform", "transform_out", type=click.Path(path_type=Path),
              help="Also write the transform (.tfm or .h5; ITK convention: FIXED's LPS points to MOVING's).")
@click.option("--fixed-out", type=click.Path(path_type=Path),
              help="Also write FIXED on the output grid: with OUTPUT, a ready pair for a recipe's data.pairs.")
@click.option("--n4", is_flag=True, help="N4 bias-field correction of both volumes first.")
@click.option("--clip", nargs=2, type=float, metavar="LOW HIGH",
              help="Clip both volumes to these percentiles of their non-zero voxels first, e.g. --clip 0.1 99.9.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the metric's voxel sample.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (never an input).")
def register(moving: Path, fixed: Path, output: Path, deformable: bool, upsample: float, transform_out: Path | None,
             fixed_out: Path | None, n4: bool, clip: tuple[float, float] | None, seed: int, overwrite: bool) -> None:
    """Register MOVING onto FIXED: affine, then B-spline deformable (SimpleITK, mutual information).

    Works across contrasts (T1w onto T2w) and field strengths; deterministic for a given --seed.
    """
    from mrigan.commands import run_register

    written = run_register(moving, fixed, output, deformable=deformable, upsample=upsample,
                           transform_out=transform_out, fixed_out=fixed_out, n4=n4, clip=clip or None, seed=seed,
                           overwrite=overwrite)
    click.echo(f"wrote {', '.join(map(str, written))}")


@app.command()
@click.argument("config", type=click.Path(path_type=Path), required=False)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config value, e.g. --set trainer.max_steps=500 (repeatable).")
@click.option("--resume", type=click.Path(path_type=Path), help="Continue the run in this folder exactly.")
@click.option("--init-from", type=click.Path(path_type=Path),
              help="Fine-tune: start a new run from the weights of this run folder (its latest checkpoint) or "
                   "checkpoint file; the config may change the data and losses, not the networks.")
@click.option("--out", type=click.Path(path_type=Path), help="Run folder (default runs/NAME-TIMESTAMP).")
def train(config: Path | None, overrides: tuple[str, ...], resume: Path | None, init_from: Path | None,
          out: Path | None) -> None:
    """Train the recipe a config names (e.g. configs/umr_gan.yaml) on CPU, a GPU, or many (torchrun)."""
    from mrigan.training import run_train

    run_train(config, overrides=list(overrides), resume=resume, out=out, init_from=init_from)


@app.command()
@click.argument("model")
@click.option("--suite", type=click.Choice(["denoise", "inpaint", "sr", "translate", "field"]), required=True,
              help="denoise / inpaint (restoration models), sr (super-resolution), translate (T1w <-> T2w) or "
                   "field (7 T -> 9.4 T).")
@click.option("--quick", is_flag=True, help="A few slices and one case.")
@click.option("--slices", type=int, help="Contiguous axial slices (default 40; with --quick 6).")
@click.option("--methods", help="Baselines to run beside it (default: all of the suite's).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench-results"), show_default=True)
def evaluate(model: str, suite: str, quick: bool, slices: int | None, methods: str | None, out: Path) -> None:
    """Score a trained model (run folder, card, weights or name) on held-out Colin27 beside the baselines.

    For translate and field, a CycleGAN run folder brings both generators (and the round-trip rows).
    """
    from mrigan.commands import run_bench
    from mrigan.training import model_of_run

    given = model if suite in ("translate", "field") else model_of_run(model)
    run_bench(suite, quick=quick, methods=methods, slices=slices, out=out, models=[given], no_models=True,
              require_models=True)


@app.command()
@click.argument("input", type=click.Path(path_type=Path))
@click.option("-m", "--model", required=True,
              help="A shipped model name (see `mrigan models`), a model card .json or its .safetensors weights.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Output path in the input's format and geometry (a folder when INPUT is a folder).")
@click.option("--mode", type=click.Choice(["denoise", "inpaint", "auto"]), default="denoise", show_default=True,
              help="denoise: the network's output everywhere; inpaint: fill missing pixels, keep the others "
              "exactly (no --mask: a centred square hole, 25% of the smaller side); auto: inpaint when a mask "
              "is given and the image is nearly noise-free, else denoise.")
@click.option("--mask", type=click.Path(path_type=Path),
              help="Binary mask on the input's grid: non-zero = known, 0 = missing.")
@click.option("--noise-sigma", type=float,
              help="Noise std as a fraction of the normalised [0, 1] range (default: estimated; 0 to inpaint).")
@click.option("--label", type=int, help="Class index, for a class-conditioned model.")
@click.option("--uncertainty", type=click.Choice(["mc-dropout", "tta"]),
              help="Also write OUTPUT_uncertainty.<ext>: per-voxel std over stochastic passes (mc-dropout "
              "falls back to test-time augmentation when the model has no dropout).")
@click.option("--samples", type=int, default=8, show_default=True, help="Stochastic passes for --uncertainty.")
@click.option("--batch-size", type=int, default=8, show_default=True, help="Slices per forward pass.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (never the input).")
@click.option("--scale", type=int, help="Super-resolution models: the factor expected (checked against the model).")
@click.option("--through-plane", is_flag=True,
              help="Super-resolution models: give a thick-slice volume finer slices (the last axis) instead of "
              "upscaling each slice in plane.")
@click.option("--flip-average/--no-flip-average", default=None,
              help="Translation models: average the generator over in-plane flips (4 passes), or run it once "
              "(default: as the model's card says; the shipped CycleGANs average).")
def enhance(input: Path, model: str, output: Path, mode: str, mask: Path | None, noise_sigma: float | None,
            label: int | None, uncertainty: str | None, samples: int, batch_size: int, device: str,
            overwrite: bool, scale: int | None, through_plane: bool, flip_average: bool | None) -> None:
    """Restore, upscale (SR model) or translate (translation model) a scan or a folder of scans; writes OUTPUT
    and OUTPUT.json.

    INPUT: NIfTI, a DICOM file or series folder, PNG / JPEG / TIFF, or a folder of such files. A
    super-resolution model upscales in plane (or, with --through-plane, along the slices) and writes the smaller
    voxel size into the header; a translation model keeps the grid.
    """
    from mrigan.commands import run_enhance

    run_enhance(input, output, model=model, mode=mode, mask=mask, noise_sigma=noise_sigma, label=label,
                uncertainty=uncertainty, samples=samples, batch_size=batch_size, device=device,
                overwrite=overwrite, progress=sys.stderr.isatty(), scale=scale, through_plane=through_plane,
                flip_average=flip_average)


@app.command()
@click.option("-m", "--model", "models", multiple=True,
              help="A model (shipped name, card .json or .safetensors) to offer beside the shipped ones; repeatable.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (0.0.0.0: every interface; the UI has no login).")
@click.option("--port", type=int, default=7860, show_default=True)
@click.option("--max-upload-mb", type=float, default=50.0, show_default=True,
              help="Largest upload accepted (all files of one request together).")
@click.option("--concurrency", type=int, default=2, show_default=True,
              help="Restorations running at once; more wait in the queue.")
@click.option("--queue-size", type=int, default=32, show_default=True, help="Requests that may wait.")
@click.option("--keep-minutes", type=float, default=10.0, show_default=True,
              help="Uploads and results are deleted after this long (and all of them when the server stops).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
def ui(models: tuple[str, ...], host: str, port: int, max_upload_mb: float, concurrency: int, queue_size: int,
       keep_minutes: float, device: str) -> None:
    """Start the web UI on this machine: restore a scan, compare, download (needs `pip install 'mrigan[ui]'`)."""
    from mrigan.ui.app import serve
    from mrigan.ui.workspace import UISettings

    settings = UISettings(models=list(models), max_upload_mb=max_upload_mb, concurrency=concurrency,
                          queue_size=queue_size, keep_minutes=keep_minutes, device=device)
    serve(settings, host=host, port=port)


@app.command()
@click.argument("source", metavar="OUTPUT_OR_RUN_DIR", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The pack to write, a .zip file (written atomically).")
@click.option("--input", "original", type=click.Path(path_type=Path),
              help="Enhanced outputs: the scan it was made from (its sha256 must match the sidecar's); adds its "
              "previews and an input / output / difference figure.")
@click.option("--overwrite", is_flag=True, help="Replace an existing pack (never a source).")
def export(source: Path, output: Path, original: Path | None, overwrite: bool) -> None:
    """Pack an enhanced output or a training run into one zip, with provenance and a manifest of sha256s.

    OUTPUT_OR_RUN_DIR: something `mrigan enhance` wrote (a file or DICOM series folder with its OUTPUT.json):
    the pack holds it, its provenance, its uncertainty map and PNG previews. Or a run folder of `mrigan train`:
    the exported best (else final) generator, the config, metric CSVs, figures and a generated MODEL_CARD.md;
    training checkpoints are never packed.
    """
    from mrigan.export import run_export

    written = run_export(source, output, original=original, overwrite=overwrite)
    click.echo(f"wrote {written}")


@app.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def models(as_json: bool) -> None:
    """List the shipped models: task, size, sha256, held-out PSNR, present or missing."""
    from mrigan.commands import run_models

    run_models(as_json=as_json)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors become `mrigan: <kind>: <message>` on stderr and exit code 2."""
    from mrigan.errors import MriganError

    try:
        app.main(args=argv, prog_name="mrigan", standalone_mode=False)
    except MriganError as error:
        click.echo(f"mrigan: {error.kind}: {error}", err=True)
        return 2
    except click.exceptions.NoArgsIsHelpError as error:
        click.echo(error.ctx.get_help())
        return 0
    except click.UsageError as error:
        click.echo(f"mrigan: usage error: {error.format_message()}", err=True)
        if error.ctx is not None:
            click.echo(f"(see `{error.ctx.command_path} --help`)", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("mrigan: aborted", err=True)
        return 130
    except click.exceptions.Exit as exit_:
        return exit_.exit_code
    return 0


def entry_point() -> None:
    """Console-script wrapper so the exit code reaches the shell."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry_point()
