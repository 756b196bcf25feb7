"""``TPE``: Optuna's Tree-structured Parzen Estimator over the categorical encoding.

Optuna is an optional dependency (the ``tpe`` extra); it is imported when the strategy
is attached, not when ``retiarii.strategy`` is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ._encoding import Index
from ._optuna import OptunaStrategy, TPEOptions
from .base import Sample, TrialResult

__all__ = ["TPE"]


class TPE(TPEOptions, OptunaStrategy):
    """Tree-structured Parzen Estimator, from Optuna's ``TPESampler`` (ask/tell).

    Every label is an Optuna ``CategoricalDistribution`` over the indices of its values, except
    continuous distributions, which Optuna models natively: ``uniform``/``loguniform`` as a
    ``FloatDistribution`` over the value (``log=True`` for ``loguniform``), ``normal`` as a
    ``FloatDistribution`` over its cumulative probability (Optuna has no normal prior). The
    strategy keeps an in-memory Optuna study: a proposal is ``study.ask()``, a result is
    ``study.tell()``. Results Optuna did not ask for (replayed on resume, or of a new sample that
    replaced a repeat) are added with ``study.add_trial``.

    Args:
        optimize_mode: ``'maximize'`` or ``'minimize'``; None (default) follows the experiment.
        n_startup_trials: random samples before the Parzen estimators are used.
        n_ei_candidates: candidates scored by expected improvement per proposal.
        multivariate: model the labels jointly (Optuna's multivariate TPE) instead of one by one.
        group: decompose the space into groups of labels that occur together (for conditional
            spaces; needs ``multivariate``).
        constant_liar: treat running trials as bad results, so that trials proposed while others
            run are spread out.
        dedup: never propose a sample twice. TPE concentrates on its best region and often
            proposes a sample that already ran (on NAS-Bench-201: one in five of its first 100
            proposals, nearly all of the next 100); such a repeat is recorded as failed in the
            study and replaced by a new sample one label away from it (a random new sample if
            there is none), so a converged TPE keeps searching around its best region.
        on_failure: failed trials are failed in the study (``'ignore'``: TPE does not learn from
            them) or told as the worst possible value (``'worst'``).
        model_filter: ``fn(sample) -> bool``; rejected samples are not run and count as failures.
        seed: seed; each proposal uses a sampler seeded from it and the proposal's number, so a
            resumed experiment continues as the uninterrupted one would (exactly so when trials
            run one at a time; with several at once, the replayed study may order the results
            that were in flight differently).
        **sampler_kwargs: further arguments of ``optuna.samplers.TPESampler``.
    """

    #: TPE proposals per sample before a repeat is replaced by a neighbour.
    max_repeats = 1

    def __init__(
        self,
        optimize_mode: str | None = None,
        n_startup_trials: int = 10,
        n_ei_candidates: int = 24,
        multivariate: bool = True,
        group: bool = False,
        constant_liar: bool = True,
        dedup: bool = True,
        on_failure: str = "ignore",
        model_filter: Callable[[Sample], bool] | None = None,
        seed: int | None = None,
        **sampler_kwargs: Any,
    ) -> None:
        super().__init__(
            optimize_mode=optimize_mode,
            dedup=dedup,
            on_failure=on_failure,
            model_filter=model_filter,
            seed=seed,
        )
        self._init_tpe(n_startup_trials, n_ei_candidates, multivariate)
        if group and not multivariate:
            raise ValueError(f"{type(self).__name__}: group=True needs multivariate=True")
        self.group = bool(group)
        self.constant_liar = bool(constant_liar)
        #: further arguments of ``TPESampler``
        self.sampler_kwargs = dict(sampler_kwargs)
        self._init_optuna(seed)

    def create_study(self, optuna: Any) -> Any:
        return optuna.create_study(direction=self.optimize_mode)

    def make_sampler(self, optuna: Any, seed: int) -> Any:
        return self.tpe_sampler(
            optuna, seed, group=self.group, constant_liar=self.constant_liar, **self.sampler_kwargs
        )

    # -- learning -----------------------------------------------------------------------------
    def _value(self, score: float | None) -> float | None:
        if score is None:
            return None
        return score if self.optimize_mode == "maximize" else -score

    def learn(self, index: Index, score: float | None, result: TrialResult) -> None:
        self._tell(index, score)

    def learn_filtered(self, index: Index) -> None:
        self._tell(index, -math.inf if self.on_failure == "worst" else None)

    def _tell(self, index: Index, score: float | None) -> None:
        value = self._value(score)
        self._record(index, None if value is None else [value])
