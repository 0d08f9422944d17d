"""The web UI (`mrigan ui`): a Gradio app on top of `mrigan.inference`, `mrigan.baselines` and `mrigan.physics`
(and the bench's runner of super-resolution models, so the page's SR scores are the bench's).

The UI holds no image logic of its own. `pipeline` turns an upload and the page's choices into a restored
region (pure functions, testable without a browser), `render` makes the display images, `export` writes the
downloads, `workspace` owns the one temporary folder the server may write to, and `app` wires it into Gradio.
Importing this package is cheap: gradio is imported by `build_app` and `serve` only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mrigan.ui.app import build_app, serve
    from mrigan.ui.workspace import UISettings

__all__ = ["UISettings", "build_app", "serve"]

_LAZY = {"build_app": "mrigan.ui.app", "serve": "mrigan.ui.app", "UISettings": "mrigan.ui.workspace"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
