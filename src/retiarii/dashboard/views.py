"""The dashboard's JSON views over the store: pure functions, store in, JSON-ready dicts out.

No web stack here: the ``retiarii`` command line uses these views too (``list``, ``export``), so
they import only the store and the standard library.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..store import ExperimentRecord, ExperimentStore, TrialRecord
from .oneshot import headline_name, is_oneshot, oneshot_view

__all__ = [
    "CURSOR_SLACK_S",
    "LOG_TAIL_BYTES",
    "downsample",
    "driver_alive",
    "effective_status",
    "experiment_view",
    "export_view",
    "intermediate_changes_view",
    "intermediates_view",
    "is_oneshot",
    "list_entry",
    "log_tail",
    "oneshot_view",
    "progress_view",
    "series_view",
    "slim_row",
    "space_view",
    "trial_changes_view",
    "trial_log_path",
    "trial_view",
    "trials_view",
]

#: How much of the end of a trial's log the trial page shows.
LOG_TAIL_BYTES = 20_000

#: Trial statuses that count against ``max_trial_number`` once finished (INTERRUPTED ones re-run).
_ENDED = ("SUCCEEDED", "FAILED", "TIMEOUT", "CANCELED", "EARLY_STOPPED")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


# ---------------------------------------------------------------------------------- experiment


def driver_alive(experiment_dir: Path) -> bool | None:
    """Whether a process holds the store's writer lock (``experiment.db.lock``) right now.

    The experiment driver holds an exclusive ``flock`` on that file for as long as it runs, and
    the kernel drops it when the process dies. Taking the lock to test it would race with a driver
    starting, so this reads the kernel's lock table (``/proc/locks``) instead, which is Linux-only:
    elsewhere, or if the table cannot be read, the answer is ``None`` (unknown).
    """
    lock = experiment_dir / "experiment.db.lock"
    try:
        st = lock.stat()
    except FileNotFoundError:
        return False
    except OSError:
        return None
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as fh:
            table = fh.read()
    except OSError:
        return None
    for line in table.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 fe:00:2146740 0 EOF" (blocked waiters have "->")
        if "->" not in fields and len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == key:
            return True
    return False


def effective_status(record: ExperimentRecord, alive: bool | None) -> str:
    """The status to show: a ``running`` experiment whose driver is gone was ``interrupted``."""
    if record.status == "running" and alive is False:
        return "interrupted"
    return record.status


def _duration_seconds(value: Any) -> float | None:
    """``'10m'``, ``'2h'``, ``'30s'``, ``'1.5d'`` or a number of seconds (as in the config)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if value > 0 and math.isfinite(value) else None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(value).lower())
    return float(match.group(1)) * _UNITS[match.group(2) or "s"] if match else None


def _elapsed(store: ExperimentStore, record: ExperimentRecord, state: str, now: float) -> float:
    """Seconds the experiment has run, over all its runs.

    ``info['duration']`` holds the total when a run ends. While a run goes on, the experiment row
    was last written when its status was set to ``running``, so ``updated_at`` is that run's start
    (``info['run_started_at']`` wins if the experiment records it). A driver that died mid-run
    left no end time: its last trial event stands for it.
    """
    previous = record.info.get("duration")
    previous = float(previous) if isinstance(previous, (int, float)) else 0.0
    if record.status != "running":
        if "duration" in record.info:
            return previous
        return max(0.0, record.updated_at - record.created_at)
    started = record.info.get("run_started_at", record.updated_at)
    started = float(started) if isinstance(started, (int, float)) else record.updated_at
    if state == "running":
        return previous + max(0.0, now - started)
    last = max(started, store.change_cursor()[0])
    return previous + (last - started)


def progress_view(record: ExperimentRecord, counts: Mapping[str, int]) -> dict[str, Any]:
    """Trials against the budget: how many ended, succeeded, failed, are running or waiting."""
    budget = record.config.get("max_trial_number")
    ended = sum(counts.get(s, 0) for s in _ENDED)
    return {
        "budget": budget if isinstance(budget, int) and not isinstance(budget, bool) else None,
        "ended": ended,
        "succeeded": counts.get("SUCCEEDED", 0),
        "failed": counts.get("FAILED", 0) + counts.get("TIMEOUT", 0),
        "canceled": counts.get("CANCELED", 0),
        "early_stopped": counts.get("EARLY_STOPPED", 0),
        "running": counts.get("RUNNING", 0),
        "waiting": counts.get("WAITING", 0),
        "interrupted": counts.get("INTERRUPTED", 0),
        "total": sum(counts.values()),
    }


#: NNI's HPO types: a number from a distribution (``_value``: bounds, not candidates).
_NUMERICAL = ("uniform", "quniform", "loguniform", "qloguniform", "normal")


def _numerical_size(kind: str, value: Any) -> int | None:
    """Number of values of a quantized distribution; None when continuous (or malformed)."""
    from ..mutable import Numerical

    if kind in ("uniform", "loguniform", "normal") or not isinstance(value, list):
        return None
    try:
        return int(
            Numerical(
                value[0], value[1], log=kind == "qloguniform", quantize=value[2], label="x"
            ).size
        )
    except (TypeError, ValueError, IndexError):
        return None


def _label_size(spec: Any) -> int | None:
    if not isinstance(spec, Mapping):
        return None
    value = spec.get("_value")
    kind = spec.get("_type")
    if kind in _NUMERICAL:
        return _numerical_size(str(kind), value)
    if kind == "randint" and isinstance(value, list) and len(value) == 2:
        return int(value[1]) - int(value[0])
    if spec.get("_type") == "input_choice" and isinstance(value, Mapping):
        n = len(value.get("candidates") or [])
        k = value.get("n_chosen")
        return math.comb(n, k) if isinstance(k, int) else 2**n - 1
    return len(value) if isinstance(value, list) else None


def space_view(record: ExperimentRecord) -> dict[str, Any]:
    """The search space as rows (label, type, candidates, number of values) and its size.

    A numerical label (``uniform``, ``loguniform``, ...) has no candidates: ``numeric`` holds its
    bounds and whether it is log-scaled, and ``size`` is None when it is continuous.

    The size is a string: it can exceed what a JavaScript number holds exactly. The experiment's
    own count (``info['space_size']``, which knows about shared labels) is used when present.
    """
    labels = []
    product: int | None = 1
    for label, spec in record.search_space.items():
        size = _label_size(spec)
        product = None if product is None or size is None else product * size
        kind = spec.get("_type") if isinstance(spec, Mapping) else None
        value = spec.get("_value") if isinstance(spec, Mapping) else spec
        numeric: dict[str, Any] | None = None
        if kind == "input_choice" and isinstance(value, Mapping):
            candidates: Any = value.get("candidates")
            n_chosen = value.get("n_chosen")
        elif kind in _NUMERICAL:
            # charts plot the metric against the value (log axis for log distributions)
            candidates, n_chosen = None, None
            numeric = {"bounds": value, "log": kind in ("loguniform", "qloguniform")}
        elif kind == "randint" and isinstance(value, list) and size is not None and size <= 1000:
            candidates, n_chosen = list(range(int(value[0]), int(value[1]))), None
        else:
            candidates, n_chosen = value, None
        row = {
            "label": label,
            "type": kind,
            "candidates": candidates,
            "n_chosen": n_chosen,
            "size": size,
        }
        if numeric is not None:
            row["numeric"] = numeric
        labels.append(row)
    size = record.info.get("space_size")
    return {"labels": labels, "size": str(size) if size is not None else _str_or_none(product)}


def _str_or_none(value: int | None) -> str | None:
    return None if value is None else str(value)


def experiment_view(
    store: ExperimentStore,
    *,
    can_stop: bool = False,
    now: float | None = None,
    best: Callable[[str], dict[str, Any] | None] | None = None,
) -> dict[str, Any]:
    """The overview: the experiment record, its progress, elapsed time, the best trial, the space.

    Keys of the record (``id``, ``name``, ``status``, ``config``, ``search_space``,
    ``optimize_mode``, ``info``, ...) are kept as they are; ``state`` is the status to show
    (see :func:`effective_status`). ``best(optimize_mode)`` gives the best trial's slim row
    where the caller has it at hand (the dashboard's cache); else the store is asked. A one-shot
    experiment (``one_shot``) also has ``oneshot_progress`` (see :func:`oneshot_view`).
    """
    now = time.time() if now is None else now
    record = store.experiment()
    alive = True if can_stop else driver_alive(store.experiment_dir)
    state = effective_status(record, alive)
    counts = store.counts()
    selected = store.series("arch/selected")
    names = store.series_names()
    one_shot = is_oneshot(record.info, names)
    if best is None or one_shot:  # a one-shot search's answer is its newest export
        found = store.answer(1, oneshot=one_shot)
        best_row = slim_row(found[0]) if found else None
    else:
        best_row = best(record.optimize_mode)
    view = dataclasses.asdict(record)
    view.update(
        state=state,
        driver_alive=alive,
        counts=counts,
        best=best_row,
        progress=progress_view(record, counts),
        elapsed=_elapsed(store, record, state, now),
        max_duration=_duration_seconds(record.config.get("max_experiment_duration")),
        end_reason=record.info.get("end_reason"),
        space=space_view(record),
        can_stop=bool(can_stop and state in ("created", "running")),
        has_series=bool(names),
        one_shot=one_shot,
        oneshot_progress=oneshot_view(store, record, names) if one_shot else None,
        selected=(
            {"sample": selected[-1].value, "epoch": selected[-1].epoch, "step": selected[-1].step}
            if selected
            else None
        ),
        now=now,
    )
    from .pareto import pareto_summary  # several objectives: the front's size

    view["pareto"] = pareto_summary(store)
    return view


# ---------------------------------------------------------------------------------- trials


#: A slim row's ``error``: its last characters (the exception line); the trial page has it all.
SLIM_ERROR_CHARS = 500

#: Points per intermediate curve in chart data (longer curves are downsampled).
MAX_CURVE_POINTS = 200

# The store stamps a trial row inside its write transaction (the database's write lock held),
# so rows commit in the order of their stamps: every row committed after a reader saw stamp T
# has a stamp >= T, and "changed at or after the cursor" misses nothing. The slack only covers
# a wall clock stepped back a little (NTP); ties and the slack are sent twice, merged by id.
CURSOR_SLACK_S = 0.05


def _trial_row(trial: TrialRecord) -> dict[str, Any]:
    row = dataclasses.asdict(trial)
    row["duration"] = trial.duration
    return row


def slim_row(trial: TrialRecord) -> dict[str, Any]:
    """A trial as tables and charts show it: no final metric dict (``final_value`` stays) and
    only the end of the error (see :data:`SLIM_ERROR_CHARS`)."""
    row = _trial_row(trial)
    del row["final"]
    if trial.error and len(trial.error) > SLIM_ERROR_CHARS:
        row["error"] = trial.error[-SLIM_ERROR_CHARS:]
    return row


def _slim_rows(store: ExperimentStore, trials: list[TrialRecord]) -> list[dict[str, Any]]:
    running = [t.id for t in trials if t.status == "RUNNING"]
    latest = store.latest_intermediates(running)
    rows = []
    for trial in trials:
        row = slim_row(trial)
        if trial.status == "RUNNING":
            row["latest"] = latest.get(trial.id)
        rows.append(row)
    return rows


def trials_view(store: ExperimentStore) -> list[dict[str, Any]]:
    """Every trial as a slim row (see :func:`slim_row`, plus ``duration``), in id order; a
    running trial also has ``latest`` (its last intermediate value) so the table shows how it
    is doing."""
    return _slim_rows(store, store.trial_summaries())


def trial_changes_view(store: ExperimentStore, since: float | None = None) -> dict[str, Any]:
    """The trials that changed since a client's cursor, as slim rows (an incremental poll).

    ``{"cursor": c, "full": bool, "total": n, "trials": [...]}``: pass ``c`` back as ``since``
    next time. Without ``since`` (or ``full``) it is every trial; with it, the trials created,
    started or ended since (a few seconds of overlap: merge rows by id) and every RUNNING one.
    Finished trials never change, so a client that merges the rows by id holds every trial.
    """
    cursor, _ = store.change_cursor()  # read first: a write in between is sent twice, not lost
    trials = store.trial_summaries(None if since is None else since - CURSOR_SLACK_S)
    total = sum(store.counts().values())
    return {
        "cursor": cursor,
        "full": since is None,
        "total": total,
        "trials": _slim_rows(store, trials),
    }


def trial_log_path(experiment_dir: Path, trial: TrialRecord) -> Path | None:
    """The trial's log file, only if it resolves (symlinks followed) inside the experiment dir."""
    if not trial.log_path:
        return None
    root = experiment_dir.resolve()
    candidates = [root / trial.log_path]
    # stores written before 0.1 kept the path relative to the driver's working directory
    # (e.g. "retiarii-experiments/<id>/trials/3/trial.log"): look in the trial's own folder
    candidates.append(root / "trials" / str(trial.id) / Path(trial.log_path).name)
    for candidate in candidates:
        path = candidate.resolve()
        if root in path.parents and path.is_file():
            return path
    return None


def log_tail(
    experiment_dir: Path, trial: TrialRecord, max_bytes: int = LOG_TAIL_BYTES
) -> tuple[str, bool]:
    """The end of the trial's log and whether it was cut; empty if there is none (or outside)."""
    path = trial_log_path(experiment_dir, trial)
    if path is None:
        return "", False
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - max_bytes))
        data = fh.read(max_bytes)
    if size > max_bytes:
        data = data.split(b"\n", 1)[-1]  # start at a whole line
    return data.decode("utf-8", errors="replace"), size > max_bytes


def trial_view(store: ExperimentStore, trial_id: int) -> dict[str, Any]:
    """One trial with its intermediate metrics, its log tail and its neighbours' ids."""
    trial = store.trial(trial_id)
    row = _trial_row(trial)
    row["intermediates"] = [dataclasses.asdict(r) for r in store.intermediates(trial_id)]
    tail, truncated = log_tail(store.experiment_dir, trial)
    row["log_tail"] = tail
    row["log_truncated"] = truncated
    row["has_log"] = trial_log_path(store.experiment_dir, trial) is not None
    return row


def downsample(
    xs: list[Any], ys: list[float], max_points: int = MAX_CURVE_POINTS
) -> tuple[list[Any], list[float]]:
    """At most ``max_points`` points of a curve: per bucket its lowest and highest point (so
    spikes survive), always the first and the last point; short curves are returned as they are."""
    n = len(xs)
    if n <= max_points or max_points < 4:
        return xs, ys
    buckets = (max_points - 2) // 2
    keep = {0, n - 1}
    for b in range(buckets):
        lo = 1 + (n - 2) * b // buckets
        hi = 1 + (n - 2) * (b + 1) // buckets
        if lo >= hi:
            continue
        part = range(lo, hi)
        keep.add(min(part, key=ys.__getitem__))
        keep.add(max(part, key=ys.__getitem__))
    chosen = sorted(keep)
    return [xs[i] for i in chosen], [ys[i] for i in chosen]


def intermediates_view(
    store: ExperimentStore, max_points: int = MAX_CURVE_POINTS
) -> dict[str, dict[str, list[float]]]:
    """Every trial's intermediate curve, compactly: ``{trial id: {"x": [seq], "y": [value]}}``;
    curves longer than ``max_points`` are downsampled (see :func:`downsample`)."""
    return _curves(store.intermediate_points(), max_points)


def _curves(
    points: dict[int, tuple[list[int], list[float]]], max_points: int
) -> dict[str, dict[str, list[Any]]]:
    curves: dict[str, dict[str, list[Any]]] = {}
    for trial_id, (xs, ys) in points.items():
        x, y = downsample(xs, ys, max_points)
        curves[str(trial_id)] = {"x": x, "y": y}
    return curves


def intermediate_changes_view(
    store: ExperimentStore, since: int = 0, max_points: int = MAX_CURVE_POINTS
) -> dict[str, Any]:
    """The curves of the trials that reported since a client's cursor (an incremental poll).

    ``{"cursor": c, "curves": {trial id: {"x", "y"}}}``: each changed curve whole (downsampled
    to ``max_points``); pass ``c`` back as ``since`` next time (``0``: every curve).
    """
    cursor = store.intermediate_cursor()
    points = store.intermediate_points(after_rowid=since if since > 0 else None)
    return {"cursor": cursor, "curves": _curves(points, max_points)}


def series_view(store: ExperimentStore, name: str | None = None) -> dict[str, Any]:
    """Named progress series (one-shot training), as columns per series.

    ``{"names": [...], "series": {name: {"step": [...], "epoch": [...], "value": [...]}}}``
    """
    series: dict[str, dict[str, list[Any]]] = {}
    for point in store.series(name):
        columns = series.setdefault(point.name, {"step": [], "epoch": [], "value": []})
        columns["step"].append(point.step)
        columns["epoch"].append(point.epoch)
        columns["value"].append(point.value)
    return {"names": sorted(series), "series": series}


# ---------------------------------------------------------------------------------- export / list


def export_view(
    store: ExperimentStore, top_k: int = 1, optimize_mode: str | None = None
) -> dict[str, Any]:
    """The experiment's answer (see :meth:`~retiarii.store.ExperimentStore.answer`): the
    ``top_k`` best samples (SUCCEEDED trials, by the experiment's ``optimize_mode``), or a
    one-shot search's newest exports.

    ``{"experiment": id, "name": ..., "optimize_mode": ..., "top": [{"rank", "trial_id",
    "metric", "final", "sample"}, ...]}``; ``top[i]["sample"]`` is what ``fixed_arch`` takes.
    A one-shot experiment's export also says ``"oneshot": true`` and ``"metric_name"``: which
    metric ``metric`` is (e.g. ``val_acc``; ``metric`` is null when no epoch had finished).
    """
    record = store.experiment()
    mode = optimize_mode or record.optimize_mode
    names = store.series_names()
    one_shot = is_oneshot(record.info, names)
    trials = store.answer(top_k, mode, oneshot=one_shot)
    extra: dict[str, Any] = {}
    if one_shot:  # its exported architecture, judged by the user's metric
        final = trials[0].final if trials else None
        extra = {"oneshot": True, "metric_name": headline_name(record, names, final)}
    return {
        "experiment": record.id,
        "name": record.name,
        "optimize_mode": mode,
        **extra,
        "top": [
            {
                "rank": rank,
                "trial_id": t.id,
                "metric": t.final_value,
                "final": t.final,
                "sample": t.sample,
            }
            for rank, t in enumerate(trials, start=1)
        ],
    }


def list_entry(experiment_dir: Path, store: ExperimentStore) -> dict[str, Any]:
    """One line of ``retiarii list``: identity, strategy, status, trial counts and the best
    metric (a one-shot search's: its newest export's); a one-shot experiment also has
    ``oneshot`` (see :func:`oneshot_view`)."""
    record = store.experiment()
    alive = driver_alive(experiment_dir)
    counts = store.counts()
    state = effective_status(record, alive)
    names = store.series_names()
    one_shot = is_oneshot(record.info, names)
    best = store.answer(1, oneshot=one_shot)
    strategy = record.info.get("strategy")
    return {
        "id": record.id,
        "name": record.name,
        "strategy": strategy if isinstance(strategy, str) else None,
        "oneshot": oneshot_view(store, record, names) if one_shot else None,
        "status": state,
        "created_at": record.created_at,
        "path": str(experiment_dir),
        "progress": progress_view(record, counts),
        "best": best[0].final_value if best else None,
        "best_trial": best[0].id if best else None,
        "optimize_mode": record.optimize_mode,
        "elapsed": _elapsed(store, record, state, time.time()),
    }
