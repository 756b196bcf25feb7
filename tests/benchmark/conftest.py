"""The NAS-Bench-201 table the benchmark tests read: ``../shared/data/nb201/nb201.csv.gz``
relative to the repository root (or ``$RETIARII_NB201``); loading a benchmark script as a
module; torch's thread count restored after each test (the scripts set one thread)."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_TABLE = REPO.parent / "shared" / "data" / "nb201" / "nb201.csv.gz"


def table_path() -> Path:
    env = os.environ.get("RETIARII_NB201")
    return Path(env) if env else SHARED_TABLE


@pytest.fixture(scope="session")
def nb201_path() -> Path:
    path = table_path()
    if not path.is_file():
        pytest.skip(f"NAS-Bench-201 table not found at {path} (set RETIARII_NB201)")
    return path


@pytest.fixture(autouse=True)
def _restore_torch_threads() -> Iterator[None]:
    import torch

    threads = torch.get_num_threads()  # the scripts (or their worker set-up) use one thread
    yield
    torch.set_num_threads(threads)


def load_script(file_name: str, module_name: str) -> ModuleType:
    """``benchmarks/<file_name>`` imported as ``module_name``."""
    path = REPO / "benchmarks" / file_name
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
