"""Shared helpers of the benchmark scripts: machine tag and result writing."""

from __future__ import annotations

import csv
import os
import platform
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine_tag() -> str:
    """e.g. ``cpu2-py3.11-torch2.13.0``: the hardware and versions a result was measured on."""
    import torch

    torch_version = torch.__version__.split("+")[0]
    return f"cpu{os.cpu_count()}-py{sys.version_info.major}.{sys.version_info.minor}-torch{torch_version}"


def machine_line() -> str:
    """One human line describing the machine."""
    import torch

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, torch {torch.__version__}"
    )


def write_results(name: str, rows: list[dict[str, object]], markdown: str) -> tuple[Path, Path]:
    """Write ``rows`` as CSV and ``markdown`` next to it, both tagged with the machine."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = f"{name}-{machine_tag()}"
    csv_path, md_path = RESULTS / f"{stem}.csv", RESULTS / f"{stem}.md"
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    md_path.write_text(markdown)
    return csv_path, md_path
