"""Pruners: stop trials whose intermediate results say they will not be among the best.

A pruner is an :class:`~retiarii.experiment.callbacks.ExperimentCallback` given to the experiment
(``RetiariiExperiment(space, evaluator, strategy=..., pruner=MedianStop())``). The loop calls
:meth:`Pruner.on_intermediate_result` with every intermediate result as it arrives; when the
pruner's rule says stop, it calls ``loop.early_stop(trial_id, reason)``, which asks the trial to
stop by itself (its next ``report_intermediate_result`` raises :class:`retiarii.TrialPruned`; a
Lightning evaluator stops the ``Trainer`` at the end of the epoch) and, after ``stop_timeout``
seconds, cancels a trial that ignored it. The trial ends ``EARLY_STOPPED``, counts in the trial
budget, and the strategy is told its *last intermediate result* as its metric.

Steps and resources: ``step`` is the index (1, 2, ...) of an intermediate result in its trial —
one report per epoch makes it the epoch. ``min_resource``/``max_resource`` are in the same unit.

State: everything a pruner knows is the intermediate results of the trials and which trials ran to
the end, all of which the store holds; :meth:`Pruner.on_experiment_start` rebuilds it from the store,
so a resumed experiment prunes exactly as the same history would have (trials interrupted by the
stop are left out: they run again). Decisions depend only on results the driver has received, so
they do not depend on the executor; with concurrent trials they depend on the order results arrive,
as with any asynchronous pruner.

The decision rules, :meth:`Pruner.report` and :meth:`Pruner.end`, are plain methods on a
hand-made history, usable without an experiment.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .callbacks import ExperimentCallback

if TYPE_CHECKING:
    from ..store import TrialRecord
    from .engine import ExperimentLoop

__all__ = ["Hyperband", "MedianStop", "Pruner", "SuccessiveHalving"]


class Pruner(ExperimentCallback):
    """Base class: keeps the history and turns a decision into ``loop.early_stop``.

    Subclasses implement :meth:`decide`.

    Args:
        stop_timeout: Seconds a pruned trial gets to stop by itself before it is canceled (its
            worker killed and replaced); the trial is ``EARLY_STOPPED`` either way.
        optimize_mode: ``'maximize'`` or ``'minimize'``; by default the experiment's.
    """

    def __init__(self, *, stop_timeout: float = 60.0, optimize_mode: str | None = None) -> None:
        if stop_timeout <= 0:
            raise ValueError(f"stop_timeout must be positive, got {stop_timeout}")
        if optimize_mode not in (None, "maximize", "minimize"):
            raise ValueError(
                f"optimize_mode must be 'maximize' or 'minimize', got {optimize_mode!r}"
            )
        self.stop_timeout = stop_timeout
        self.optimize_mode = optimize_mode
        self.maximize = optimize_mode != "minimize"
        self.history: dict[int, dict[int, float]] = {}  # trial id -> step -> value
        self.completed: list[int] = []  # trials that ran to the end, in the order they ended
        self.pruned: set[int] = set()

    # -- the rule -----------------------------------------------------------------------------------
    def decide(self, trial_id: int, step: int) -> str | None:
        """Why ``trial_id`` should stop after its ``step``-th result, or ``None`` to continue."""
        raise NotImplementedError

    def report(self, trial_id: int, step: int, value: float) -> str | None:
        """Record a result and decide on it; returns the reason to stop, or ``None``."""
        self.history.setdefault(trial_id, {})[step] = value
        if trial_id in self.pruned:
            return None
        reason = self.decide(trial_id, step)
        if reason is not None:
            self.pruned.add(trial_id)
        return reason

    def end(self, trial_id: int, status: str) -> None:
        """Record how a trial ended; only ``SUCCEEDED`` trials count as completed."""
        if status == "SUCCEEDED" and trial_id not in self.completed:
            self.completed.append(trial_id)

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b`` in the optimisation direction."""
        return a > b if self.maximize else a < b

    # -- hooks --------------------------------------------------------------------------------------
    def on_experiment_start(self, loop: ExperimentLoop) -> None:
        """Rebuild the history from the store (a fresh run has none; a resumed one has its past)."""
        if self.optimize_mode is None:
            self.maximize = loop.store.experiment().optimize_mode != "minimize"
        self.history, self.completed, self.pruned = {}, [], set()
        by_trial: dict[int, dict[int, float]] = {}
        for record in loop.store.intermediates():
            by_trial.setdefault(record.trial_id, {})[record.sequence + 1] = record.value_num
        for trial in loop.store.trials():
            if trial.status in ("INTERRUPTED", "WAITING", "RUNNING"):
                continue  # it runs again, reporting again
            self.history[trial.id] = by_trial.get(trial.id, {})
            if trial.status == "EARLY_STOPPED":
                self.pruned.add(trial.id)
            self.end(trial.id, trial.status)

    def on_intermediate_result(
        self, loop: ExperimentLoop, trial_id: int, step: int, value: float
    ) -> None:
        reason = self.report(trial_id, step, value)
        if reason is not None:
            loop.early_stop(trial_id, f"{type(self).__name__}: {reason}", self.stop_timeout)

    def on_trial_ended(self, loop: ExperimentLoop, trial: TrialRecord) -> None:
        self.end(trial.id, trial.status)


class MedianStop(Pruner):
    """NNI's median stopping rule (``MedianstopAssessor``).

    Stop a trial at step ``S`` if its best result up to ``S`` is strictly worse than the median,
    over the *completed* trials that reached step ``S``, of their running averages up to ``S``.
    Nothing is stopped before ``start_step`` or before some trial completed (so the first
    trials always run to the end). For an even count the lower median of the sorted values is
    used when maximizing (the upper when minimizing): the more lenient one, as in NNI.

    Args:
        start_step: The first step at which a trial may be stopped (NNI's ``start_step``).
        stop_timeout, optimize_mode: See :class:`Pruner`.
    """

    def __init__(
        self, start_step: int = 0, *, stop_timeout: float = 60.0, optimize_mode: str | None = None
    ) -> None:
        super().__init__(stop_timeout=stop_timeout, optimize_mode=optimize_mode)
        self.start_step = start_step

    def decide(self, trial_id: int, step: int) -> str | None:
        if step < self.start_step:
            return None
        history = self.history[trial_id]
        values = [history[s] for s in sorted(history) if s <= step]
        best = max(values) if self.maximize else min(values)
        averages = []
        for other in self.completed:
            past = self.history.get(other, {})
            if all(s in past for s in range(1, step + 1)):
                averages.append(sum(past[s] for s in range(1, step + 1)) / step)
        if not averages:
            return None
        averages.sort(reverse=not self.maximize)  # worst first
        median = averages[(len(averages) - 1) // 2]
        if self.better(median, best):
            return (
                f"best result {best:.6g} by step {step} is worse than the median {median:.6g} "
                f"of {len(averages)} completed trial(s)"
            )
        return None


class SuccessiveHalving(Pruner):
    """Asynchronous successive halving (ASHA), as Optuna's ``SuccessiveHalvingPruner``.

    Rungs are at steps ``min_resource * reduction_factor ** (min_early_stopping_rate + k)``
    (k = 0, 1, ...; below ``max_resource`` if given). When a trial reports at a rung, it continues
    only if its result there is among the best ``1/reduction_factor`` of all results recorded at
    that rung so far (at least the single best one is always kept). Nothing waits for a rung to
    fill, so workers never idle: an early trial may be kept that a later one would have beaten.

    Args:
        min_resource: Step of the first rung (Ray Tune calls it ``grace_period``).
        reduction_factor: Keep the best ``1/reduction_factor`` at each rung (Optuna's default 3).
        min_early_stopping_rate: Skip the first rungs: the first is at
            ``min_resource * reduction_factor ** min_early_stopping_rate``.
        max_resource: Steps of a complete trial, if known; no rung at or past it.
        stop_timeout, optimize_mode: See :class:`Pruner`.
    """

    def __init__(
        self,
        min_resource: int = 1,
        reduction_factor: int = 3,
        min_early_stopping_rate: int = 0,
        max_resource: int | None = None,
        *,
        stop_timeout: float = 60.0,
        optimize_mode: str | None = None,
    ) -> None:
        super().__init__(stop_timeout=stop_timeout, optimize_mode=optimize_mode)
        if min_resource < 1:
            raise ValueError(f"min_resource must be at least 1, got {min_resource}")
        if reduction_factor < 2:
            raise ValueError(f"reduction_factor must be at least 2, got {reduction_factor}")
        if min_early_stopping_rate < 0:
            raise ValueError(f"min_early_stopping_rate must be >= 0, got {min_early_stopping_rate}")
        if max_resource is not None and max_resource < min_resource:
            raise ValueError(
                f"max_resource ({max_resource}) must be at least min_resource ({min_resource})"
            )
        self.min_resource = min_resource
        self.reduction_factor = reduction_factor
        self.min_early_stopping_rate = min_early_stopping_rate
        self.max_resource = max_resource

    def rung_steps(self, limit: int, early_stopping_rate: int | None = None) -> list[int]:
        """The rung steps up to ``limit`` (and below ``max_resource``)."""
        steps: list[int] = []
        k = self.min_early_stopping_rate if early_stopping_rate is None else early_stopping_rate
        while True:
            step = self.min_resource * self.reduction_factor**k
            if step > limit or (self.max_resource is not None and step >= self.max_resource):
                return steps
            steps.append(step)
            k += 1

    def peers(self, trial_id: int) -> list[int]:
        """The trials whose results at a rung compete with ``trial_id``'s (all of them here)."""
        return list(self.history)

    def early_stopping_rate(self, trial_id: int) -> int:
        """How many rungs ``trial_id`` skips (the same for all trials here)."""
        return self.min_early_stopping_rate

    def decide(self, trial_id: int, step: int) -> str | None:
        if step not in self.rung_steps(step, self.early_stopping_rate(trial_id)):
            return None
        value = self.history[trial_id][step]
        competing = [
            self.history[other][step]
            for other in self.peers(trial_id)
            if step in self.history[other]
        ]
        competing.sort(reverse=self.maximize)  # best first
        keep = max(1, len(competing) // self.reduction_factor)
        if self.better(competing[keep - 1], value):
            return (
                f"result {value:.6g} at rung step {step} is not in the best {keep} of "
                f"{len(competing)} (reduction factor {self.reduction_factor})"
            )
        return None


class Hyperband(SuccessiveHalving):
    """Hyperband, as Optuna's ``HyperbandPruner``: several ASHA brackets side by side.

    Bracket ``s`` (0 .. n-1, with ``n = floor(log_eta(max_resource / min_resource)) + 1``) is
    successive halving with ``min_early_stopping_rate = s``: bracket 0 prunes aggressively from
    ``min_resource`` on, the last one hardly at all, hedging against a low fidelity that misleads.
    Each trial is put in one bracket by its id (deterministic, so resume is exact), with more
    trials in the brackets that start small (bracket ``s`` gets a share proportional to
    ``ceil(n * eta**(n-1-s) / (n - s))``, Hyperband's budget per bracket), and competes only with
    the trials of its bracket.

    Args:
        min_resource, reduction_factor: As in :class:`SuccessiveHalving`.
        max_resource: Steps of a complete trial (required: it sets the brackets).
        stop_timeout, optimize_mode: See :class:`Pruner`.
    """

    def __init__(
        self,
        min_resource: int = 1,
        max_resource: int = 100,
        reduction_factor: int = 3,
        *,
        stop_timeout: float = 60.0,
        optimize_mode: str | None = None,
    ) -> None:
        super().__init__(
            min_resource,
            reduction_factor,
            0,
            max_resource,
            stop_timeout=stop_timeout,
            optimize_mode=optimize_mode,
        )
        n = math.floor(math.log(max_resource / min_resource, reduction_factor) + 1e-9) + 1
        self.n_brackets = n
        self.budgets = [math.ceil(n * reduction_factor ** (n - 1 - s) / (n - s)) for s in range(n)]

    def bracket(self, trial_id: int) -> int:
        """The bracket of a trial: its id modulo the total budget, mapped to budget shares."""
        slot = trial_id % sum(self.budgets)
        for s, budget in enumerate(self.budgets):
            if slot < budget:
                return s
            slot -= budget
        return self.n_brackets - 1  # unreachable

    def peers(self, trial_id: int) -> list[int]:
        bracket = self.bracket(trial_id)
        return [other for other in self.history if self.bracket(other) == bracket]

    def early_stopping_rate(self, trial_id: int) -> int:
        return self.bracket(trial_id)

    def decide(self, trial_id: int, step: int) -> str | None:
        reason = super().decide(trial_id, step)
        return None if reason is None else f"bracket {self.bracket(trial_id)}: {reason}"
