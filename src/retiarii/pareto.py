"""Several objectives: their directions, Pareto fronts, crowding and hypervolume (pure Python).

Used by the multi-objective strategies, ``export_top_models`` / ``retiarii export --pareto``, the
store's front marking and the dashboard, so every layer may import it (it imports nothing of
retiarii, and not torch).

Conventions: an objective is a key of the metric dict a trial reports (``'default'`` is the
number ``report_final_result(x)`` reports, or ``x['default']``); :meth:`Objectives.vector` turns
a metric into a tuple *to minimise* (maximised objectives are negated), and every function below
works on such tuples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "Objectives",
    "crowding_distance",
    "hypervolume",
    "non_dominated_sort",
    "pareto_front",
]

Point = Sequence[float]


class Objectives:
    """Named objectives with directions, e.g. ``Objectives({'default': 'maximize', 'flops': 'minimize'})``.

    Raises ``ValueError`` naming the objective when a direction is not ``'maximize'`` or
    ``'minimize'``, or when there is none.
    """

    def __init__(self, directions: Mapping[str, str]) -> None:
        if not isinstance(directions, Mapping) or not directions:
            raise ValueError(
                "objectives must be a non-empty dict {metric name: 'maximize' | 'minimize'}, "
                f"e.g. {{'default': 'maximize', 'flops': 'minimize'}}; got {directions!r}"
            )
        for name, direction in directions.items():
            if not isinstance(name, str):
                raise ValueError(f"objective names are metric keys (strings), got {name!r}")
            if direction not in ("maximize", "minimize"):
                raise ValueError(
                    f"objective {name!r}: direction must be 'maximize' or 'minimize', "
                    f"got {direction!r}"
                )
        self.directions: dict[str, str] = dict(directions)

    @property
    def names(self) -> list[str]:
        """The objectives' names, in order."""
        return list(self.directions)

    def __len__(self) -> int:
        return len(self.directions)

    def __repr__(self) -> str:
        return f"Objectives({self.directions!r})"

    def values(self, metric: Any) -> dict[str, float] | None:
        """``{name: value}`` read from a reported metric; None when one is missing or not finite."""
        found = metric if isinstance(metric, Mapping) else {"default": metric}
        out: dict[str, float] = {}
        for name in self.directions:
            value = found.get(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return None
            if not math.isfinite(value):
                return None
            out[name] = float(value)
        return out

    def vector(self, metric: Any) -> tuple[float, ...] | None:
        """The metric as a tuple to minimise (maximised objectives negated); None if incomplete."""
        values = self.values(metric)
        if values is None:
            return None
        return tuple(
            -values[n] if d == "maximize" else values[n] for n, d in self.directions.items()
        )


def dominates(a: Point, b: Point) -> bool:
    """Whether ``a`` is at least as good as ``b`` everywhere and better somewhere (minimising)."""
    better = False
    for x, y in zip(a, b):
        if x > y:
            return False
        if x < y:
            better = True
    return better


def non_dominated_sort(points: Sequence[Point]) -> list[list[int]]:
    """Indices of ``points`` by front: the Pareto front first (NSGA-II's fast sort, O(M N^2))."""
    n = len(points)
    dominated_by: list[list[int]] = [[] for _ in range(n)]
    count = [0] * n
    for i in range(n):
        for j in range(i + 1, n):
            if dominates(points[i], points[j]):
                dominated_by[i].append(j)
                count[j] += 1
            elif dominates(points[j], points[i]):
                dominated_by[j].append(i)
                count[i] += 1
    fronts: list[list[int]] = [[i for i in range(n) if count[i] == 0]]
    while fronts[-1]:
        nxt = []
        for i in fronts[-1]:
            for j in dominated_by[i]:
                count[j] -= 1
                if count[j] == 0:
                    nxt.append(j)
        fronts.append(sorted(nxt))
    return fronts[:-1]


def pareto_front(points: Sequence[Point]) -> list[int]:
    """Indices of the non-dominated points (equal points are all kept)."""
    return non_dominated_sort(points)[0] if points else []


def crowding_distance(points: Sequence[Point], front: Sequence[int]) -> dict[int, float]:
    """NSGA-II's crowding distance of each index of ``front`` (boundary points: infinity)."""
    distance = {i: 0.0 for i in front}
    if len(front) <= 2:
        return {i: math.inf for i in front}
    for m in range(len(points[front[0]])):
        ordered = sorted(front, key=lambda i: points[i][m])
        low, high = points[ordered[0]][m], points[ordered[-1]][m]
        distance[ordered[0]] = distance[ordered[-1]] = math.inf
        if high == low:
            continue
        for k in range(1, len(ordered) - 1):
            distance[ordered[k]] += (points[ordered[k + 1]][m] - points[ordered[k - 1]][m]) / (
                high - low
            )
    return distance


def hypervolume(points: Sequence[Point], reference: Point) -> float:
    """Volume dominated by ``points`` and bounded by ``reference`` (minimising; exact).

    Points not strictly better than the reference in every objective add nothing. Two objectives
    take a sweep (O(N log N)); more use recursive slicing, fine for the fronts a search finds.
    """
    kept = [tuple(p) for p in points if all(x < r for x, r in zip(p, reference))]
    if not kept:
        return 0.0
    return _hv(kept, tuple(reference))


def _hv(points: list[tuple[float, ...]], ref: tuple[float, ...]) -> float:
    if len(ref) == 1:
        return ref[0] - min(p[0] for p in points)
    if len(ref) == 2:
        volume, best_y = 0.0, ref[1]
        for x, y in sorted(points):
            if y < best_y:
                volume += (ref[0] - x) * (best_y - y)
                best_y = y
        return volume
    # slice along the last objective
    ordered = sorted(points, key=lambda p: p[-1])
    volume = 0.0
    for k, p in enumerate(ordered):
        upper = ordered[k + 1][-1] if k + 1 < len(ordered) else ref[-1]
        if upper > p[-1]:
            volume += _hv([q[:-1] for q in ordered[: k + 1]], ref[:-1]) * (upper - p[-1])
    return volume
