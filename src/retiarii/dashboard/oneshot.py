"""What the dashboard and ``retiarii list`` say about a one-shot search: one supernet trained for
some epochs and judged by the evaluator's metric, not a set of trials.

Pure functions over the store, like :mod:`.views` (which re-exports them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..store import ExperimentRecord, ExperimentStore
from ..store.records import is_oneshot

__all__ = ["headline_name", "is_oneshot", "oneshot_view"]


def headline_name(record: ExperimentRecord, names: list[str], final: Any) -> str | None:
    """The metric a one-shot search is judged by: as recorded (``info["headline_metric"]``),
    else, for older stores, the exported trial's metric that is its ``'default'``, else the first
    ``metric/<name>`` series that is not the ENAS reward."""
    recorded = record.info.get("headline_metric")
    if isinstance(recorded, str) and recorded:
        return recorded
    if isinstance(final, Mapping) and "default" in final:
        same = [k for k, v in final.items() if k != "default" and v == final["default"]]
        same.sort(key=lambda k: "loss" in str(k))  # Regression: val_mse before val_loss
        for key in same:
            if f"metric/{key}" in names:
                return str(key)
    metrics = [n[len("metric/") :] for n in names if n.startswith("metric/")]
    return next((m for m in metrics if m != "reward"), None)


def oneshot_view(
    store: ExperimentStore, record: ExperimentRecord, names: list[str]
) -> dict[str, Any]:
    """Where a one-shot search stands, for the overview's cards and ``retiarii list``.

    ``{"epochs_done", "max_epochs", "step", "metric", "exported"}``: epochs finished (the last
    one's number, counting from 1) of the planned ``max_epochs`` (None if unknown), the last
    training step logged, the headline metric (``{"name", "optimize_mode", "value", "epoch",
    "best", "best_epoch"}``: its value at the last epoch and its best in the experiment's
    direction, epochs from 1; None before the first epoch) and the exported architecture once
    there is one (``{"trial_id", "sample", "value"}``: the newest export, see
    :meth:`~retiarii.store.ExperimentStore.answer`; ``value`` is None when no epoch had finished).
    """
    last_epoch = None
    for name in names:
        if name == "loss/step":
            continue
        point = store.last_series_point(name)
        if point is not None and point.epoch is not None:
            last_epoch = point.epoch if last_epoch is None else max(last_epoch, point.epoch)
    step = store.last_series_point("loss/step")
    found = store.answer(1, oneshot=True)
    trial = found[0] if found else None
    metric = None
    headline = headline_name(record, names, trial.final if trial else None)
    series = store.series(f"metric/{headline}") if headline else []
    points = [p for p in series if p.value_num is not None]
    if points:
        sign = -1.0 if record.optimize_mode == "minimize" else 1.0
        best = max(points, key=lambda p: (sign * float(p.value_num or 0.0), -p.step))
        metric = {
            "name": headline,
            "optimize_mode": record.optimize_mode,
            "value": points[-1].value_num,
            "epoch": None if points[-1].epoch is None else points[-1].epoch + 1,
            "best": best.value_num,
            "best_epoch": None if best.epoch is None else best.epoch + 1,
        }
    planned = record.info.get("max_epochs")
    return {
        "epochs_done": 0 if last_epoch is None else last_epoch + 1,
        "max_epochs": planned if isinstance(planned, int) and planned > 0 else None,
        "step": step.step if step is not None else None,
        "metric": metric,
        "exported": (
            {"trial_id": trial.id, "sample": trial.sample, "value": trial.final_value}
            if trial is not None
            else None
        ),
    }
