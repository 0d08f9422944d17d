"""Atomic writes: a temporary sibling is written, then renamed over the target in one step."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from mrigan.errors import OutputError


def check_output_path(
    target: str | Path, *, overwrite: bool = False, inputs: Iterable[str | Path | None] = ()
) -> Path:
    """Refuse to write over an input, or over an existing output unless `overwrite`.

    Returns:
        The target as an absolute path.
    """
    target = Path(target).absolute()
    for source in inputs:
        if source is None:
            continue
        source = Path(source).absolute()
        if target == source or (source.is_dir() and source in target.parents) or (
            target.exists() and source.exists() and os.path.samefile(target, source)
        ):
            raise OutputError(target, "refusing to overwrite an input file")
    if target.exists() and not overwrite:
        raise OutputError(target, "already exists (pass --overwrite to replace it)")
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(
    target: str | Path,
    write: Callable[[Path], None],
    *,
    overwrite: bool = False,
    inputs: Iterable[str | Path | None] = (),
    directory: bool = False,
) -> Path:
    """Call `write(tmp_path)` on a temporary sibling of `target`, then rename it to `target`.

    Args:
        target: the final path (a file, or a folder when `directory`).
        write: writes the content to the path it is given; for a folder, the folder already exists.
        overwrite: replace an existing target.
        inputs: paths that must never be overwritten.
        directory: the target is a folder (a DICOM series).

    Returns:
        The written path. On any exception nothing is left at `target` or beside it.
    """
    target = check_output_path(target, overwrite=overwrite, inputs=inputs)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(target.suffixes)
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{suffix}", dir=target.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        write(tmp)
        if tmp.exists():  # mkstemp / mkdtemp make owner-only entries; give the output the usual umask mode
            os.chmod(tmp, (0o777 if tmp.is_dir() else 0o666) & ~_umask())
        if directory and target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        os.replace(tmp, target)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise
    return target
