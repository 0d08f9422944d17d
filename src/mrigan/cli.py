"""The `mrigan` command line. It parses, calls the library, and turns user errors into one line + exit 2."""

from __future__ import annotations

import sys
from pathlib import Path

import click

LATER = {
    "enhance": "Restore, super-resolve or translate a scan with a trained model",
    "train": "Train a model from a config",
    "evaluate": "Score a trained model on held-out data",
    "models": "List the shipped models",
    "export": "Write an export pack (output, figures, provenance)",
    "ui": "Start the web UI",
}
PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mrigan", prog_name="mrigan")
def app() -> None:
    """mrigan: enhance MRI with GANs - restoration, super-resolution, contrast and field translation.

    For research use only; not a medical device.
    """


def _later(name: str) -> click.Command:
    def command() -> None:
        from mrigan.errors import NotAvailableYet

        raise NotAvailableYet(
            f"`mrigan {name}` comes with a later version of mrigan; available now: degrade, simulate, bench"
        )

    return click.Command(name, callback=command, context_settings=PASS_THROUGH,
                         help=f"{LATER[name]} (comes with a later version).")


for _name in LATER:
    app.add_command(_later(_name))


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
              help="mni152, colin27, colin27-hires, inia19, or a folder with gm/wm/csf NIfTI maps.")
@click.option("--contrast", type=click.Choice(["t1w", "t2w", "pdw"]), default="t1w", show_default=True)
@click.option("--sequence", type=click.Choice(["se", "gre"]), default="se", show_default=True,
              help="se: spin echo; gre: spoiled gradient echo.")
@click.option("--field", type=float, default=3.0, show_default=True, help="Field strength in tesla.")
@click.option("--voxel", type=float, help="Isotropic voxel size in mm (default: the anatomy's).")
@click.option("--seed", type=int, default=0, show_default=True, help="Noise seed.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Output .nii or .nii.gz.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
def simulate(anatomy: str, contrast: str, sequence: str, field: float, voxel: float | None, seed: int,
             output: Path, overwrite: bool) -> None:
    """Simulate a T1w / T2w / PDw scan of a real anatomy with the MR signal equations."""
    from mrigan.commands import run_simulate

    written = run_simulate(anatomy, output, contrast=contrast, sequence=sequence, field_t=field,
                           voxel_mm=voxel, seed=seed, overwrite=overwrite)
    click.echo(f"wrote {written} and {written}.json")


@app.command()
@click.argument("suite", type=click.Choice(["denoise", "inpaint", "sr"]), metavar="SUITE")
@click.option("--quick", is_flag=True, help="A few slices and one case: under a minute.")
@click.option("--methods", help="Comma-separated method names (default: all for the task).")
@click.option("--slices", type=int, help="Contiguous axial slices (default 40; with --quick 6).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench-results"), show_default=True,
              help="Folder for the CSV, table and figures.")
def bench(suite: str, quick: bool, methods: str | None, slices: int | None, out: Path) -> None:
    """Run methods side by side on held-out Colin27 with identical seeded degradations."""
    from mrigan.commands import run_bench

    run_bench(suite, quick=quick, methods=methods, slices=slices, out=out)


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
