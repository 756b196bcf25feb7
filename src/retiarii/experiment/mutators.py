"""Classic multi-trial mutators (seeds 000/002): ``mutate(model)`` edits a copy of the base model,
asking ``self.choice(candidates)`` for each decision.

The decisions are discovered by a dry run (every ``choice`` returns its first candidate) and join
the search space with labels ``{mutator label}/choice_{n}``; for each trial the mutators are
replayed on a fresh copy of the base model with the sampled values. A mutator whose *number* of
``choice`` calls depends on earlier choices is not supported (the dry run sees one path only).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from ..mutable import Categorical, SampleError, SearchSpace
from ..mutable.labels import label_or_auto
from ..mutable.space import SearchSpaceView

__all__ = ["MutatedSpace", "Mutator", "space_with_mutators"]


class Mutator:
    """Base class of classic mutators: override :meth:`mutate` and call :meth:`choice`."""

    def __init__(self, label: str | None = None) -> None:
        self.label = label_or_auto(label, type(self).__name__)
        self._choose: Callable[[Categorical], Any] | None = None
        self._count = 0

    def mutate(self, model: Any) -> None:
        """Edit ``model`` (a deep copy of the base model) in place."""
        raise NotImplementedError

    def choice(self, candidates: Iterable[Any]) -> Any:
        """One of ``candidates``: the first during the dry run, the sampled one in a trial."""
        if self._choose is None:
            raise RuntimeError(
                "Mutator.choice() can only be called from mutate() during an experiment"
            )
        decision = Categorical(list(candidates), label=f"{self.label}/choice_{self._count}")
        self._count += 1
        return self._choose(decision)

    def apply(self, model: Any, choose: Callable[[Categorical], Any]) -> None:
        """Run :meth:`mutate` on ``model`` with ``choose`` deciding every ``choice``."""
        self._choose, self._count = choose, 0
        try:
            self.mutate(model)
        finally:
            self._choose = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_choose"] = None
        return state


class MutatedSpace(SearchSpaceView):
    """A base model plus mutators, with the same interface as ``ModelSpace``."""

    def __init__(self, base_model: Any, mutators: list[Mutator]) -> None:
        from ..nn.pytorch.freeze import collect_search_space

        for mutator in mutators:
            if not isinstance(mutator, Mutator):
                raise TypeError(
                    f"applied_mutators must be retiarii.Mutator objects, got {mutator!r}"
                )
        self.model = base_model
        self.mutators = mutators
        decisions: list[Categorical] = []

        def record(decision: Categorical) -> Any:
            decisions.append(decision)
            return decision.candidates[0]

        dry = copy.deepcopy(base_model)
        for mutator in mutators:
            mutator.apply(dry, record)
        self.search_space = SearchSpace(decisions)
        for choice in collect_search_space(dry).values():
            self.search_space.add(choice)

    def build(self, sample: dict[str, Any]) -> Any:
        """Replay the mutators on a fresh copy of the base model, then freeze inline choices."""
        from ..nn.pytorch.freeze import Freezer

        valid = self.validate(sample)
        model = copy.deepcopy(self.model)

        def replay(decision: Categorical) -> Any:
            if decision.label not in valid:
                raise SampleError(
                    f"mutator decision {decision.label!r} was not seen in the dry run"
                )
            return decision.freeze(valid)

        for mutator in self.mutators:
            mutator.apply(model, replay)
        return Freezer(valid).module(model)

    freeze = build


def space_with_mutators(base_model: Any, mutators: list[Any]) -> Any:
    """``ModelSpace(base_model)``, or a :class:`MutatedSpace` when mutators are given."""
    if mutators:
        return MutatedSpace(base_model, mutators)
    from ..nn.pytorch.space import ModelSpace

    return ModelSpace(base_model)
