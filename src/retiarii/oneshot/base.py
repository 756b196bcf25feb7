"""The one-shot trainer interface: ``fit()`` searches, ``export()`` returns the chosen sample.

This module does not import torch: the experiment recognises a one-shot trainer with an
``isinstance`` check, and a trainer reports its progress to :class:`OneShotCallback` objects (the
experiment attaches one that writes the store's ``series`` table; the dashboard plots it).
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BaseOneShotTrainer", "EpochLogs", "OneShotCallback", "StopSearch"]


#: Seconds between two ``on_step_end`` notifications (a store point per step would be too many).
STEP_INTERVAL = 0.5


class StopSearch(Exception):
    """Raised from a callback to end a one-shot search early (the architecture is still exported)."""


@dataclass(frozen=True)
class EpochLogs:
    """What a trainer reports at the end of an epoch. Plain JSON values only.

    Attributes:
        loss: mean training loss of the epoch (``None`` if the trainer has none).
        metrics: mean of each metric over the epoch, e.g. ``{"acc": 0.93, "reward": 0.91}``.
        arch_probs: per label, the probability of each candidate, keyed by the candidate's name
            as a string, e.g. ``{"conv": {"0": 0.2, "1": 0.8}}``.
    """

    loss: float | None
    metrics: dict[str, float] = field(default_factory=dict)
    arch_probs: dict[str, dict[str, float]] = field(default_factory=dict)


class OneShotCallback:
    """Hooks a one-shot trainer calls while it searches; every hook does nothing by default."""

    def on_fit_start(self, trainer: BaseOneShotTrainer) -> None:
        """Called once, before the first epoch."""

    def on_step_end(self, trainer: BaseOneShotTrainer, step: int, loss: float) -> None:
        """Called after a training step (at most every ``STEP_INTERVAL`` seconds), with the
        number of steps so far and the step's loss: progress before the first epoch ends."""

    def on_epoch_end(self, trainer: BaseOneShotTrainer, epoch: int, logs: EpochLogs) -> None:
        """Called after every epoch (``epoch`` counts from 0)."""

    def on_fit_end(self, trainer: BaseOneShotTrainer) -> None:
        """Called once, after the search (also after a final search phase, e.g. evolution)."""

    def should_stop(self, trainer: BaseOneShotTrainer) -> bool:
        """Asked between the subnets a search phase evaluates (SPOS's evolution, which has no
        training steps to raise :class:`StopSearch` from): True ends it with the best so far."""
        return False


class BaseOneShotTrainer(abc.ABC):
    """Base class of one-shot (weight-sharing) trainers.

    A one-shot trainer gets a model *space* (a model with ``LayerChoice``/``InputChoice``/...),
    trains a supernet that contains every candidate and searches at the same time.

    * :meth:`fit` trains and searches;
    * :meth:`export` returns the chosen architecture as a sample ``{label: value}`` that
      ``retiarii.fixed_arch`` and ``ModelSpace.freeze`` accept.

    Subclasses need not call ``super().__init__()``. To publish progress (what the experiment
    records and the dashboard plots), call :meth:`notify` with the hook name, e.g.
    ``self.notify("on_epoch_end", epoch, EpochLogs(loss, metrics, probs))``.
    """

    @abc.abstractmethod
    def fit(self) -> None:
        """Train the supernet and search."""

    @abc.abstractmethod
    def export(self) -> dict[str, Any]:
        """The architecture found, as a sample ``{label: value}``."""

    @property
    def callbacks(self) -> list[OneShotCallback]:
        """The callbacks notified by this trainer (a list you may append to)."""
        found: list[OneShotCallback] | None = self.__dict__.get("_oneshot_callbacks")
        if found is None:
            found = self.__dict__["_oneshot_callbacks"] = []
        return found

    def add_callback(self, callback: OneShotCallback) -> None:
        """Notify ``callback`` of this trainer's progress."""
        if not isinstance(callback, OneShotCallback):
            raise TypeError(f"callback must be a OneShotCallback, got {callback!r}")
        self.callbacks.append(callback)

    def remove_callback(self, callback: OneShotCallback) -> None:
        """Stop notifying ``callback``."""
        self.callbacks.remove(callback)

    def should_stop(self) -> bool:
        """Whether a callback asks a search phase to end now (:meth:`OneShotCallback.should_stop`)."""
        return any(callback.should_stop(self) for callback in list(self.callbacks))

    def notify_step(self, step: int, loss: Any) -> None:
        """Call ``on_step_end`` on the callbacks, at most every ``STEP_INTERVAL`` seconds (the
        loss, a tensor, is read only then)."""
        now = time.monotonic()
        last = self.__dict__.get("_last_step_notified")
        if not self.callbacks or (last is not None and now - last < STEP_INTERVAL):
            return
        self.__dict__["_last_step_notified"] = now
        self.notify("on_step_end", step, float(loss))

    def notify(self, hook: str, *args: Any) -> None:
        """Call ``hook`` (e.g. ``'on_epoch_end'``) on every callback, with this trainer first."""
        for callback in list(self.callbacks):
            getattr(callback, hook)(self, *args)
