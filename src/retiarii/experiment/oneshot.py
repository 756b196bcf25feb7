"""Running a one-shot search as an experiment: progress into the store, the result as a trial.

``RetiariiExperiment(space, evaluator, None, strategy.DARTS())`` and
``RetiariiExperiment(base_model, oneshot_trainer)`` run through :func:`run_oneshot`: this module
(part of the experiment) is the only writer of the store for one-shot searches; the trainers and
the Lightning driver only call :class:`~retiarii.oneshot.OneShotCallback` hooks. The store is
used through its public writer methods only (``add_series``, ``create_trial``, ...).

Series written per epoch (the dashboard plots them), besides ``loss/step`` (the training loss
every half second or so, from the first step, by step number): ``loss``; ``metric/<name>`` for every
metric; ``arch_prob/<label>`` with ``{candidate: probability}``. The exported sample becomes the
experiment's single SUCCEEDED trial, whose final metric is the last epoch's metrics (the supernet's
training metrics, not a retrained score); its ``'default'`` (the headline metric) is the
evaluator's own metric when it names one (``val_acc`` for ``Classification``, ``val_mse`` for
``Regression``), else the first metric that is not the ENAS reward.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from ..oneshot.base import BaseOneShotTrainer, EpochLogs, OneShotCallback, StopSearch

__all__ = ["StopSearch", "StoreRecorder", "headline_metric", "oneshot_space", "run_oneshot"]

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


def check_oneshot_evaluator(strategy: Any, evaluator: Any) -> None:
    """Refuse, when the experiment is made, an evaluator a one-shot strategy cannot train with."""
    from ..evaluator.pytorch.lightning import Lightning

    name = type(strategy).__name__
    if not isinstance(evaluator, Lightning):
        raise TypeError(
            f"{name}() needs a Lightning evaluator (Lightning, Classification, Regression), got "
            f"{type(evaluator).__name__}; with other evaluators use a one-shot trainer "
            "(retiarii.oneshot.pytorch)"
        )
    if evaluator.datamodule is not None:
        raise ValueError(
            f"{name}(): evaluators built on a LightningDataModule are not supported by one-shot "
            "strategies; pass train_dataloaders and val_dataloaders"
        )


def oneshot_trainer(
    base_model: Any, evaluator: Any, strategy: Any, checkpoint_dir: Path | None = None
) -> BaseOneShotTrainer:
    """What runs the search: ``evaluator`` itself (a one-shot trainer), or the Lightning driver
    of ``strategy`` on a copy of the evaluator's module (``base_model`` becomes the supernet),
    checkpointing every epoch into ``checkpoint_dir`` and resuming from its ``last.ckpt`` (the
    Lightning driver and retiarii's trainers, e.g. ``DartsTrainer``)."""
    if strategy is None:
        assert isinstance(evaluator, BaseOneShotTrainer)
        from ..oneshot.pytorch.trainer import SupernetTrainer

        if isinstance(evaluator, SupernetTrainer):
            evaluator.checkpoint_dir = checkpoint_dir
        return evaluator
    from ..oneshot.pytorch.lightning import LightningOneShotTrainer

    trainer = LightningOneShotTrainer(base_model, evaluator, strategy)
    trainer.checkpoint_dir = checkpoint_dir
    return trainer


def headline_metric(evaluator: Any) -> str | None:
    """The name of the metric an evaluator is judged by, if it says (``val_<metric_name>`` of a
    Lightning evaluator's module, e.g. ``val_acc``)."""
    name = getattr(getattr(evaluator, "module", None), "metric_name", "")
    return f"val_{name}" if name else None


class StoreRecorder(OneShotCallback):
    """Writes a trainer's progress into an experiment store's ``series`` table.

    Args:
        store: an ``ExperimentStore`` open for writing.
        stop_event: when set, the search stops at the end of the current epoch.
        headline: the metric that is the trial's ``'default'`` (see :func:`headline_metric`).
    """

    def __init__(
        self,
        store: Any,
        stop_event: threading.Event | None = None,
        headline: str | None = None,
    ) -> None:
        self.store = store
        self.stop_event = stop_event
        self.headline = headline
        self.last: EpochLogs | None = None

    def on_step_end(self, trainer: BaseOneShotTrainer, step: int, loss: float) -> None:
        self.store.add_series("loss/step", loss, step=step)

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
        """The trial's final metric: the last epoch's metrics, the headline as ``'default'``."""
        if self.last is None:
            return 0.0
        metrics = dict(self.last.metrics)
        if self.headline in metrics:
            return {"default": metrics[self.headline], **metrics}
        named = [v for k, v in metrics.items() if k != "reward"]
        if named:
            return {"default": named[0], **metrics}
        return self.last.loss if self.last.loss is not None else 0.0


def run_oneshot(
    trainer: BaseOneShotTrainer,
    store: Any,
    space: Any,
    stop_event: threading.Event | None = None,
    previous_duration: float = 0.0,
    headline: str | None = None,
) -> dict[str, Any] | None:
    """``trainer.fit()`` with its progress recorded in ``store``, then its ``export()`` stored as
    the experiment's single trial. Returns the exported sample (None if stopped before any
    result).

    ``space`` (a ``ModelSpace``) validates the exported sample, so a trainer exporting a sample
    that ``fixed_arch`` would refuse fails here, naming the label.
    """
    recorder = StoreRecorder(store, stop_event, headline)
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
