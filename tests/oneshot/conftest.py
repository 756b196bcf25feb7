"""One thread and a fixed seed for every one-shot test.

Training tiny models with several intra-op threads on a shared 2-core machine spends most of its
time spinning; one thread is both faster and more reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread_seeded() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    random.seed(0)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _latency_cache(tmp_path, monkeypatch) -> None:
    """Latency tables go to the test's own directory, never to the user's cache."""
    monkeypatch.setenv("RETIARII_CACHE", str(tmp_path / "cache"))
