"""The shipped-model catalog: where cards are found, what `list_models` reports, how names resolve."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mrigan import models_catalog
from mrigan.errors import InputError


@pytest.fixture()
def catalog(tmp_path, tiny_card, monkeypatch) -> Path:
    for path in (tiny_card, tiny_card.with_suffix(".safetensors")):
        shutil.copy(path, tmp_path / path.name)
    monkeypatch.setenv(models_catalog.MODELS_DIR_VARIABLE, str(tmp_path))
    monkeypatch.setattr(models_catalog, "SHIPPED_MODELS", {"tiny": tiny_card.name, "gone": "gone.json"})
    return tmp_path


def test_list_models_reports_present_and_missing(catalog, tiny_card):
    import json

    card = json.loads(tiny_card.read_text())
    records = {record["name"]: record for record in models_catalog.list_models()}
    tiny, gone = records["tiny"], records["gone"]
    assert tiny["present"] and tiny["task"] == "restore" and tiny["sha256"] == card["sha256"]
    assert tiny["metrics"]["psnr"] == 31.5 and tiny["size_mb"] >= 0 and tiny["path"] == str(catalog / tiny_card.name)
    assert not gone["present"] and gone["missing"] == "model card"
    json.dumps(list(records.values()))  # JSON-friendly


def test_resolve_model(catalog, tiny_card, tmp_path):
    assert models_catalog.resolve_model("tiny") == catalog / tiny_card.name
    assert models_catalog.resolve_model(tiny_card) == tiny_card
    with pytest.raises(InputError, match="not a shipped model name"):
        models_catalog.resolve_model("no-such-model")
    with pytest.raises(InputError, match="missing"):
        models_catalog.resolve_model("gone")


def test_default_models_dir_is_the_repository_models_folder(monkeypatch):
    import mrigan

    monkeypatch.delenv(models_catalog.MODELS_DIR_VARIABLE, raising=False)
    assert models_catalog.models_dir() == Path(mrigan.__file__).resolve().parents[2] / "models"
