"""``RegularizedEvolution``: aging evolution with tournament selection (Real et al., 2019)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from ._encoding import Index, check_positive_int
from ._indexed import IndexedStrategy
from .base import Sample, TrialResult

__all__ = ["RegularizedEvolution"]


def check_tournament(
    owner: str, population_size: Any, sample_size: Any, mutation_prob: Any
) -> tuple[int, int]:
    """``(population_size, sample_size)`` of an aging-evolution strategy once they and
    ``mutation_prob`` are checked; a ``ValueError`` naming the argument otherwise."""
    population_size = check_positive_int(population_size, "population_size", owner)
    sample_size = check_positive_int(sample_size, "sample_size", owner)
    if sample_size > population_size:
        raise ValueError(
            f"{owner}: sample_size ({sample_size}) cannot exceed population_size "
            f"({population_size})"
        )
    if not 0.0 <= mutation_prob <= 1.0:
        raise ValueError(f"{owner}: mutation_prob must be in [0, 1], got {mutation_prob!r}")
    return population_size, sample_size


class RegularizedEvolution(IndexedStrategy):
    """Regularized (aging) evolution, from "Regularized Evolution for Image Classifier
    Architecture Search" (Real et al., AAAI 2019).

    The first ``population_size`` proposals are random. After that each proposal is a tournament:
    ``sample_size`` members of the population are drawn at random and the best becomes the parent
    (with ``crossover``, the best two are mixed label by label); the child redraws every label
    with probability ``mutation_prob`` and always differs from its parent in at least one label.
    Every finished trial joins the population and the oldest member leaves, so the population is
    the ``population_size`` most recent results. Proposing and learning cost O(``sample_size``).

    Args:
        optimize_mode: ``'maximize'`` or ``'minimize'``; None (default) follows the experiment.
        population_size: size of the population (and number of initial random samples).
        sample_size: tournament size.
        cycles: how many samples it proposes in all (the initial random ones included), then the
            search ends, as NNI's ``cycles``; None: no limit but the experiment's budget.
        mutation_prob: probability that a label is redrawn in a mutation.
        on_failure: a failed trial is left out of the population (``'ignore'``) or joins it as the
            worst possible result (``'worst'``), so that it ages out like any other.
        dedup: never propose a sample twice (the experiment ends when the space is used up).
        model_filter: ``fn(sample) -> bool``; rejected samples are not run and count as failures.
        crossover: mix the two best of the tournament before mutating.
        seed: seed of the random generator.

    The arguments up to ``model_filter`` are NNI 2.10's, in its order.
    For small budgets (a hundred trials) a small population with a small tournament works best;
    e.g. ``population_size=10, sample_size=5`` on NAS-Bench-201 (see ``benchmarks/``).
    """

    def __init__(
        self,
        optimize_mode: str | None = None,
        population_size: int = 100,
        sample_size: int = 25,
        cycles: int | None = 20000,
        mutation_prob: float = 0.05,
        on_failure: str = "ignore",
        dedup: bool = True,
        model_filter: Callable[[Sample], bool] | None = None,
        crossover: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            optimize_mode=optimize_mode,
            dedup=dedup,
            on_failure=on_failure,
            model_filter=model_filter,
            seed=seed,
        )
        owner = type(self).__name__
        self.population_size, self.sample_size = check_tournament(
            owner, population_size, sample_size, mutation_prob
        )
        self.mutation_prob = float(mutation_prob)
        self.crossover = bool(crossover)
        self.cycles = None if cycles is None else check_positive_int(cycles, "cycles", owner)
        self.cycles_done = 0
        self.population: deque[tuple[Index, float]] = deque()
        self.random_proposed = 0

    def reset(self) -> None:
        self.population = deque()
        self.random_proposed = 0
        self.cycles_done = 0

    def ask(self) -> Sample | None:
        if self.cycles is not None and self.cycles_done >= self.cycles:
            if not self.exhausted:
                self._exhaust(f"all {self.cycles} cycles have been proposed")
            return None
        sample = super().ask()
        if sample is not None:
            self.cycles_done += 1
        return sample

    def propose_index(self) -> Index | None:
        if self.random_proposed < self.population_size or not self.population:
            self.random_proposed += 1
            return self.random_index()
        for _ in range(100):
            child = self._child()
            if self.is_new(child):
                return child
        return self.random_index()  # the parents' neighbourhoods are used up

    def _child(self) -> Index:
        pop = self.population
        drawn = self.rng.sample(range(len(pop)), min(self.sample_size, len(pop)))
        ranked = sorted(drawn, key=lambda i: pop[i][1], reverse=True)
        parent = pop[ranked[0]][0]
        if self.crossover and len(ranked) > 1:
            other = pop[ranked[1]][0]
            parent = tuple(a if self.rng.random() < 0.5 else b for a, b in zip(parent, other))
        # each label is redrawn with probability mutation_prob (a continuous one: a Gaussian step)
        child = tuple(
            self.encoding.redraw(pos, value, self.rng)
            if self.rng.random() < self.mutation_prob
            else value
            for pos, value in enumerate(parent)
        )
        return child if child != parent else self.encoding.mutate(parent, self.rng)

    def learn(self, index: Index, score: float | None, result: TrialResult) -> None:
        if score is None:
            return
        self.population.append((index, score))
        if len(self.population) > self.population_size:
            self.population.popleft()

    def learn_filtered(self, index: Index) -> None:
        if self.on_failure == "worst":
            self.learn(index, -math.inf, TrialResult(-1, {}, "FAILED", None))

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "random_proposed": self.random_proposed,
            "cycles_done": self.cycles_done,
            "population": [
                [list(index), score if math.isfinite(score) else None]
                for index, score in self.population
            ],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.random_proposed = int(state.get("random_proposed", self.random_proposed))
        self.cycles_done = int(state.get("cycles_done", self.cycles_done))
        if "population" in state:
            self.population = deque(
                (self.encoding.from_json(index), -math.inf if score is None else float(score))
                for index, score in state["population"]
            )
