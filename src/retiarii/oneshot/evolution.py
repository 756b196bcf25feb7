"""Evolutionary search over a search space with a given fitness (SPOS, Guo et al., 2020).

Pure Python (no torch): the fitness is any ``evaluate(sample) -> float`` (higher is better), e.g.
the validation accuracy of a subnet of a trained supernet. Each cycle keeps the ``topk`` best
samples seen so far as parents and makes a new population from them, half by mutation (each
label redrawn with probability ``mutation_prob``) and half by crossover (each label from either
parent). A sample is never evaluated twice, and samples failing ``constraint`` never at all.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..mutable import Choice

__all__ = ["EvolutionResult", "evolution_search"]

Sample = dict[str, Any]


@dataclass
class EvolutionResult:
    """The best sample found, its fitness, and every evaluated ``(sample, fitness)`` in order."""

    best: Sample
    score: float
    history: list[tuple[Sample, float]] = field(default_factory=list)


def _key(sample: Mapping[str, Any]) -> str:
    return json.dumps(sample, sort_keys=True, separators=(",", ":"))


def evolution_search(
    space: Mapping[str, Choice],
    evaluate: Callable[[Sample], float],
    *,
    population_size: int = 20,
    cycles: int = 10,
    topk: int | None = None,
    mutation_prob: float = 0.1,
    constraint: Callable[[Sample], bool] | None = None,
    seed: int | random.Random | None = None,
    max_tries: int = 100,
) -> EvolutionResult:
    """Search ``space`` (``{label: choice}``, e.g. a ``SearchSpace``) for the sample maximising
    ``evaluate``; at most ``population_size * (cycles + 1)`` evaluations.

    Args:
        space: the decisions to search.
        evaluate: fitness of a sample (higher is better).
        population_size: samples per generation.
        cycles: generations after the initial random one.
        topk: parents per generation (default ``population_size // 2``).
        mutation_prob: probability of redrawing each label in a mutation.
        constraint: samples for which it returns False are skipped (e.g. a FLOPs budget).
        seed: an int or a ``random.Random``.
        max_tries: give up making a new child after this many duplicates or rejections
            (per child); the search ends early when the space is exhausted.
    """
    if population_size < 1 or cycles < 0:
        raise ValueError("population_size must be >= 1 and cycles >= 0")
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    labels = list(space)
    k = max(1, topk if topk is not None else population_size // 2)
    seen: set[str] = set()
    history: list[tuple[Sample, float]] = []

    violation = getattr(space, "violation", None)  # a SearchSpace's constraints

    def admit(sample: Sample) -> bool:
        key = _key(sample)
        if key in seen:
            return False
        seen.add(key)  # rejected samples are not tried again either
        if violation is not None and violation(sample) is not None:
            return False  # breaks a rule of the space (e.g. NAS-Bench-101's edge limit)
        return constraint is None or bool(constraint(sample))

    def random_sample() -> Sample:
        return {label: space[label].random(rng) for label in labels}

    def mutate(parent: Sample) -> Sample:
        return {
            label: space[label].random(rng) if rng.random() < mutation_prob else value
            for label, value in parent.items()
        }

    def crossover(a: Sample, b: Sample) -> Sample:
        return {label: a[label] if rng.random() < 0.5 else b[label] for label in labels}

    def make(n: int, proposal: Callable[[], Sample]) -> list[Sample]:
        out: list[Sample] = []
        for _ in range(n):
            for _ in range(max_tries):
                candidate = proposal()
                if admit(candidate):
                    out.append(candidate)
                    break
        return out

    def run(samples: list[Sample]) -> None:
        for sample in samples:
            history.append((sample, float(evaluate(sample))))

    run(make(population_size, random_sample))
    parents: list[Sample] = []
    for _ in range(cycles):
        if not history:
            break
        parents[:] = [s for s, _ in sorted(history, key=lambda h: -h[1])[:k]]
        n_mutation = population_size // 2
        children = make(n_mutation, lambda: mutate(rng.choice(parents)))
        children += make(
            population_size - n_mutation,
            lambda: crossover(rng.choice(parents), rng.choice(parents)),
        )
        if not children:
            children = make(population_size, random_sample)
        if not children:
            break  # the space is exhausted
        run(children)
    if not history:
        raise ValueError("evolution_search: no sample satisfies the constraint")
    best, score = max(history, key=lambda h: h[1])
    return EvolutionResult(dict(best), score, history)
