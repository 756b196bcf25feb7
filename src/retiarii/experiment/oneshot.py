"""Running a one-shot search as an experiment: progress into the store, the result as a trial.

``RetiariiExperiment(space, evaluator, None, strategy.DARTS())`` and
``RetiariiExperiment(base_model, oneshot_trainer)`` run through :func:`run_oneshot`: this module
(part of the experiment) is the only writer of the store for one-shot searches; the trainers and
the Lightning driver only call :class:`~retiarii.oneshot.OneShotCallback` hooks. The store is
used through its public writer methods only (``add_series``, ``create_trial``, ...).

Series written per epoch (the dashboard plots them), besides ``loss/step`` (the training loss
every half second or so, from the first step, by step number): ``loss``; ``metric/<name>`` for every
metric; ``arch_prob/<label>`` with ``{candidate: probability}``. The exported sample becomes a
SUCCEEDED trial (one per run: the newest, a resumed search's, is the experiment's answer, see
:meth:`~retiarii.store.ExperimentStore.answer`) whose final metric is the run's last epoch's
metrics (the supernet's training metrics, not a retrained score; none if no epoch finished); its ``'default'`` (the headline metric) is the
evaluator's own metric when it names one (``val_acc`` for ``Classification``, ``val_mse`` for
``Regression``), else the first metric that is not the ENAS reward. The experiment's info records
that metric's name (``headline_metric``, from the first epoch on) and the planned number of epochs
(``max_epochs``, when the trainer says), so the dashboard and ``retiarii list`` show "epoch N of
M" and the result's metric while the search runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._signals import keyboard_interrupt_passes_through
from ..oneshot.base import BaseOneShotTrainer, EpochLogs, OneShotCallback, StopSearch
from .engine import StopReason

__all__ = [
    "StopSearch",
    "StoreRecorder",
    "headline_metric",
    "oneshot_space",
    "planned_epochs",
    "run_oneshot",
]

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


def planned_epochs(trainer: BaseOneShotTrainer) -> int | None:
    """How many epochs the search trains, when it says: a plain trainer's ``num_epochs``, or the
    ``max_epochs`` of the Lightning evaluator's ``Trainer(...)`` (the dashboard shows "epoch N
    of M")."""
    epochs = getattr(trainer, "num_epochs", None)
    if epochs is None:
        recipe = getattr(getattr(trainer, "evaluator", None), "trainer", None)
        kwargs = getattr(recipe, "kwargs", None)
        epochs = kwargs.get("max_epochs") if isinstance(kwargs, dict) else None
    return epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None


def _headline_of(metrics: dict[str, float], headline: str | None) -> str | None:
    """The metric that is the result: ``headline`` if logged, else the first that is not the
    ENAS reward."""
    if headline in metrics:
        return headline
    return next((k for k in metrics if k != "reward"), None)


class StoreRecorder(OneShotCallback):
    """Writes a trainer's progress into an experiment store's ``series`` table, and stops the
    search (raises :class:`StopSearch`) when asked to or when its time is up.

    The stop is checked after the training steps it is told about (every step, or every half
    second when steps are shorter: ``STEP_INTERVAL``), at the end of every epoch, and between the
    subnets a search phase evaluates (:meth:`should_stop`: SPOS keeps the best evaluated so far,
    at least one); a data-parallel search stops on every rank after the same step (the Lightning
    driver agrees on it) and runs its whole search phase.

    Args:
        store: an ``ExperimentStore`` open for writing.
        stop_event: when set, the search stops at the next step (the dashboard's Stop, Ctrl-C,
            ``exp.stop()``).
        headline: the metric that is the trial's ``'default'`` (see :func:`headline_metric`).
        deadline: the ``time.monotonic()`` at which ``max_experiment_duration`` is reached.
    """

    def __init__(
        self,
        store: Any,
        stop_event: threading.Event | None = None,
        headline: str | None = None,
        deadline: float | None = None,
    ) -> None:
        self.store = store
        self.stop_event = stop_event
        self.headline = headline
        self.deadline = deadline
        #: why this callback stopped the search (a :class:`StopReason` sentence), if it did
        self.reason: str | None = None
        self.last: EpochLogs | None = None
        self._recorded_headline: str | None = None
        self._epochs_in_store: set[int] | None = None  # read at the first epoch

    def stop_reason(self) -> str | None:
        """Why the search must stop now, or None."""
        if self.stop_event is not None and self.stop_event.is_set():
            return StopReason.STOPPED
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return StopReason.DURATION
        return None

    def should_stop(self, trainer: BaseOneShotTrainer) -> bool:
        reason = self.stop_reason()
        if reason is not None:
            self.reason = reason
        return reason is not None

    def _stop_if_asked(self, trainer: BaseOneShotTrainer) -> None:
        if self.should_stop(trainer):
            raise StopSearch(self.reason)

    def on_step_end(self, trainer: BaseOneShotTrainer, step: int, loss: float) -> None:
        self.store.add_series("loss/step", loss, step=step)
        self._stop_if_asked(trainer)

    def _epochs_recorded(self) -> set[int]:
        """The epochs the store has (read once, then kept up to date): ranks in child processes
        (spawn, fork) send back every epoch of the search, a resumed one's too, and a run
        interrupted twice records the epochs of its checkpoint; each epoch is recorded once."""
        if self._epochs_in_store is None:
            per_epoch = [
                name
                for name in self.store.series_names()
                if name == "loss" or name.startswith(("metric/", "arch_prob/"))
            ]
            self._epochs_in_store = {
                point.epoch
                for name in per_epoch
                for point in self.store.series(name)
                if point.epoch is not None
            }
        return self._epochs_in_store

    def on_epoch_end(self, trainer: BaseOneShotTrainer, epoch: int, logs: EpochLogs) -> None:
        self.last = logs
        recorded = self._epochs_recorded()
        if epoch in recorded:
            self._stop_if_asked(trainer)
            return
        recorded.add(epoch)
        if logs.loss is not None:
            self.store.add_series("loss", logs.loss, step=epoch, epoch=epoch)
        for name, value in logs.metrics.items():
            self.store.add_series(f"metric/{name}", value, step=epoch, epoch=epoch)
        for label, probs in logs.arch_probs.items():
            self.store.add_series(f"arch_prob/{label}", probs, step=epoch, epoch=epoch)
        headline = _headline_of(logs.metrics, self.headline)
        if headline is not None and headline != self._recorded_headline:
            # which series is the result, known from the first epoch on (dashboard, list)
            self.store.update_info({"headline_metric": headline})
            self._recorded_headline = headline
        self._stop_if_asked(trainer)

    def final_metric(self) -> dict[str, float] | float | None:
        """The trial's final metric: the last epoch's metrics, the headline as ``'default'``;
        None (no metric, never an invented one) when no epoch of this run finished."""
        if self.last is None:
            return None
        metrics = dict(self.last.metrics)
        name = _headline_of(metrics, self.headline)
        if name is not None:
            return {"default": metrics[name], **metrics}
        return self.last.loss


def _ctrl_c_stops(stop_event: threading.Event) -> Callable[[], bool]:
    """A first Ctrl-C asks the search to stop at its next step (and export); once a stop has
    been asked for, Ctrl-C interrupts at once."""

    def first_press() -> bool:
        if stop_event.is_set():
            return False
        _logger.warning(
            "Ctrl-C: the one-shot search stops after its current step and exports the "
            "architecture found so far (Ctrl-C again to interrupt at once)"
        )
        stop_event.set()
        return True

    return first_press


def _fit_and_export(
    trainer: BaseOneShotTrainer, space: Any, recorder: StoreRecorder, stop_event: threading.Event
) -> tuple[str, dict[str, Any] | None]:
    """``(why the search ended, the validated export)``. An export after a stop is the
    architecture found so far; after a hard interrupt (a second Ctrl-C) there may be none yet (SPOS
    before its search phase): then None, and the reason says so."""
    interrupted = False
    try:
        with keyboard_interrupt_passes_through(_ctrl_c_stops(stop_event)):
            trainer.fit()
        reason = recorder.reason or "search finished"  # a search phase it ended early
    except StopSearch:
        reason = recorder.reason or StopReason.STOPPED
    except KeyboardInterrupt:
        reason, interrupted = StopReason.STOPPED, True
    if reason != "search finished":
        _logger.info("one-shot search: %s; exporting the architecture found so far", reason)
    try:
        return reason, space.validate(trainer.export())
    except KeyboardInterrupt:  # an export that searches first (SinglePathTrainer)
        why = "interrupted"
    except Exception as exc:
        if not interrupted:
            raise
        why = f"{type(exc).__name__}: {exc}"
    _logger.warning("one-shot search interrupted before it found an architecture (%s)", why)
    return f"{StopReason.STOPPED}; interrupted before an architecture was found ({why})", None


def run_oneshot(
    trainer: BaseOneShotTrainer,
    store: Any,
    space: Any,
    stop_event: threading.Event | None = None,
    previous_duration: float = 0.0,
    headline: str | None = None,
    max_duration: float | None = None,
) -> dict[str, Any] | None:
    """``trainer.fit()`` with its progress recorded in ``store``, then its ``export()`` stored as
    a trial, the experiment's newest export. Returns the exported sample (None if there is none).

    ``space`` (a ``ModelSpace``) validates the exported sample, so a trainer exporting a sample
    that ``fixed_arch`` would refuse fails here, naming the label.

    How it ends, as a multi-trial experiment does (``info["end_reason"]`` and the status):
    ``"search finished"`` (``done``); ``max_experiment_duration`` (``max_duration`` seconds over
    all runs, ``previous_duration`` of them used before) reached at a step or epoch boundary
    (``done``); a stop request (``stop_event``: the dashboard's Stop, ``exp.stop()``, a first
    Ctrl-C) at a step or epoch boundary, or a second Ctrl-C at once (``stopped``). Each exports the
    architecture found so far. The checkpoint (``last.ckpt``) stays the last finished epoch's. A
    run whose time was up before it started (a resumed experiment that ended at its limit) trains
    nothing and keeps its result, as multi-trial resume does.
    """
    stop_event = stop_event if stop_event is not None else threading.Event()
    started = time.monotonic()
    deadline = None if max_duration is None else started + max_duration - previous_duration
    if deadline is not None and deadline <= started:
        done = store.answer(1, oneshot=True)
        if done:
            _logger.info(
                "one-shot search: max_experiment_duration (%gs) was reached before; nothing to "
                "train (resume with a larger max_experiment_duration to train on)",
                max_duration,
            )
            store.update_info({"end_reason": StopReason.DURATION})
            store.set_status("done")
            return dict(done[0].sample)
    recorder = StoreRecorder(store, stop_event, headline, deadline)
    trainer.add_callback(recorder)
    store.set_status("running")
    epochs = planned_epochs(trainer)
    # the run's start: the dashboard's elapsed time must not restart when info changes
    store.update_info(
        {"run_started_at": time.time(), **({"max_epochs": epochs} if epochs is not None else {})}
    )
    status, reason, sample = "failed", "error", None
    try:
        reason, sample = _fit_and_export(trainer, space, recorder, stop_event)
        if sample is not None:
            trial = store.create_trial(sample)
            store.mark_running(trial)
            store.finish_trial(trial, "SUCCEEDED", final=recorder.final_metric())
        status = "done" if reason in ("search finished", StopReason.DURATION) else "stopped"
    finally:
        trainer.remove_callback(recorder)
        duration = previous_duration + time.monotonic() - started
        store.update_info({"duration": duration, "end_reason": reason})
        store.set_status(status)
    _logger.info("one-shot search %s (%.1fs, %s): %s", status, duration, reason, sample)
    return sample
