"""``NSGAII`` and ``MultiObjectiveTPE``: Optuna's multi-objective samplers over the encoding.

Like :class:`~retiarii.strategy.TPE`, a label is an Optuna distribution (categorical over the
indices of its values, or a float one for a continuous label) and an in-memory study is driven by
ask/tell; the study minimises the objective vector (:class:`retiarii.pareto.Objectives`). The ask/tell plumbing, seeding and repeat
handling are :class:`~retiarii.strategy._optuna.OptunaStrategy`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._encoding import Index, check_positive_int
from ._multi import MultiObjectiveMixin
from ._optuna import OptunaStrategy, TPEOptions, _import_optuna, _quiet
from .base import Sample, TrialResult

__all__ = ["NSGAII", "MultiObjectiveTPE"]


class _OptunaMultiObjective(MultiObjectiveMixin, OptunaStrategy):
    """The study minimises the objective vector; subclasses give :meth:`make_sampler`."""

    def __init__(
        self,
        objectives: Mapping[str, str] | None = None,
        dedup: bool = True,
        model_filter: Callable[[Sample], bool] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(dedup=dedup, model_filter=model_filter, seed=seed)
        self._init_objectives(objectives)
        self._init_optuna(seed)

    def create_study(self, optuna: Any) -> Any:
        objectives = self.check_objectives()
        return optuna.create_study(directions=["minimize"] * len(objectives))

    def learn(self, index: Index, score: float | None, result: TrialResult) -> None:
        self._record(index, self.vector(result))

    def learn_filtered(self, index: Index) -> None:
        self._record(index, None)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "study": self._study_log()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        if state.get("study") is not None and self._study is not None:
            self._rebuild_study(state["study"])

    # The study's trials carry the sampler's bookkeeping (NSGA-II's generation of each trial and
    # its cached parent populations) that a replay of results cannot recreate: the state keeps a
    # compact log of the study, and a resume rebuilds the study from it exactly.
    def _study_log(self) -> dict[str, Any] | None:
        if self._study is None:
            return None
        storage, study_id = self._study._storage, self._study._study_id
        return {
            "trials": [
                [
                    [t.params[label] for label in self.encoding.labels] if t.params else None,
                    t.state.name,
                    t.values,
                    t.system_attrs,
                ]
                for t in self._study.get_trials(deepcopy=False)
            ],
            "attrs": storage.get_study_system_attrs(study_id),
        }

    def _rebuild_study(self, log: Mapping[str, Any]) -> None:
        optuna = _import_optuna()
        states = optuna.trial.TrialState
        self.reset_study()
        with _quiet(optuna):
            for params, state, values, attrs in log["trials"]:
                done = state == "COMPLETE"
                self._study.add_trial(
                    optuna.trial.create_trial(
                        params=dict(zip(self.encoding.labels, params)) if params else {},
                        distributions=self._distributions if params else {},
                        values=values if done else None,
                        state=states.COMPLETE if done else states.FAIL,
                        system_attrs=attrs,
                    )
                )
            storage, study_id = self._study._storage, self._study._study_id
            for key, value in log["attrs"].items():
                storage.set_study_system_attr(study_id, key, value)
        self._pending = {}


class NSGAII(_OptunaMultiObjective):
    """NSGA-II (non-dominated sorting genetic algorithm), from Optuna's ``NSGAIISampler``.

    Args:
        objectives: ``{metric: 'maximize' | 'minimize'}``; None follows ``config.objectives``.
        population_size: individuals per generation (the first generation is random).
        mutation_prob: probability of re-drawing each label of a child (None: 1 / labels).
        crossover_prob: probability that a child is a crossover of two parents.
        dedup: never propose a sample twice (a repeat is replaced by a new neighbour).
        model_filter: ``fn(sample) -> bool``; rejected samples are not run.
        seed: seed of the sampler and of the strategy's generator.
    """

    def __init__(
        self,
        objectives: Mapping[str, str] | None = None,
        population_size: int = 20,
        mutation_prob: float | None = None,
        crossover_prob: float = 0.9,
        dedup: bool = True,
        model_filter: Callable[[Sample], bool] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(objectives, dedup=dedup, model_filter=model_filter, seed=seed)
        self.population_size = check_positive_int(population_size, "population_size", "NSGAII")
        if self.population_size < 2:
            raise ValueError("NSGAII: population_size must be at least 2")
        self.mutation_prob = mutation_prob
        self.crossover_prob = crossover_prob

    def make_sampler(self, optuna: Any, seed: int) -> Any:
        return optuna.samplers.NSGAIISampler(
            population_size=self.population_size,
            mutation_prob=self.mutation_prob,
            crossover_prob=self.crossover_prob,
            seed=seed,
        )


class MultiObjectiveTPE(TPEOptions, _OptunaMultiObjective):
    """Multi-objective TPE (MOTPE), from Optuna's ``TPESampler`` with several directions.

    Args:
        objectives: ``{metric: 'maximize' | 'minimize'}``; None follows ``config.objectives``.
        n_startup_trials: random samples before the Parzen estimators are used.
        n_ei_candidates: candidates scored per proposal.
        multivariate: model the labels jointly.
        dedup, model_filter, seed: as for :class:`NSGAII`.
    """

    def __init__(
        self,
        objectives: Mapping[str, str] | None = None,
        n_startup_trials: int = 10,
        n_ei_candidates: int = 24,
        multivariate: bool = True,
        dedup: bool = True,
        model_filter: Callable[[Sample], bool] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(objectives, dedup=dedup, model_filter=model_filter, seed=seed)
        self._init_tpe(n_startup_trials, n_ei_candidates, multivariate)

    def make_sampler(self, optuna: Any, seed: int) -> Any:
        return self.tpe_sampler(optuna, seed)
