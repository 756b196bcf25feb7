"""``report_intermediate_result`` / ``report_final_result``: how a trial talks to the experiment.

The reporter is *injected*: the worker that runs a trial sets it in a context variable with
:func:`trial_reporter`, and the two public functions read it. Outside a trial (e.g. when debugging
with ``evaluator.evaluate(model)``) there is no reporter and the values are logged instead, so user
code never needs to know where it runs.

A metric is a real number, or a dict of JSON values with a numeric ``'default'`` key (the value the
strategy optimises).

Early stopping: when the experiment's pruner has decided to stop a trial, the next
:func:`report_intermediate_result` raises :class:`TrialPruned`, so a plain training loop ends
without any code of its own (catch it to clean up; the experiment records the trial as
``EARLY_STOPPED`` whatever happens next). A reporter says a stop was requested through its optional
``stop_reason()`` method; reporters without it (e.g. outside a trial) never stop anything.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

__all__ = [
    "Metric",
    "Reporter",
    "TrialPruned",
    "current_reporter",
    "metric_value",
    "normalize_metric",
    "report_final_result",
    "report_intermediate_result",
    "trial_reporter",
]

Metric = float | dict[str, Any]

_logger = logging.getLogger("retiarii.report")


class TrialPruned(Exception):
    """Raised by :func:`report_intermediate_result` once the experiment's pruner stopped the trial.

    Let it propagate out of the evaluator (the trial then ends cleanly as ``EARLY_STOPPED``, and
    its last intermediate result is what the strategy is told), or catch it to clean up first.
    A trial that keeps running anyway is killed after the pruner's grace period.
    """


class Reporter(Protocol):
    """Receives a trial's metrics; implemented by the execution layer."""

    def intermediate(self, metric: Metric) -> None:
        """Record one intermediate (periodical) result."""

    def final(self, metric: Metric) -> None:
        """Record the final result of the trial."""


_current: ContextVar[Reporter | None] = ContextVar("retiarii_reporter", default=None)


def current_reporter() -> Reporter | None:
    """The reporter of the trial running in this context, or ``None`` outside a trial."""
    return _current.get()


@contextmanager
def trial_reporter(reporter: Reporter) -> Iterator[Reporter]:
    """Route ``report_*`` calls made inside the ``with`` block to ``reporter``."""
    token = _current.set(reporter)
    try:
        yield reporter
    finally:
        _current.reset(token)


def _as_number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        # numpy/torch scalars: accept anything with .item() that yields a real number
        item = getattr(value, "item", None)
        if callable(item):
            try:
                value = item()
            except (TypeError, ValueError, RuntimeError) as exc:
                raise TypeError(f"{what} must be a number, got {value!r}") from exc
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(
                f"{what} must be a number (or a dict with a numeric 'default' key), "
                f"got {type(value).__name__}: {value!r}"
            )
    result = float(value)
    if math.isnan(result) or math.isinf(result):
        kind = "NaN" if math.isnan(result) else "infinite"
        raise ValueError(f"{what} is {kind}; report a finite number")
    return result


def normalize_metric(metric: Any) -> Metric:
    """Validate ``metric``: a float, or a JSON-ready dict with a float ``default``."""
    if isinstance(metric, Mapping):
        if "default" not in metric:
            raise ValueError(
                f"a dict metric needs a 'default' key holding the number to optimise; "
                f"got keys {sorted(map(str, metric))}"
            )
        out: dict[str, Any] = {}
        for key, value in metric.items():
            try:
                out[str(key)] = _as_number(value, f"metric[{key!r}]")
            except TypeError:
                if key == "default":
                    raise
                out[str(key)] = value
        return out
    return _as_number(metric, "metric")


def metric_value(metric: Metric) -> float:
    """The number a strategy optimises: the metric itself or its ``'default'`` entry."""
    if isinstance(metric, dict):
        return float(metric["default"])
    return float(metric)


def report_intermediate_result(metric: Any) -> None:
    """Report an intermediate result (e.g. validation accuracy after an epoch).

    Raises:
        TrialPruned: The experiment's pruner stopped this trial (after seeing this result or an
            earlier one); the result is recorded first.
    """
    value = normalize_metric(metric)
    reporter = _current.get()
    if reporter is None:
        _logger.info("intermediate result (not in a trial): %s", value)
        return
    reporter.intermediate(value)
    stop_reason = getattr(reporter, "stop_reason", None)
    reason = stop_reason() if callable(stop_reason) else None
    if reason:
        raise TrialPruned(reason)


def report_final_result(metric: Any) -> None:
    """Report the final result of the trial: the number the strategy optimises."""
    value = normalize_metric(metric)
    reporter = _current.get()
    if reporter is None:
        _logger.info("final result (not in a trial): %s", value)
        return
    reporter.final(value)
