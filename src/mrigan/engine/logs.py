"""Run logs: metrics CSV files, optional TensorBoard events, and a progress bar only on a terminal."""

from __future__ import annotations

import csv
import logging
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger("mrigan.engine")


class CsvLog:
    """A metrics table (`step`, `epoch`, then every metric) kept in memory and on disk.

    Opening it keeps only the rows up to `keep_until_step`, so a resumed run overwrites what the killed run
    logged after its last checkpoint. A metric appearing later adds a column (the file is rewritten).
    """

    def __init__(self, path: Path, keep_until_step: int) -> None:
        self.path = path
        self.columns: list[str] = ["step", "epoch"]
        self.rows: list[dict[str, Any]] = []
        if path.is_file():
            with open(path, newline="") as stream:
                for row in csv.DictReader(stream):
                    try:
                        if int(row["step"]) > keep_until_step:
                            continue
                    except (KeyError, TypeError, ValueError):
                        continue
                    for key in row:
                        if key not in self.columns:
                            self.columns.append(key)
                    self.rows.append(row)
        self._rewrite()

    def append(self, row: Mapping[str, Any]) -> None:
        """Add one row; new keys become new columns."""
        new_keys = [key for key in row if key not in self.columns]
        self.rows.append(dict(row))
        if new_keys:
            self.columns.extend(new_keys)
            self._rewrite()
            return
        with open(self.path, "a", newline="") as stream:
            csv.DictWriter(stream, fieldnames=self.columns, restval="").writerow(_formatted(row))

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """(steps, values) of one column, skipping empty cells."""
        steps, values = [], []
        for row in self.rows:
            value = row.get(key, "")
            if value in ("", None):
                continue
            steps.append(int(row["step"]))
            values.append(float(value))
        return steps, values

    def metric_names(self) -> list[str]:
        return [column for column in self.columns if column not in ("step", "epoch")]

    def _rewrite(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=self.columns, restval="")
            writer.writeheader()
            for row in self.rows:
                writer.writerow(_formatted(row))


def _formatted(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: repr(value) if isinstance(value, float) else value for key, value in row.items()}


class TensorBoardLog:
    """Scalars and figures under `tb/`, if `tensorboard` is installed (otherwise one note and nothing)."""

    def __init__(self, directory: Path, purge_step: int | None) -> None:
        self.writer = None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            logger.info("tensorboard is not installed: no TensorBoard events (metrics are in metrics/*.csv)")
            return
        self.writer = SummaryWriter(log_dir=str(directory), purge_step=purge_step)

    def scalars(self, prefix: str, values: Mapping[str, float], step: int) -> None:
        if self.writer is None:
            return
        for key, value in values.items():
            if isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(f"{prefix}/{key}", value, step)

    def figure(self, tag: str, figure: Any, step: int) -> None:
        if self.writer is not None:
            self.writer.add_figure(tag, figure, step, close=False)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()


class Progress:
    """A tqdm bar with the latest losses on a terminal; nothing on a pipe or in a log file (rank 0 only)."""

    def __init__(self, total: int, initial: int, enabled: bool) -> None:
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, leave=True)

    @property
    def visible(self) -> bool:
        return self.bar is not None

    def update(self, values: Mapping[str, float]) -> None:
        if self.bar is None:
            return
        self.bar.set_postfix({key: f"{value:.4g}" for key, value in list(values.items())[:6]}, refresh=False)
        self.bar.update(1)

    def write(self, message: str) -> None:
        """Print a line above the bar (on a terminal only; the log file gets it through the logger)."""
        if self.bar is not None:
            self.bar.write(message, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
