"""The UI's settings and the one temporary folder it may read uploads from and write results to."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from mrigan.errors import InputError, UsageError


@dataclass
class UISettings:
    """What `mrigan ui` is started with.

    Attributes:
        models: model names or card / weights paths offered beside the shipped models (`--model`).
        max_upload_mb: the largest upload accepted, all files of one request together.
        concurrency: restorations running at once; further requests wait in the queue.
        queue_size: requests that may wait; more are refused with a "queue full" message.
        keep_minutes: results and uploads older than this are deleted.
        device: where models run ("auto", "cpu", "cuda", "cuda:N").
        temp_parent: folder to create the UI's own temporary folder in (default: the system's).
    """

    models: list[str] = field(default_factory=list)
    max_upload_mb: float = 50.0
    concurrency: int = 2
    queue_size: int = 32
    keep_minutes: float = 10.0
    device: str = "auto"
    temp_parent: Path | None = None

    def __post_init__(self) -> None:
        if not self.max_upload_mb > 0:
            raise UsageError(f"--max-upload-mb {self.max_upload_mb}: must be > 0")
        if self.concurrency < 1:
            raise UsageError(f"--concurrency {self.concurrency}: must be at least 1")
        if self.queue_size < 1:
            raise UsageError(f"--queue-size {self.queue_size}: must be at least 1")
        if not self.keep_minutes > 0:
            raise UsageError(f"--keep-minutes {self.keep_minutes}: must be > 0")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


class Workspace:
    """A fresh temporary folder owned by one UI server: uploads (Gradio's cache) and one folder per request.

    Nothing outside it is read from an upload's path or written to; `close()` removes it entirely.

    Args:
        parent: where to create it (default: the system's temporary folder).
        keep_seconds: request folders older than this are removed by `prune` (called on every request).
    """

    def __init__(self, parent: Path | None = None, *, keep_seconds: float = 600.0) -> None:
        if parent is not None:
            Path(parent).mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="mrigan-ui-", dir=parent)).resolve()
        self.uploads = self.root / "uploads"
        self.requests = self.root / "requests"
        self.uploads.mkdir()
        self.requests.mkdir()
        self.keep_seconds = keep_seconds
        self._lock = threading.Lock()

    def new_request(self) -> Path:
        """A new, empty folder for one request's files (old ones are pruned first)."""
        self.prune()
        return Path(tempfile.mkdtemp(prefix="run-", dir=self.requests))

    def prune(self, now: float | None = None) -> list[Path]:
        """Remove request folders and uploads older than `keep_seconds`; returns what was removed."""
        now = time.time() if now is None else now
        removed = []
        with self._lock:
            for base in (self.requests, self.uploads):
                for entry in list(base.iterdir()) if base.exists() else []:
                    try:
                        old = now - entry.stat().st_mtime > self.keep_seconds
                    except FileNotFoundError:
                        continue
                    if old:
                        shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
                        removed.append(entry)
        return removed

    def check_inside(self, path: str | Path) -> Path:
        """`path` resolved, when it lies inside this workspace.

        Raises:
            InputError: it lies elsewhere (the UI reads no other path on the server).
        """
        resolved = Path(path).resolve()
        if not resolved.is_relative_to(self.root):
            raise InputError(Path(path).name, "not a file uploaded to this server")
        return resolved

    def close(self) -> None:
        """Remove the whole folder."""
        shutil.rmtree(self.root, ignore_errors=True)
