"""``NSGAII`` and ``MultiObjectiveTPE``: Optuna's multi-objective samplers over the encoding.

Like :class:`~retiarii.strategy.TPE`, every label is an Optuna categorical distribution over the
indices of its values and an in-memory study is driven by ask/tell; the study minimises the
objective vector (:class:`retiarii.pareto.Objectives`). Each proposal uses a sampler seeded from
``seed`` and the proposal's number, so a resumed experiment (whose finished trials are replayed
into a new study) continues with the same seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._encoding import Index, check_positive_int
from ._indexed import IndexedStrategy
from ._multi import MultiObjectiveMixin
from .base import Sample, TrialResult
from .tpe import _import_optuna, _quiet

__all__ = ["NSGAII", "MultiObjectiveTPE"]


class _OptunaMultiObjective(MultiObjectiveMixin, IndexedStrategy):
    """Shared ask/tell plumbing; subclasses give :meth:`make_sampler`."""

    def __init__(
        self,
        objectives: Mapping[str, str] | None = None,
        dedup: bool = True,
        model_filter: Callable[[Sample], bool] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(dedup=dedup, model_filter=model_filter, seed=seed)
        self._init_objectives(objectives)
        self.asks = 0
        self.base_seed = seed if seed is not None else self.rng.randrange(2**31)
        self._study: Any = None
        self._pending: dict[Index, list[int]] = {}

    def make_sampler(self, optuna: Any, seed: int) -> Any:
        raise NotImplementedError

    def reset(self) -> None:
        self.reset_study()
        self.asks = 0

    def reset_study(self) -> None:
        """A new, empty study over the encoding."""
        optuna = _import_optuna()
        objectives = self.check_objectives()
        with _quiet(optuna):
            self._study = optuna.create_study(directions=["minimize"] * len(objectives))
        self._distributions = {
            label: optuna.distributions.CategoricalDistribution(list(range(size)))
            for label, size in zip(self.encoding.labels, self.encoding.sizes)
        }
        self._pending = {}

    def propose_index(self) -> Index | None:
        optuna = _import_optuna()
        self.asks += 1
        with _quiet(optuna):
            self._study.sampler = self.make_sampler(
                optuna, (self.base_seed * 1_000_003 + self.asks) % (2**32)
            )
            trial = self._study.ask(self._distributions)
        index = tuple(int(trial.params[label]) for label in self.encoding.labels)
        if self.is_new(index):
            self._pending.setdefault(index, []).append(trial.number)
            return index
        with _quiet(optuna):  # a repeat: failed in the study, replaced by a new neighbour
            self._study.tell(trial, state=optuna.trial.TrialState.FAIL)
        for _ in range(50):
            candidate = self.encoding.mutate(index, self.rng)
            if self.is_new(candidate):
                return candidate
        return self.random_index()

    def _record(self, index: Index, values: tuple[float, ...] | None) -> None:
        optuna = _import_optuna()
        numbers = self._pending.get(index)
        fail = optuna.trial.TrialState.FAIL
        with _quiet(optuna):
            if numbers:
                number = numbers.pop(0)
                if not numbers:
                    del self._pending[index]
                if values is None:
                    self._study.tell(number, state=fail)
                else:
                    self._study.tell(number, list(values))
                return
            self._study.add_trial(
                optuna.trial.create_trial(
                    params=dict(zip(self.encoding.labels, index)),
                    distributions=self._distributions,
                    values=list(values) if values is not None else None,
                    state=optuna.trial.TrialState.COMPLETE if values is not None else fail,
                )
            )

    def learn(self, index: Index, score: float | None, result: TrialResult) -> None:
        self._record(index, self.vector(result))

    def learn_filtered(self, index: Index) -> None:
        self._record(index, None)

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "asks": self.asks,
            "base_seed": self.base_seed,
            "study": self._study_log(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.asks = int(state.get("asks", self.asks))
        self.base_seed = int(state.get("base_seed", self.base_seed))
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

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_study"] = None
        state["_pending"] = {}
        state["_encoding"] = None
        return state


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


class MultiObjectiveTPE(_OptunaMultiObjective):
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
        owner = type(self).__name__
        self.n_startup_trials = check_positive_int(n_startup_trials, "n_startup_trials", owner)
        self.n_ei_candidates = check_positive_int(n_ei_candidates, "n_ei_candidates", owner)
        self.multivariate = bool(multivariate)

    def make_sampler(self, optuna: Any, seed: int) -> Any:
        return optuna.samplers.TPESampler(
            n_startup_trials=self.n_startup_trials,
            n_ei_candidates=self.n_ei_candidates,
            multivariate=self.multivariate,
            seed=seed,
        )
