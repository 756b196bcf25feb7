"""Running a one-shot trainer as an experiment: progress into the store, the result as a trial.

``RetiariiExperiment(base_model, oneshot_trainer).run()`` calls :func:`run_oneshot`. The store is
used through its public writer methods only (``add_series``, ``create_trial``, ...); this module
does not import the store package.

Series written per epoch (the dashboard plots them): ``loss``; ``metric/<name>`` for every
metric; ``arch_prob/<label>`` with ``{candidate: probability}``. The exported sample becomes the
experiment's single SUCCEEDED trial, whose final metric is the last epoch's metrics (the supernet's
training metrics, not a retrained score) with the first one as ``'default'``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from .base import BaseOneShotTrainer, EpochLogs, OneShotCallback

__all__ = ["StoreRecorder", "oneshot_space", "run_oneshot"]

_logger = logging.getLogger("retiarii.experiment")


def oneshot_space(base_model: Any) -> Any:
    """The model space a one-shot trainer searches, as the user wrote it.

    A trainer replaces the choices of ``base_model`` in place; retiarii's supernet modules keep
    the decisions, but replacements written by users (seed 001's ``DartsLayerChoice``) do not. A
    ``@model_wrapper`` model is therefore built once more from its recorded arguments; any other
    model is used as it is.
    """
    from ..nn.pytorch.parameter_choice import parameter_choices
    from ..nn.pytorch.space import ModelSpace
    from ..nn.pytorch.wrappers import get_init_args

    fixed = [d.label for m in base_model.modules() for d, _ in parameter_choices(m)]
    if fixed:
        raise TypeError(
            f"ModelParameterChoice {fixed} cannot be searched by a one-shot algorithm (nor in NNI): "
            "its value is fixed when the supernet is built; use nn.ValueChoice for it, or a "
            "multi-trial strategy"
        )
    recorded = get_init_args(base_model)
    if recorded is not None and getattr(type(base_model), "_retiarii_model_wrapper", False):
        cls, args, kwargs = recorded
        return ModelSpace(cls(*args, **kwargs))
    return ModelSpace(base_model)


class StopSearch(Exception):
    """Raised from a callback to end a one-shot search early (the architecture is still exported)."""


class StoreRecorder(OneShotCallback):
    """Writes a trainer's progress into an experiment store's ``series`` table.

    Args:
        store: an ``ExperimentStore`` open for writing.
        stop_event: when set, the search stops at the end of the current epoch.
    """

    def __init__(self, store: Any, stop_event: threading.Event | None = None) -> None:
        self.store = store
        self.stop_event = stop_event
        self.last: EpochLogs | None = None

    def on_epoch_end(self, trainer: BaseOneShotTrainer, epoch: int, logs: EpochLogs) -> None:
        self.last = logs
        if logs.loss is not None:
            self.store.add_series("loss", logs.loss, step=epoch, epoch=epoch)
        for name, value in logs.metrics.items():
            self.store.add_series(f"metric/{name}", value, step=epoch, epoch=epoch)
        for label, probs in logs.arch_probs.items():
            self.store.add_series(f"arch_prob/{label}", probs, step=epoch, epoch=epoch)
        if self.stop_event is not None and self.stop_event.is_set():
            raise StopSearch

    def final_metric(self) -> dict[str, float] | float:
        """The trial's final metric: the last epoch's metrics (first one as ``'default'``)."""
        if self.last is None:
            return 0.0
        metrics = dict(self.last.metrics)
        if metrics:
            return {"default": next(iter(metrics.values())), **metrics}
        return self.last.loss if self.last.loss is not None else 0.0


def run_oneshot(
    trainer: BaseOneShotTrainer,
    store: Any,
    space: Any,
    stop_event: threading.Event | None = None,
    previous_duration: float = 0.0,
) -> dict[str, Any] | None:
    """``trainer.fit()`` with its progress recorded in ``store``, then its ``export()`` stored as
    the experiment's single trial. Returns the exported sample (None if stopped before any
    result).

    ``space`` (a ``ModelSpace``) validates the exported sample, so a trainer exporting a sample
    that ``fixed_arch`` would refuse fails here, naming the label.
    """
    recorder = StoreRecorder(store, stop_event)
    trainer.add_callback(recorder)
    store.set_status("running")
    started = time.monotonic()
    status, reason, sample = "failed", "error", None
    try:
        try:
            trainer.fit()
            reason = "search finished"
        except (StopSearch, KeyboardInterrupt):
            reason = "stopped by request"
            _logger.info("one-shot search stopped; exporting the architecture found so far")
        sample = space.validate(trainer.export())
        trial = store.create_trial(sample)
        store.mark_running(trial)
        store.finish_trial(trial, "SUCCEEDED", final=recorder.final_metric())
        status = "done" if reason == "search finished" else "stopped"
    finally:
        trainer.remove_callback(recorder)
        duration = previous_duration + time.monotonic() - started
        store.update_info({"duration": duration, "end_reason": reason})
        store.set_status(status)
    _logger.info("one-shot search %s (%.1fs): %s", status, duration, sample)
    return sample
