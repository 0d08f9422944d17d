"""Seeded, single-threaded torch for the network tests.

Tiny tensors gain nothing from intra-op threads, and on a busy 2-core machine OpenMP's spinning threads made
these tests 20x slower; the previous thread count is restored after each test.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def seeded_single_thread_torch():
    """Every test starts from the same random state and runs on one intra-op thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)
