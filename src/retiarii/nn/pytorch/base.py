"""The protocol between choice modules and the freeze/collect walks.

A module takes part in a walk by defining any of:

* ``_retiarii_decisions(self) -> Iterable[Choice]`` — the labelled choices it owns;
* ``_retiarii_walk_children: bool`` — whether its children may hold further choices
  (``False`` for modules rebuilt whole, such as layers with value-choice arguments);
* ``_retiarii_freeze(self, freezer) -> nn.Module`` — its frozen replacement (it may call
  ``freezer.module(child)`` to freeze what it keeps);
* ``_retiarii_constraints(self) -> Iterable[Constraint]`` — rules over several labels that the
  space's ``validate``/``random``/``grid`` apply (e.g. NAS-Bench-101's edge limit).

Modules without these are containers: their children and plain attributes are walked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NoReturn

import torch.nn as tnn

from ...mutable import Choice

if TYPE_CHECKING:
    from .freeze import Freezer

__all__ = ["NNI_HABIT", "MutableModule", "NotFrozenError"]


class NotFrozenError(RuntimeError):
    """Forward was called on a choice that has not been decided."""


#: The NNI 2.x habit that leads here, and what to do instead (ends every NotFrozenError).
NNI_HABIT = (
    " (NNI 2.x's python engine let an undecided space run, on the first candidate of each choice "
    "and with a warning; a retiarii space runs only once an architecture is chosen, so that no "
    "result silently comes from an architecture nobody picked. To run the first candidates as "
    "NNI did, use `evaluator._execute(Net)` with the class.)"
)


class MutableModule(tnn.Module):
    """Base of modules that own decisions (LayerChoice, InputChoice, Repeat, Cell)."""

    label: str
    _retiarii_walk_children = True

    def _retiarii_decisions(self) -> Iterable[Choice]:
        raise NotImplementedError

    def _retiarii_freeze(self, freezer: Freezer) -> tnn.Module:
        raise NotImplementedError

    @property
    def key(self) -> str:
        """Alias of ``label`` (the name used by the classic Mutator API)."""
        return self.label

    def _not_frozen(self) -> NoReturn:
        raise NotFrozenError(
            f"{type(self).__name__} {self.label!r} was called before a choice was made. "
            "A model space is not runnable as is: build one architecture with "
            "`with retiarii.fixed_arch(sample): model = Net()` or "
            "`retiarii.ModelSpace(model).freeze(sample)`, or hand the space to a one-shot "
            "trainer / RetiariiExperiment." + NNI_HABIT
        )

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        self._not_frozen()
