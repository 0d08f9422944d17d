from __future__ import annotations

import numpy as np
import pytest

from mrigan.baselines import BASELINES, TASKS, Method, baselines_for
from mrigan.physics.base import Degraded


@pytest.mark.parametrize("name", list(BASELINES))
def test_every_baseline_describes_itself(name):
    method = BASELINES[name]()
    assert isinstance(method, Method)
    assert method.name == name
    assert method.task in TASKS
    assert method.per in ("slice", "volume")
    reason = method.available()
    assert reason is None or (isinstance(reason, str) and reason)


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("name", list(BASELINES))
def test_every_baseline_returns_the_source_shape(run_method, name, ndim):
    clean, degraded, restored = run_method(name, ndim)
    assert restored.shape == clean.shape == degraded.source_shape
    assert restored.dtype == np.float32
    assert np.isfinite(restored).all()


@pytest.mark.parametrize("task", TASKS)
def test_baselines_for_a_task(task):
    methods = baselines_for(task)
    assert methods, task
    assert {method.task for method in methods} == {task}
    assert [m.name for m in methods] == [name for name in BASELINES if BASELINES[name]().task == task]


def test_unknown_task_is_an_error():
    with pytest.raises(ValueError, match="unknown task"):
        baselines_for("colourise")


def test_unavailable_method_says_why_and_refuses_to_run(clean_2d):
    method = BASELINES["histmatch"]()
    assert "reference" in method.available()
    with pytest.raises(RuntimeError, match="reference"):
        method(Degraded(image=clean_2d, source_shape=clean_2d.shape))


def test_missing_optional_package_is_reported(monkeypatch):
    import importlib.util

    from mrigan.baselines import BM3D

    real_find_spec = importlib.util.find_spec
    def find_spec(name: str, *args):
        return None if name == "bm3d" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert BM3D().available() == "bm3d not installed (pip install 'mrigan[bm]')"
