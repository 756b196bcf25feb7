"""Small helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

__all__ = ["add_experiment_argument", "experiment_directory", "format_metric", "importable_cwd"]


def add_experiment_argument(parser: argparse.ArgumentParser) -> None:
    """The positional ``EXPERIMENT``: a directory, or an id under the default working dir."""
    parser.add_argument(
        "experiment",
        metavar="EXPERIMENT",
        help="an experiment directory (holding experiment.db), or an experiment id under the "
        "default working directory ($RETIARII_HOME or ~/retiarii-experiments)",
    )


def experiment_directory(experiment: str) -> Path:
    """Resolve ``EXPERIMENT``; raises ``FileNotFoundError`` with a clear message if none."""
    from ..experiment.experiment import resolve_experiment_dir

    return resolve_experiment_dir(experiment)


def importable_cwd() -> None:
    """Make the current directory importable, as ``python script.py`` would be.

    An experiment's ``experiment.pkl`` refers to the user's modules by name; they are found
    when the command runs where the experiment's script ran.
    """
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def format_metric(value: float | None) -> str:
    """A metric in at most 6 significant digits, or ``-``."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.6g}"
