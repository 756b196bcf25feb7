"""The NAS-Bench-201 table the benchmark tests read: ``../shared/data/nb201/nb201.csv.gz``
relative to the repository root (or ``$RETIARII_NB201``)."""

from __future__ import annotations

import os
from pathlib import Path

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
