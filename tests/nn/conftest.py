"""Seeded, single-threaded torch for the network tests.

Tiny tensors gain nothing from intra-op threads, and on a busy 2-core machine OpenMP's spinning threads made
these tests 20x slower; the previous thread count is restored after each test.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def single_thread(seeded_single_thread_torch):
    """Every test here runs seeded on one thread (the fixture is in tests/conftest.py)."""
    yield
