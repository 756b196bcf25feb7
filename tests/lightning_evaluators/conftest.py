"""Fixtures for the Lightning evaluator tests.

One torch thread for the in-process training: these tests run on 2 shared CPU cores, where a second
thread mostly spins (the workers of the experiment tests get one thread each anyway). And the
temporary directory that ``evaluate()`` uses outside a trial is the test's own.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _temporary_dirs_under_tmp_path(tmp_path, monkeypatch) -> None:
    (tmp_path / "tmp").mkdir(exist_ok=True)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
