"""Fixtures of the search-strategy tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="package")
def _one_torch_thread() -> Iterator[None]:
    """PolicyBasedRL works on tensors of a few dozen numbers: on a busy shared machine torch's
    thread pool makes each op ~30x slower, so these tests run torch on one thread."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
