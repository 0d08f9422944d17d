"""The shipped models: a plain dict from name to model card, and the folder the cards live in.

The folder is `$MRIGAN_MODELS_DIR` when that variable is set, else the repository's `models/` folder, found
from the package's own path (`src/mrigan/__init__.py` -> `<repo>/models`, the src layout of a checkout or an
editable install). Each card is a JSON file written by `mrigan.checkpoint.save_model`, with its
`.safetensors` weights beside it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mrigan.errors import InputError

#: Model name -> card file name, relative to `models_dir()`.
SHIPPED_MODELS: dict[str, str] = {
    "umr-gan-small": "umr_gan_small.json",  # restoration (UMR-GAN, seed 000), CPU size, models/umr_gan_small.md
    "sr-rrdb-x2": "sr_rrdb_x2.json",  # 2x super-resolution (RRDB, ESRGAN's PSNR stage, seed 002), models/sr_rrdb_x2.md
    "sr-rrdb-x4": "sr_rrdb_x4.json",  # 4x super-resolution, the same recipe with scale=4, models/sr_rrdb_x4.md
    "pix2pix-7t-9t4": "pix2pix_7t_9t4.json",  # 7 T -> 9.4 T translation (pix2pix, seed 004), models/pix2pix_7t_9t4.md
    "dcsrn-gan-7t-9t4": "dcsrn_gan_7t_9t4.json",  # 7 T -> 9.4 T, DCSRN + PatchGAN (the paired family's best GAN)
    "dcsrn-7t-9t4": "dcsrn_7t_9t4.json",  # 7 T -> 9.4 T, DCSRN alone with L1 (seed 004's CNN baseline)
    "pix2pix-t1-t2": "pix2pix_t1_t2.json",  # T1w -> T2w at 3 T (paired pix2pix, CycleGAN's upper reference)
    "cyclegan-t1-t2": "cyclegan_t1_t2.json",  # T1w -> T2w at 3 T, unpaired (CycleGAN, seed 003), CPU length
    "cyclegan-t2-t1": "cyclegan_t2_t1.json",  # T2w -> T1w, the pair's other generator (its own run)
    "cyclegan-t1-t2-robust": "cyclegan_t1_t2_robust.json",  # T1w -> T2w trained on inputs as other sequences and
    # noise levels give them (data.input_gamma / input_scale / input_noise): real T1w scans; below the first on SE
}

MODELS_DIR_VARIABLE = "MRIGAN_MODELS_DIR"
#: Keys of a card's "metrics" that hold held-out (test) metrics, in order of preference.
HELD_OUT_KEYS = ("heldout", "held_out", "test")


def models_dir() -> Path:
    """`$MRIGAN_MODELS_DIR`, else `<repo>/models` (located from the package path)."""
    configured = os.environ.get(MODELS_DIR_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    import mrigan

    return Path(mrigan.__file__).resolve().parents[2] / "models"


def resolve_model(name_or_path: str | Path) -> Path:
    """The model file behind a shipped model name, or an existing model file given by path.

    Files are checked when loaded (`mrigan.checkpoint.load_model`: card, sha256, never a pickle).

    Raises:
        InputError: a shipped model whose card is missing, or neither a shipped name nor an existing file.
    """
    name = str(name_or_path)
    if name in SHIPPED_MODELS:
        card = models_dir() / SHIPPED_MODELS[name]
        if not card.is_file():
            raise InputError(card, f"the card of shipped model {name!r} is missing (models folder: {models_dir()}; "
                             f"set {MODELS_DIR_VARIABLE} to point elsewhere)")
        return card
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    raise InputError(name, "not a shipped model name (see `mrigan models`) nor a model file")


def list_models() -> list[dict[str, Any]]:
    """One JSON-friendly record per shipped model, present or not.

    Returns:
        Dicts with name, task, sha256 (from the card), size_mb (weights), metrics (the card's held-out
        metrics, {} if none), path (the card), present (card and weights found) and, when not present,
        missing (what is).
    """
    records = []
    for name, card_name in SHIPPED_MODELS.items():
        path = models_dir() / card_name
        record: dict[str, Any] = {"name": name, "task": None, "sha256": None, "size_mb": None, "metrics": {},
                                  "path": str(path), "present": False}
        if not path.is_file():
            records.append({**record, "missing": "model card"})
            continue
        try:
            card = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            records.append({**record, "missing": f"readable model card ({error})"})
            continue
        record.update(task=card.get("task"), sha256=card.get("sha256"), metrics=held_out_metrics(card))
        weights = path.with_name(str(card.get("weights_file", "")))
        if card.get("weights_file") and weights.is_file():
            record.update(size_mb=round(weights.stat().st_size / 1e6, 2), present=True)
        else:
            record["missing"] = f"weights file {card.get('weights_file')}"
        records.append(record)
    return records


def held_out_metrics(card: dict[str, Any]) -> dict[str, Any]:
    """The card's held-out metrics: `metrics["heldout"]` (or "held_out" / "test"), else {}."""
    metrics = card.get("metrics") or {}
    for key in HELD_OUT_KEYS:
        if isinstance(metrics.get(key), dict):
            return dict(metrics[key])
    return {}
