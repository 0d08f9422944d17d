"""Confidence intervals and grouped summaries of per-slice (or per-subject) scores.

Non-finite values are dropped with a warning before anything is computed: an identical pair gives an
infinite PSNR, which would make every mean infinite. Pass `cap` to clip values instead of dropping the
infinite ones (for example `cap=100.0` for PSNR in dB); NaN is always dropped.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np


def _finite(values: Iterable[float], cap: float | None) -> np.ndarray:
    values = np.asarray(list(values), dtype=np.float64).ravel()
    if cap is not None:
        values = np.where(np.isnan(values), np.nan, np.clip(values, -cap, cap))
    finite = np.isfinite(values)
    if not finite.all():
        warnings.warn(
            f"dropped {int((~finite).sum())} of {values.size} non-finite values before summarising",
            RuntimeWarning,
            stacklevel=3,
        )
    return values[finite]


def bootstrap_ci(
    values: Iterable[float],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    statistic: Callable[..., Any] = np.mean,
    cap: float | None = None,
) -> tuple[float, float, float]:
    """Percentile bootstrap confidence interval of a statistic (scipy.stats.bootstrap).

    Resample the units that are independent: subjects, or slices when there is one subject (slices of a
    volume are correlated, so their interval is optimistic).

    Args:
        values: one score per slice or subject. NaN and +-inf are dropped with a RuntimeWarning.
        n_resamples: bootstrap resamples.
        confidence: confidence level of the two-sided interval.
        seed: seed of the resampling, so tables are reproducible.
        statistic: reduces a sample to one number; numpy reductions with an `axis` run vectorised.
        cap: clip values to [-cap, cap] first, so infinities count as `cap` instead of being dropped.

    Returns:
        (statistic of the values, low, high). With one value the interval is (nan, nan).

    Raises:
        ValueError: no finite value left.
    """
    from scipy.stats import bootstrap

    sample = _finite(values, cap)
    if sample.size == 0:
        raise ValueError("no finite value to summarise")
    point = float(statistic(sample))
    if sample.size == 1:
        return point, math.nan, math.nan
    if np.all(sample == sample[0]):  # scipy warns on a degenerate resampling distribution
        return point, point, point
    result = bootstrap(
        (sample,),
        statistic,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return point, float(interval.low), float(interval.high)


def summarise(
    records: Sequence[Mapping[str, Any]],
    group_by: Sequence[str],
    metrics: Sequence[str],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    cap: float | None = None,
) -> list[dict[str, Any]]:
    """Mean and bootstrap interval of each metric, per group of records.

    Args:
        records: one dict per scored unit, e.g. {"method": "bm3d", "class": "glioma", "psnr": 31.2, ...}.
        group_by: keys whose values define a group (e.g. ["method"] or ["method", "class"]); [] pools all.
        metrics: keys to summarise. A record without a metric is skipped for that metric.
        n_resamples: bootstrap resamples.
        confidence: confidence level.
        seed: resampling seed (the same for every group).
        cap: passed to `bootstrap_ci`.

    Returns:
        One dict per group, in order of first appearance: the group keys, "n" (records in the group) and,
        per metric, "<metric>" (mean), "<metric>_low" and "<metric>_high".
    """
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for record in records:
        groups.setdefault(tuple(record[key] for key in group_by), []).append(record)
    rows = []
    for key, members in groups.items():
        row: dict[str, Any] = dict(zip(group_by, key))
        row["n"] = len(members)
        for metric in metrics:
            values = [member[metric] for member in members if metric in member]
            if values:
                mean, low, high = bootstrap_ci(
                    values, n_resamples=n_resamples, confidence=confidence, seed=seed, cap=cap
                )
            else:
                mean = low = high = math.nan
            row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = mean, low, high
        rows.append(row)
    return rows


def format_markdown_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    digits: int | Mapping[str, int] = 3,
    with_ci: bool = True,
) -> str:
    """A GitHub-flavoured Markdown table of the given columns.

    Args:
        rows: dicts, e.g. from `summarise`.
        columns: keys to show, in order; a missing key shows as an empty cell.
        digits: decimals for floats, one number for all or per column (default 3 for unnamed ones).
        with_ci: when a row also has "<column>_low" and "<column>_high", show "mean [low, high]".

    Returns:
        The table, one line per row, ending without a newline.
    """

    def cell(row: Mapping[str, Any], column: str) -> str:
        places = digits.get(column, 3) if isinstance(digits, Mapping) else digits
        value = row.get(column, "")
        text = f"{value:.{places}f}" if isinstance(value, (float, np.floating)) else str(value)
        low, high = row.get(f"{column}_low"), row.get(f"{column}_high")
        if with_ci and isinstance(low, (float, np.floating)) and isinstance(high, (float, np.floating)):
            if np.isfinite(low) and np.isfinite(high):
                text += f" [{low:.{places}f}, {high:.{places}f}]"
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(row, column) for column in columns) + " |" for row in rows]
    return "\n".join(lines)
