"""The page's panels of a result and its figure; window / level, orientation, difference and overlay images come
from `mrigan.display` (shared with the export packs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

# the display helpers live in mrigan.display (the export packs use them too); the UI imports them from here
from mrigan.display import (  # noqa: F401
    OVERLAY_ALPHA,
    auto_window,
    colour,
    difference_rgb,
    grey,
    orient,
    overlay_rgb,
    resize_nearest,
    save_png,
    symmetric_limit,
    unorient,
)

if TYPE_CHECKING:
    from mrigan.ui.pipeline import Outcome


@dataclass
class Panels:
    """The images of one result, as displayed (uint8 grey or RGB)."""

    input: np.ndarray
    output: np.ndarray
    difference: np.ndarray
    uncertainty: np.ndarray | None
    target: np.ndarray | None
    error: np.ndarray | None


@dataclass
class Planes:
    """The shown plane of each map of a result, turned for display, in working units (what the page keeps)."""

    input: np.ndarray
    output: np.ndarray
    uncertainty: np.ndarray | None
    target: np.ndarray | None

    @classmethod
    def of(cls, outcome: Outcome) -> Planes:
        region = outcome.region

        def shown(array: np.ndarray | None) -> np.ndarray | None:
            return None if array is None else orient(region.plane(array), region.orientation)

        return cls(shown(outcome.shown_input), shown(outcome.output), shown(outcome.uncertainty),
                   shown(outcome.target))


def panels(planes: Planes, level: float, width: float) -> Panels:
    """The display images of a result through the window (level, width).

    The difference is output - input (what the method changed; for SR, against the input repeated onto the
    output's grid), the error output - target; the uncertainty is laid over the output.
    """
    output = grey(planes.output, level, width)
    target = planes.target
    return Panels(
        input=grey(planes.input, level, width), output=output,
        difference=difference_rgb(planes.output, resize_nearest(planes.input, planes.output.shape)),
        uncertainty=None if planes.uncertainty is None else overlay_rgb(output, planes.uncertainty),
        target=None if target is None else grey(target, level, width),
        error=None if target is None else difference_rgb(planes.output, target),
    )


def save_figure(outcome: Outcome, path: Path, level: float, width: float) -> Path:
    """A PNG figure of the result: input, output, difference, uncertainty and error, with metrics and notice."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import mrigan

    images = panels(Planes.of(outcome), level, width)
    shown = [("input (method's view)", images.input), ("output", images.output),
             ("output - input", images.difference)]
    shown += [(title, image) for title, image in (("uncertainty (std)", images.uncertainty),
                                                  ("target", images.target), ("output - target", images.error))
              if image is not None]
    figure, axes = plt.subplots(1, len(shown), figsize=(3.2 * len(shown), 3.8), squeeze=False)
    for axis, (title, image) in zip(axes[0], shown, strict=True):
        axis.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
        axis.set_title(title, fontsize=9)
        axis.axis("off")
    figure.suptitle(f"{outcome.scan.name} - {outcome.request.task} with {outcome.method['name']}: "
                    f"{format_metrics(outcome.metrics) or 'no target'}", fontsize=10)
    figure.text(0.5, 0.02, mrigan.RESEARCH_NOTICE, ha="center", fontsize=8, color="#a00")
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


def format_metrics(metrics: dict[str, float]) -> str:
    """"PSNR 31.20 dB, SSIM 0.912 (input: PSNR 26.02 dB, SSIM 0.601)", or "" without a target."""
    if not metrics:
        return ""
    text = f"PSNR {metrics['psnr']:.2f} dB, SSIM {metrics['ssim']:.3f}"
    if "input_psnr" in metrics:
        text += f" (input: PSNR {metrics['input_psnr']:.2f} dB, SSIM {metrics['input_ssim']:.3f})"
    return text
