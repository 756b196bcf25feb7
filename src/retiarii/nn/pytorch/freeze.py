"""The two walks over a module tree: collect its choices, and freeze it for a sample."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch.nn as tnn

from ...mutable import Choice, Constraint, SearchSpace, freeze_structure, leaves_of
from .parameter_choice import parameter_choices

__all__ = ["Freezer", "collect_search_space"]


def _plain_attributes(module: tnn.Module) -> list[tuple[str, Any]]:
    """Public non-module attributes that may hold a value choice (``self.p = ValueChoice(...)``).

    torch's own classes never hold user choices in plain attributes, so they are skipped: this
    keeps both walks cheap on large networks.
    """
    if type(module).__module__.startswith("torch."):
        return []
    return [
        (name, value)
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, (tnn.Module, tnn.Parameter))
    ]


def collect_search_space(model: tnn.Module) -> SearchSpace:
    """The flattened ``{label: choice}`` of every choice in ``model``, in construction order,
    with the constraints of modules that define ``_retiarii_constraints()``."""
    space = SearchSpace()
    seen: set[int] = set()
    found: list[Choice] = []
    constraints: list[Constraint] = []

    def visit(module: tnn.Module) -> None:
        if id(module) in seen:
            return
        seen.add(id(module))
        # Hooks are looked up on the class: nn.Module.__getattr__ is slow for missing names.
        decisions = getattr(type(module), "_retiarii_decisions", None)
        if decisions is not None:
            for decision in decisions(module):
                found.extend(decision.leaves())
        rules = getattr(type(module), "_retiarii_constraints", None)
        if rules is not None:
            constraints.extend(rules(module))
        for _, value in _plain_attributes(module):
            found.extend(leaves_of(value))
        found.extend(decision for decision, _ in parameter_choices(module))
        if getattr(type(module), "_retiarii_walk_children", True):
            for child in module.children():
                visit(child)

    visit(model)
    # Order by the label's automatic/explicit creation: first appearance in the walk.
    for choice in found:
        space.add(choice)
    for constraint in constraints:
        space.add_constraint(constraint)
    return space


class Freezer:
    """Freezes modules for one sample; shared modules are frozen once (memoised by identity)."""

    def __init__(self, sample: Mapping[str, Any]) -> None:
        self.sample = sample
        self._memo: dict[int, tnn.Module] = {}

    def module(self, module: tnn.Module) -> tnn.Module:
        """The frozen counterpart of ``module`` (possibly ``module`` itself, frozen in place)."""
        done = self._memo.get(id(module))
        if done is not None:
            return done
        hook = getattr(type(module), "_retiarii_freeze", None)
        if hook is not None:
            frozen: tnn.Module = hook(module, self)
        else:
            self.children(module)
            self.attributes(module)
            frozen = module
        self._memo[id(module)] = frozen
        return frozen

    def children(self, module: tnn.Module) -> None:
        """Freeze the children of ``module`` in place."""
        for name, child in list(module._modules.items()):
            if child is None:
                continue
            frozen = self.module(child)
            if frozen is not child:
                module._modules[name] = frozen

    def attributes(self, module: tnn.Module) -> None:
        """Replace value choices stored as plain attributes (``self.p = ValueChoice(...)``)."""
        for name, value in _plain_attributes(module):
            if next(leaves_of(value), None) is not None:
                object.__setattr__(module, name, freeze_structure(value, self.sample))

    def value(self, obj: Any) -> Any:
        """``obj`` with every choice in it replaced by its value."""
        return freeze_structure(obj, self.sample)
