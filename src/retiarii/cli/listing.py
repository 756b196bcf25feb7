"""``retiarii list [ROOT]``: the experiments under a working directory, one line each."""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from ._common import format_metric
from .main import CommandError

__all__ = ["find_experiments", "register"]

_COLUMNS = (
    "ID",
    "NAME",
    "STRATEGY",
    "STATUS",
    "TRIALS",
    "FAILED",
    "EARLY-STOPPED",
    "BEST",
    "ELAPSED",
    "CREATED",
)


def find_experiments(root: Path) -> list[dict[str, Any]]:
    """One entry per experiment directory in ``root`` (or ``root`` itself), oldest first.

    An experiment whose store cannot be read is listed with status ``unreadable`` and the reason.
    """
    from ..dashboard.views import list_entry
    from ..store import DEFAULT_FILENAME, DamagedRecordError, ExperimentStore, StoreError

    if (root / DEFAULT_FILENAME).is_file():
        directories = [root]
    else:
        directories = sorted(p for p in root.iterdir() if (p / DEFAULT_FILENAME).is_file())
    entries = []
    for directory in directories:
        try:
            with ExperimentStore(directory / DEFAULT_FILENAME, readonly=True) as store:
                entries.append(list_entry(directory, store))
        except (StoreError, OSError, sqlite3.DatabaseError) as exc:
            # one bad experiment must not hide the others: list it with the reason
            damaged = isinstance(exc, (DamagedRecordError, sqlite3.DatabaseError))
            entries.append(
                {
                    "id": directory.name,
                    "path": str(directory),
                    "status": "damaged" if damaged else "unreadable",
                    "error": str(exc),
                    "created_at": None,
                }
            )
    entries.sort(key=lambda e: (e.get("created_at") is None, e.get("created_at") or 0, e["id"]))
    return entries


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\x1b``, ``\\n``): a name or an error
    from an experiment directory must not move the cursor or recolour the terminal."""
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def _cut(text: str, width: int) -> str:
    text = printable(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _oneshot_cells(oneshot: dict[str, Any]) -> tuple[str, str]:
    """TRIALS and BEST of a one-shot search: epochs trained (of the planned ones) and the
    headline metric with its name (the newest export's, ``-`` if it has none, else the last
    epoch's)."""
    done, planned = oneshot["epochs_done"], oneshot["max_epochs"]
    epochs = f"{done}/{planned} epochs" if planned is not None else f"{done} epochs"
    metric, exported = oneshot["metric"], oneshot["exported"]
    value = exported["value"] if exported is not None else metric and metric["value"]
    best = format_metric(value)
    if metric is not None and value is not None:
        best += f" {metric['name']} ({metric['optimize_mode'][:3]})"
    return epochs, best


def _row(entry: dict[str, Any]) -> tuple[str, ...]:
    if entry["status"] in ("unreadable", "damaged"):
        error = printable(entry["error"])
        return (printable(entry["id"]), "-", "-", entry["status"], *("-",) * 5, error[:80])
    p = entry["progress"]
    trials = f"{p['ended']}/{p['budget']}" if p["budget"] is not None else str(p["ended"])
    if p["running"] or p["waiting"]:
        trials += f" (+{p['running'] + p['waiting']})"
    failed, early = str(p["failed"]), str(p.get("early_stopped", 0))
    best = format_metric(entry["best"])
    if entry["best_trial"] is not None:
        best += f" (#{entry['best_trial']})"
    if entry.get("oneshot") is not None:  # one supernet: epochs, not trials
        trials, best = _oneshot_cells(entry["oneshot"])
        failed = early = "-"
    created = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry["created_at"]))
    return (
        printable(entry["id"]),
        _cut(entry["name"], 30),
        _cut(entry.get("strategy") or "-", 32),
        entry["status"],
        trials,
        failed,
        early,
        best,
        _duration(entry["elapsed"]),
        created,
    )


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def run(args: argparse.Namespace) -> int:
    """Print the table (or JSON)."""
    from ..experiment.config import default_working_directory

    root = Path(args.root).expanduser() if args.root else default_working_directory()
    if not root.is_dir():
        if args.root:
            raise CommandError(f"{root} is not a directory")
        entries: list[dict[str, Any]] = []
    else:
        entries = find_experiments(root)
    if args.json:
        print(json.dumps(entries, indent=2))
    elif not entries:
        print(f"no experiments in {root}")
    else:
        _print_table([_COLUMNS, *(_row(e) for e in entries)])
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``list`` subcommand."""
    parser = sub.add_parser(
        "list",
        help="list experiments with their status, trials and best metric",
        description="List the experiments under ROOT (default: $RETIARII_HOME or "
        "~/retiarii-experiments): id, name, strategy, status, trials ended of the budget "
        "(+ running), failed trials, trials stopped early by a pruner, best metric (and its "
        "trial), elapsed time, creation time. A one-shot search shows epochs trained (of the "
        "planned ones) instead of trials, and its metric by name (e.g. 0.93 val_acc (max)): the "
        "newest exported architecture's (- if it was stopped before an epoch finished), or the "
        "last epoch's while it runs, and its direction.",
    )
    parser.add_argument("root", metavar="ROOT", nargs="?", help="a working directory")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=run)
