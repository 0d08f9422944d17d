"""The Gradio page of `mrigan ui`: controls, result panes and downloads wired to `mrigan.ui.pipeline`.

One UI server per process: Gradio finds its upload folder through the GRADIO_TEMP_DIR variable, which
`build_app` points into the server's own `Workspace` (and which must stay set while it serves).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import mrigan
from mrigan.errors import MriganError, UsageError
from mrigan.ui import pipeline
from mrigan.ui.methods import TASK_LABELS, TASKS, Methods
from mrigan.ui.render import Planes, auto_window, format_metrics, grey, orient, panels, save_png, unorient
from mrigan.ui.workspace import UISettings, Workspace

if TYPE_CHECKING:
    import gradio as gr

log = logging.getLogger("mrigan.ui")

TITLE = "mrigan: enhance MRI"
NO_TARGET = ("No target: tick **Add degradation** (the clean input becomes the target) or upload a ground "
             "truth to see PSNR / SSIM (to translate: a target scan on the input's grid).")
#: The slice slider's range before a volume sets it (API calls are checked against the initial range).
MAX_SLICES = 4096
CSS = "#notice {border-left: 4px solid #b00; padding-left: 8px} #compare {font-size: 1.1em}"


def painted_mask(value: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """Pixels painted on the mask editor (True = missing), on a displayed plane of `shape`; None if none.

    Args:
        value: the ImageEditor's value: a dict with "layers" (arrays, RGBA or grey) or None.
        shape: the displayed plane's (rows, columns); layers of another size are resampled (nearest).
    """
    from mrigan.ui.render import resize_nearest

    layers = [np.asarray(layer) for layer in (value or {}).get("layers") or [] if layer is not None]
    painted = np.zeros(shape, bool)
    for layer in layers:
        rgba = layer.ndim == 3 and layer.shape[2] == 4
        ink = layer[..., 3] > 0 if rgba else layer.reshape((*layer.shape[:2], -1)).any(axis=-1)
        painted |= resize_nearest(ink, shape) if ink.shape != shape else ink
    return painted if painted.any() else None


def upload_paths(files: Any) -> list[Path]:
    """Paths of a gr.File value (None, one path, or a list of paths / file objects)."""
    if files is None:
        return []
    items = files if isinstance(files, (list, tuple)) else [files]
    return [Path(getattr(item, "name", item)) for item in items]


def user_errors(function: Callable[..., Any]) -> Callable[..., Any]:
    """Show mrigan's user errors as a visible message on the page, and anything else as an internal error."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import gradio as gr

        try:
            return function(*args, **kwargs)
        except gr.Error:
            raise
        except MriganError as error:
            raise gr.Error(str(error), title=error.kind.capitalize(), print_exception=False) from None
        except Exception as error:  # a bug: log it, show one line, never a traceback
            log.exception("mrigan ui: %s failed", function.__name__)
            raise gr.Error(f"internal error ({type(error).__name__}); the server log has the details",
                           title="Internal error", print_exception=False) from None

    return wrapper


class Handlers:
    """The page's event handlers; they read uploads only from the workspace and write only into it.

    Images go to the page as PNG files written into a fresh request folder, never as arrays: Gradio caches
    arrays under a hash of their bytes, rewriting the file in place, so two requests showing the same image
    (the same target, say) could truncate it under a download in flight.
    """

    def __init__(self, settings: UISettings, methods: Methods, workspace: Workspace) -> None:
        self.settings, self.methods, self.workspace = settings, methods, workspace

    # ------------------------------------------------------------------------------------------------ inputs

    def scans(self, files: Any, sample: str | None) -> list[pipeline.Scan]:
        """The uploaded scans (checked to lie in the workspace), else the sample."""
        paths = [self.workspace.check_inside(path) for path in upload_paths(files)]
        if paths:
            key = hashlib.sha256("\n".join(map(str, paths)).encode()).hexdigest()[:16]
            return pipeline.read_uploads(paths, max_bytes=self.settings.max_upload_bytes,
                                         folder=self.workspace.uploads / f"series-{key}")
        if sample:
            return [pipeline.read_sample(sample)]
        raise UsageError("no input: upload a scan (PNG, JPEG, TIFF, DICOM or NIfTI) or pick a sample")

    def target(self, file: Any) -> pipeline.Scan | None:
        paths = [self.workspace.check_inside(path) for path in upload_paths(file)]
        if not paths:
            return None
        (scan,) = pipeline.read_uploads(paths[:1], max_bytes=self.settings.max_upload_bytes,
                                        folder=self.workspace.uploads)
        return scan

    def inspect(self, files: Any, sample: str | None, axis: int, index: float | None, whole: bool) -> tuple:
        """A new input, axis or slice: the slice slider, the input preview, the mask editor and the window.

        The window is set on the units the restoration will use (the slice's or, for the whole volume, the
        volume's maximum = 1).
        """
        import gradio as gr

        if not upload_paths(files) and not sample:
            return (gr.update(visible=False), gr.update(visible=False), gr.update(visible=False), "", None, None,
                    gr.update(), gr.update())
        scans = self.scans(files, sample)
        scan = scans[0]
        is_volume = scan.volume.ndim == 3
        count = pipeline.slice_count(scan.volume, int(axis))
        index = count // 2 if index is None or not 0 <= int(index) < count else int(index)
        region = pipeline.select_region(scan, axis=int(axis), index=index, whole=bool(whole) and is_volume)
        plane = orient(region.plane(region.data), region.orientation) / max(float(np.max(region.data)), 1e-12)
        level, width = auto_window(plane)
        preview = save_png(grey(plane, level, width), self.workspace.new_request() / "preview.png")
        status = "  \n".join(s.describe() for s in scans)
        if len(scans) > 1:
            status += f"  \n**Batch of {len(scans)}**: all are restored with the same settings; the first is shown."
        return (gr.update(visible=is_volume, maximum=max(count - 1, 1), value=index),
                gr.update(visible=is_volume), gr.update(visible=is_volume), status, preview,
                {"background": str(preview), "layers": [], "composite": None},
                gr.update(value=round(level, 4)), gr.update(value=round(width, 4)))

    def inspect_new(self, files: Any, sample: str | None, axis: int, index: float | None, whole: bool) -> tuple:
        """`inspect` of a new input or axis: the middle slice."""
        return self.inspect(files, sample, axis, None, whole)

    # ------------------------------------------------------------------------------------------------ running

    def restore(
        self, files: Any, sample: str | None, target_file: Any, axis: int, index: float | None, whole: bool,
        task: str, method: str | None, degrade: bool, noise: float, hole: float, factor: float, seed: float,
        uncertainty: bool, editor: Any, level: float, width: float,
    ) -> tuple:
        """Restore every input with the page's choices; returns the panes, the downloads and the state."""
        from mrigan.ui.export import write_downloads

        start = time.perf_counter()
        if not method:
            raise UsageError(f"no method for {task}: pick one in the list")
        scans = self.scans(files, sample)
        target = self.target(target_file)
        outcomes = []
        for scan in scans:
            request = pipeline.Request(
                task=task, method=method, axis=int(axis), index=None if index is None else int(index),
                whole=bool(whole), noise_percent=float(noise), hole=int(hole), factor=int(factor),
                degrade=bool(degrade), seed=int(seed or 0), uncertainty=bool(uncertainty),
            )
            if scan is scans[0] and task == "inpaint":
                request.drawn_mask = self._drawn(editor, scan, request)
            outcomes.append(pipeline.restore(scan, request, self.methods, target=target))
        folder = self.workspace.new_request()
        enhanced, pack = write_downloads(outcomes, folder, level, width)
        summary = self.summary(outcomes, time.perf_counter() - start)
        shown = Planes.of(outcomes[0])  # what the page keeps to redraw with another window
        return (*self.images(shown, level, width, folder), self.compare(outcomes[0]), summary,
                _json_safe(self.details(outcomes[0])), enhanced, pack, shown)

    def _drawn(self, editor: Any, scan: pipeline.Scan, request: pipeline.Request) -> np.ndarray | None:
        region = pipeline.select_region(scan, axis=request.axis, index=request.index)
        shown_shape = orient(region.plane(region.data), region.orientation).shape
        painted = painted_mask(editor, shown_shape)
        return None if painted is None else unorient(painted, region.orientation)

    def redisplay(self, shown: Planes | None, level: float, width: float) -> tuple:
        """New window / level: the panes again, without running anything."""
        import gradio as gr

        if shown is None:
            return (gr.update(),) * 6
        return self.images(shown, level, width, self.workspace.new_request())

    @staticmethod
    def images(shown: Planes, level: float, width: float, folder: Path) -> tuple:
        """The panes as PNG files in `folder` (None for a pane without an image)."""
        images = vars(panels(shown, float(level), float(width)))
        return tuple(save_png(image, folder / f"{name}.png") for name, image in images.items())

    @staticmethod
    def compare(outcome: pipeline.Outcome) -> str:
        if not outcome.metrics:
            return NO_TARGET
        source = ("the clean input (a degradation was added)" if outcome.request.degrade
                  else "the target scan given, scaled by its own maximum" if outcome.request.task == "translate"
                  else "the ground truth given")
        return f"**{format_metrics(outcome.metrics)}**  \nTarget: {source}."

    @staticmethod
    def summary(outcomes: Sequence[pipeline.Outcome], total: float) -> str:
        method = outcomes[0].method
        sha = method.get("sha256")
        lines = [f"**Latency**: {sum(o.seconds for o in outcomes):.2f} s in the method, {total:.2f} s in all "
                 f"({len(outcomes)} input{'s' if len(outcomes) > 1 else ''})",
                 f"**Method**: {method['name']} ({method['kind']})"
                 + (f", sha256 `{sha}`" if sha else ", no weights"),
                 f"*{mrigan.RESEARCH_NOTICE}*"]
        return "  \n".join(lines)

    @staticmethod
    def details(outcome: pipeline.Outcome) -> dict[str, Any]:
        return {"method": outcome.method, "metrics": outcome.metrics, "seconds": outcome.seconds,
                "degradation": outcome.degraded.params, "scan": outcome.scan.describe()}

    def method_choices(self, task: str, factor: float | None = None, current: str | None = None) -> Any:
        """The task's methods (for "sr", the models of the factor's scale); the current one stays if listed."""
        import gradio as gr

        choices = self.methods.choices(task, None if factor is None else int(factor))
        keys = [key for _, key in choices]
        return gr.update(choices=choices, value=current if current in keys else keys[0] if keys else None)

    def method_note(self, task: str, method: str | None) -> str:
        """What the chosen model expects (its scale, or its source -> target domains), shown below the list."""
        return self.methods.note(task, method or None)


def _json_safe(value: Any) -> Any:
    """`value` as plain JSON for the JSON pane: numpy scalars as numbers, inf / nan as strings."""
    from mrigan.provenance import dumps

    def plain(item: Any) -> Any:
        if isinstance(item, dict):
            return {key: plain(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [plain(inner) for inner in item]
        return str(item) if isinstance(item, float) and not np.isfinite(item) else item

    return plain(json.loads(dumps(value)))


def require_gradio() -> None:
    """Raises UsageError, saying how to install it, where gradio is missing."""
    import importlib.util

    if importlib.util.find_spec("gradio") is None:
        raise UsageError("the web UI needs gradio, which is not installed here: "
                         "pip install 'mrigan[ui]' (`make setup` installs it)")


def build_app(settings: UISettings | None = None, *, methods: Methods | None = None,
              workspace: Workspace | None = None) -> gr.Blocks:
    """The page as a `gr.Blocks`, queued, not launched.

    Args:
        settings: limits and models (default `UISettings()`).
        methods: the methods on offer (default: from `settings.models` and the shipped models).
        workspace: the temporary folder (default: a new one; removed by `serve` when it stops).
    """
    settings = settings or UISettings()
    require_gradio()
    methods = methods or Methods(settings.models, device=settings.device)  # a bad --model fails here, at once
    workspace = workspace or Workspace(settings.temp_parent, keep_seconds=60 * settings.keep_minutes)
    os.environ["GRADIO_TEMP_DIR"] = str(workspace.uploads)
    import gradio as gr

    from mrigan.data.samples import SAMPLES, available_samples

    handlers = Handlers(settings, methods, workspace)
    keep = int(60 * settings.keep_minutes)
    first_choices = methods.choices("denoise")
    with gr.Blocks(title=TITLE, delete_cache=(max(keep // 2, 60), keep)) as app:
        gr.Markdown(f"# {TITLE}\nRestore a scan, look at the evidence beside it, and download it.")
        gr.Markdown(f"**{mrigan.RESEARCH_NOTICE}**", elem_id="notice")
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                files = gr.File(label=f"Scan(s): PNG, JPEG, TIFF, DICOM (several files = a series) or NIfTI; "
                                f"at most {settings.max_upload_mb:g} MB", file_count="multiple",
                                elem_id="input-files")
                sample = gr.Dropdown([("none: use the upload", "")] + [(f"{n}: {SAMPLES[n]}", n)
                                                                     for n in available_samples()],
                                     value="", label="...or a sample scan", elem_id="sample")
                status = gr.Markdown(elem_id="status")
                axis = gr.Radio([(name, i) for i, name in enumerate(pipeline.AXIS_NAMES)], value=2,
                                label="Slice axis", visible=False)
                index = gr.Slider(0, MAX_SLICES, value=0, step=1, label="Slice", visible=False, elem_id="slice")
                whole = gr.Checkbox(False, label="Restore the whole volume (slow on CPU)", visible=False)
                task = gr.Radio([(TASK_LABELS[t], t) for t in TASKS], value="denoise", label="Task",
                                elem_id="task")
                # any value is let through to the handler, which names what is wrong with it (a model of another
                # scale, say); Gradio would only answer "not in the list of choices" of the first task
                method = gr.Dropdown(first_choices, value=first_choices[0][1] if first_choices else None,
                                     label="Model or method", elem_id="method", allow_custom_value=True)
                method_note = gr.Markdown(methods.note("denoise", first_choices[0][1] if first_choices else None),
                                          elem_id="method-note")
                uncertainty = gr.Checkbox(False, label="Uncertainty map (restoration models: MC dropout or test-time "
                                          "augmentation, 8 passes)")
                with gr.Accordion("Add degradation (try a clean scan: it becomes the target)", open=True):
                    degrade = gr.Checkbox(False, label="Add degradation", elem_id="degrade")
                    noise = gr.Slider(0, pipeline.MAX_NOISE_PERCENT, value=5, step=0.5,
                                      label="Rician noise, % of the maximum")
                    hole = gr.Slider(0, 256, value=0, step=1, label="Centred square hole, pixels (0: none)")
                    factor = gr.Slider(1, pipeline.MAX_FACTOR, value=1, step=1, elem_id="factor",
                                       label="Resolution factor (SR: downsampling, or upscaling without "
                                       "degradation; SR models are listed at their own scale; denoise / "
                                       "inpaint: k-space truncation)")
                    seed = gr.Number(0, label="Seed", precision=0)
                with gr.Accordion("Inpainting mask: paint the missing pixels (default: a centred square)",
                                  open=False):
                    editor = gr.ImageEditor(type="numpy", sources=(), transforms=(), layers=False,
                                            brush=gr.Brush(colors=["#ff0000"], color_mode="fixed"),
                                            label="Paint missing pixels", elem_id="mask-editor")
                target_file = gr.File(label="Ground truth (optional, same grid as the input)",
                                      elem_id="target-file")
                run = gr.Button("Restore", variant="primary", elem_id="run")
            with gr.Column(scale=2):
                with gr.Row():
                    input_image = gr.Image(label="Input (what the method sees)", elem_id="input-image")
                    output_image = gr.Image(label="Output", elem_id="output-image")
                with gr.Row():
                    difference_image = gr.Image(label="Difference: output - input (red +, blue -)")
                    uncertainty_image = gr.Image(label="Uncertainty (std) over the output")
                with gr.Row():
                    level = gr.Slider(-0.5, 1.5, value=0.5, step=0.001, label="Window level", elem_id="window-level")
                    width = gr.Slider(0.001, 2.0, value=1.0, step=0.001, label="Window width", elem_id="window-width")
                with gr.Group():
                    gr.Markdown("### Compare with target")
                    compare = gr.Markdown(NO_TARGET, elem_id="compare")
                    with gr.Row():
                        target_image = gr.Image(label="Target")
                        error_image = gr.Image(label="Error: output - target")
                summary = gr.Markdown(elem_id="summary")
                details = gr.JSON(label="Model / method: name, sha256, config; metrics; degradation")
                with gr.Row():
                    enhanced = gr.DownloadButton("Download enhanced scan", elem_id="download-enhanced")
                    pack = gr.DownloadButton("Download export pack (zip)", elem_id="download-pack")
        kept = gr.State(None)  # the shown planes of the last result

        source = [files, sample, axis, index, whole]
        previews = [index, axis, whole, status, input_image, editor, level, width]
        inspect = user_errors(handlers.inspect)
        inspect_new = user_errors(handlers.inspect_new)
        # a new upload replaces the sample (and the other way round); a new input or axis starts mid-volume
        files.upload(lambda: "", None, sample, queue=False).then(
            inspect_new, source, previews, concurrency_limit=None)
        sample.input(lambda: None, None, files, queue=False).then(
            inspect_new, source, previews, concurrency_limit=None)
        axis.input(inspect_new, source, previews, concurrency_limit=None)
        files.clear(inspect, source, previews, concurrency_limit=None)
        index.release(inspect, source, previews, concurrency_limit=None)
        whole.input(inspect, source, previews, concurrency_limit=None)
        for control in (task, factor):  # "sr" lists the models of the factor's scale
            control.change(user_errors(handlers.method_choices), [task, factor, method], method, queue=False)
        method.change(user_errors(handlers.method_note), [task, method], method_note, queue=False)
        shown = [input_image, output_image, difference_image, uncertainty_image, target_image, error_image]
        run.click(
            user_errors(handlers.restore),
            [files, sample, target_file, axis, index, whole, task, method, degrade, noise, hole, factor, seed,
             uncertainty, editor, level, width],
            [*shown, compare, summary, details, enhanced, pack, kept],
            api_name="restore", concurrency_id="restore", concurrency_limit=settings.concurrency,
        )
        for control in (level, width):
            control.release(user_errors(handlers.redisplay), [kept, level, width], shown,
                            concurrency_limit=None)
    app.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency)
    app.mrigan_workspace = workspace  # type: ignore[attr-defined]
    return app


def serve(settings: UISettings | None = None, *, host: str = "127.0.0.1", port: int | None = None,
          block: bool = True, quiet: bool = False) -> tuple[gr.Blocks, str]:
    """Build and launch the page; the workspace is removed when the server stops.

    Args:
        settings: limits and models.
        host: interface to listen on (default: this machine only).
        port: port (None: Gradio's first free one from 7860).
        block: serve until interrupted or killed (False: return at once, e.g. in tests; `app.close()` stops it
            and the workspace goes at exit, or with `app.mrigan_workspace.close()`).
        quiet: no start-up banner.

    Returns:
        (the app, its local URL).
    """
    import atexit
    import signal
    import sys

    settings = settings or UISettings()
    app = build_app(settings)
    workspace: Workspace = app.mrigan_workspace  # type: ignore[attr-defined]
    atexit.register(workspace.close)
    try:
        _, url, _ = app.launch(
            server_name=host, server_port=port, prevent_thread_lock=True, quiet=True, show_error=False,
            max_file_size=settings.max_upload_bytes, footer_links=[], css=CSS,
            allowed_paths=[str(workspace.requests)], ssr_mode=False, mcp_server=False,
        )
    except OSError as error:
        workspace.close()
        raise UsageError(f"cannot serve on {host}:{port} ({error}); pick another --port") from None
    if not quiet:
        print(f"mrigan ui: serving on {url} (temporary files in {workspace.root}; Ctrl+C stops)\n"
              f"{mrigan.RESEARCH_NOTICE}", file=sys.stderr, flush=True)
    if block:
        signal.signal(signal.SIGTERM, _interrupt)  # `kill` cleans up as Ctrl+C does
        try:
            app.block_thread()
        finally:
            app.close()
            workspace.close()
    return app, url


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
