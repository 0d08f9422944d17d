"""Image quality metrics with an explicit data range and optional masks, and bootstrap summaries.

`psnr`, `ssim`, `ms_ssim` need `data_range=` (no default); masks are boolean arrays, an empty one is an error.
`score` gives every metric over the whole image and inside named masks; `summarise` turns per-slice scores
into per-group means with bootstrap confidence intervals.
"""

from __future__ import annotations

from mrigan.metrics.image import mae, ms_ssim, mse, nrmse, psnr, score, ssim, ssim_map
from mrigan.metrics.stats import bootstrap_ci, format_markdown_table, summarise

__all__ = [
    "bootstrap_ci",
    "format_markdown_table",
    "mae",
    "ms_ssim",
    "mse",
    "nrmse",
    "psnr",
    "score",
    "ssim",
    "ssim_map",
    "summarise",
]
