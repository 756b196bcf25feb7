"""``MultiObjectiveEvolution``: regularized (aging) evolution ranked by Pareto dominance.

RegularizedEvolution's loop — a population of the most recent results, tournaments, one mutated
child per proposal, the oldest member leaving — with NSGA-II's ranking in the tournament: a member
wins by a lower non-dominated front in the population, ties broken by a larger crowding distance
(so the front stays spread out instead of collapsing on one objective).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from ..pareto import crowding_distance, non_dominated_sort
from ._encoding import Index
from ._indexed import IndexedStrategy
from ._multi import MultiObjectiveMixin
from .base import Sample, TrialResult
from .evolution import check_tournament

__all__ = ["MultiObjectiveEvolution"]


class MultiObjectiveEvolution(MultiObjectiveMixin, IndexedStrategy):
    """Regularized evolution for several objectives (non-dominated sorting + crowding distance).

    Args:
        objectives: ``{metric: 'maximize' | 'minimize'}``; None follows ``config.objectives``.
        population_size: members kept (the most recent results); also the number of random
            samples before evolution starts.
        sample_size: tournament size.
        mutation_prob: probability of re-drawing each label of the child (at least one label
            always changes).
        dedup: never propose a sample twice.
        model_filter: ``fn(sample) -> bool``; rejected samples are not run.
        seed: seed of the strategy's generator.
    """

    def __init__(
        self,
        objectives: Mapping[str, str] | None = None,
        population_size: int = 20,
        sample_size: int = 5,
        mutation_prob: float = 0.1,
        dedup: bool = True,
        model_filter: Callable[[Sample], bool] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(dedup=dedup, model_filter=model_filter, seed=seed)
        self._init_objectives(objectives)
        self.population_size, self.sample_size = check_tournament(
            type(self).__name__, population_size, sample_size, mutation_prob
        )
        self.mutation_prob = mutation_prob
        self.population: deque[tuple[Index, tuple[float, ...]]] = deque(maxlen=population_size)

    def reset(self) -> None:
        self.check_objectives()
        self.population = deque(maxlen=self.population_size)

    def _parent(self) -> Index:
        members = list(self.population)
        points = [vector for _, vector in members]
        rank: dict[int, int] = {}
        crowd: dict[int, float] = {}
        for r, front in enumerate(non_dominated_sort(points)):
            crowd.update(crowding_distance(points, front))
            rank.update({i: r for i in front})
        contenders = self.rng.sample(range(len(members)), self.sample_size)
        best = min(contenders, key=lambda i: (rank[i], -crowd[i]))
        return members[best][0]

    def _mutate(self, index: Index) -> Index:
        out = list(index)
        for pos in self.encoding.mutable_positions:
            if self.rng.random() < self.mutation_prob:
                out[pos] = self.encoding.change(pos, out[pos], self.rng)
        child = tuple(out)
        return child if child != index else self.encoding.mutate(index, self.rng)

    def propose_index(self) -> Index | None:
        if len(self.population) < self.population_size:
            return self.random_index()
        for _ in range(100):
            child = self._mutate(self._parent())
            if self.is_new(child):
                return child
        return self.random_index()

    def learn(self, index: Index, score: float | None, result: TrialResult) -> None:
        vector = self.vector(result)
        if vector is not None:
            self.population.append((index, vector))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_encoding"] = None
        return state
