"""What every supernet module shares: the choice it replaces, its freeze hooks, and switches.

A one-shot trainer replaces each choice module of a model space by a *supernet module* that can
run forward (mixing, sampling or gating its candidates). The replacements keep the candidates
as children under the same names and define the same ``_retiarii_decisions`` /
``_retiarii_freeze`` hooks as the choice they replace, so a model whose choices were replaced is
still a model space: ``ModelSpace(model)`` sees the same labels, and ``ModelSpace(model).freeze``
gives the chosen architecture *with the weights the supernet trained*.

Sampling supernets read their current decision from a :class:`Switch` per label, shared by every
module that carries the label; changing a path costs one attribute write per label, and a
module's forward costs one attribute read.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import torch.nn as tnn

from ...mutable import (
    Categorical,
    Choice,
    Constraint,
    InputSubset,
    SearchSpace,
    freeze_structure,
    leaves_of,
)
from ...mutable.space import draw_until_valid
from ...nn.pytorch.choices import ChosenCandidate, ChosenSubset, InputChoice, LayerChoice
from ...nn.pytorch.freeze import collect_search_space
from ...nn.pytorch.frozen import check_inputs
from ...nn.pytorch.repeat import Repeat
from .utils import replace_modules

if TYPE_CHECKING:
    from ...nn.pytorch.freeze import Freezer

_T = TypeVar("_T")

__all__ = [
    "Supernet",
    "SupernetInputChoice",
    "SupernetLayerChoice",
    "SupernetRepeat",
    "Switch",
    "SwitchBoard",
    "ValueResolver",
    "check_searchable",
]


class SupernetLayerChoice(ChosenCandidate, tnn.Module):
    """Base of the modules that replace a ``LayerChoice``.

    Keeps the candidates as children under their names, ``label``/``key``, ``names`` and the
    decision; freezes to the chosen candidate and indexes like the ``LayerChoice`` it replaces.
    """

    def __init__(self, layer_choice: LayerChoice) -> None:
        super().__init__()
        self.label: str = layer_choice.label
        self.names: list[Any] = list(layer_choice.names)
        self._decision = layer_choice._decision
        children = dict(layer_choice.named_children())
        missing = [n for n in self.names if str(n) not in children]
        if missing:
            raise ValueError(
                f"LayerChoice {self.label!r} does not hold candidate(s) {missing} (was it built "
                "inside fixed_arch?); a supernet needs every candidate"
            )
        for name in self.names:
            self.add_module(str(name), children[str(name)])
        # A plain list: indexing it is cheaper than indexing a ModuleList in every forward.
        self._ops: list[tnn.Module] = [children[str(n)] for n in self.names]


class SupernetInputChoice(ChosenSubset, tnn.Module):
    """Base of the modules that replace an ``InputChoice``; freezes to ``ChosenInputs`` like it."""

    def __init__(self, input_choice: InputChoice) -> None:
        super().__init__()
        self.label: str = input_choice.label
        self.n_candidates: int = input_choice.n_candidates
        self.n_chosen: int | None = input_choice.n_chosen
        self.reduction: str = input_choice.reduction
        self._decision: InputSubset = input_choice._decision

    def __len__(self) -> int:
        return self.n_candidates

    def _check(self, inputs: Any) -> list[Any]:
        return check_inputs(self.label, inputs, self.n_candidates)


class Switch:
    """The current decision of one label in a sampling supernet.

    ``active`` is what modules read: the position of the chosen value for a categorical decision
    (``LayerChoice``, ``ValueChoice``, ``Repeat`` depth), the sorted tuple of chosen indices for
    an ``InputChoice``.
    """

    __slots__ = ("_domain", "active", "decision", "label")

    def __init__(self, decision: Choice) -> None:
        if not isinstance(decision, (Categorical, InputSubset)):
            raise TypeError(
                f"cannot sample decision {decision!r}: one-shot strategies weigh finitely many "
                "candidates; give a distribution as a ValueChoice of values, or search it with a "
                "multi-trial strategy"
            )
        self.decision = decision
        self.label = decision.label
        self._domain: list[Any] | None = (
            decision.domain if isinstance(decision, Categorical) else None
        )
        self.active: Any = self._to_active(next(iter(decision.values())))

    @property
    def size(self) -> int:
        """Number of values the decision can take."""
        return self.decision.size

    @property
    def categorical(self) -> bool:
        """Whether the decision picks one of ``size`` values (else: a subset of inputs)."""
        return self._domain is not None

    def _to_active(self, value: Any) -> Any:
        if isinstance(self.decision, Categorical):
            return self.decision.index_of(value)
        return tuple(self.decision.normalize(value))

    def set(self, value: Any) -> None:
        """Make ``value`` (a sample value) the current decision; raises SampleError if invalid."""
        self.active = self._to_active(value)

    def value(self) -> Any:
        """The current decision as a sample value."""
        if self._domain is not None:
            return self._domain[self.active]
        return list(self.active)

    def value_at(self, index: int) -> Any:
        """The sample value of candidate ``index`` (categorical decisions)."""
        assert self._domain is not None
        return self._domain[index]

    def random(self, rng: random.Random) -> None:
        """Draw a uniformly random decision."""
        if self._domain is not None:
            self.active = rng.randrange(len(self._domain))
        else:
            self.active = tuple(self.decision.random(rng))

    def __repr__(self) -> str:
        return f"Switch({self.label!r}, active={self.active!r})"


class SwitchBoard(Mapping[str, Switch]):
    """One :class:`Switch` per label, in the order the labels were first seen."""

    def __init__(self) -> None:
        self._switches: dict[str, Switch] = {}
        #: rules over several labels (from the model space); :meth:`random` draws only paths
        #: that satisfy them
        self.constraints: list[Constraint] = []

    def switch(self, decision: Choice) -> Switch:
        """The switch of ``decision``'s label (created on first use)."""
        found = self._switches.get(decision.label)
        if found is None:
            found = self._switches[decision.label] = Switch(decision)
        return found

    def __getitem__(self, label: str) -> Switch:
        return self._switches[label]

    def __iter__(self) -> Iterator[str]:
        return iter(self._switches)

    def __len__(self) -> int:
        return len(self._switches)

    def random(self, rng: random.Random) -> None:
        """Draw every decision uniformly at random (among the paths that satisfy
        :attr:`constraints`, by rejection)."""

        def draw() -> None:
            for switch in self._switches.values():
                switch.random(rng)

        self.draw_valid(draw, "random path")

    def draw_valid(self, draw: Callable[[], _T], drawn: str) -> _T:
        """Call ``draw`` (which activates a path) until the active path satisfies
        :attr:`constraints`, and return what its last call returned (see
        :func:`~retiarii.mutable.space.draw_until_valid`, bounded by
        :attr:`SearchSpace.max_constraint_rejections`; ``drawn`` says what was drawn)."""

        def violation(_: _T) -> str | None:
            return "; ".join(self.violations()) or None

        return draw_until_valid(draw, violation, SearchSpace.max_constraint_rejections, drawn)

    def violations(self) -> list[str]:
        """What the active path breaks of :attr:`constraints` (empty: it is valid)."""
        if not self.constraints:
            return []
        sample = self.sample()
        return [p for p in (c.check(sample) for c in self.constraints) if p is not None]

    def set_sample(self, sample: Mapping[str, Any]) -> None:
        """Set the decisions of ``sample`` (labels the board does not know are refused)."""
        unknown = [label for label in sample if label not in self._switches]
        if unknown:
            raise KeyError(f"unknown label(s) {unknown}; the labels are {list(self._switches)}")
        for label, value in sample.items():
            self._switches[label].set(value)

    def sample(self) -> dict[str, Any]:
        """The current decisions as a sample ``{label: value}``."""
        return {label: switch.value() for label, switch in self._switches.items()}

    def reorder(self, labels: Iterable[str]) -> None:
        """Put the switches in the order of ``labels`` (others keep their order, after)."""
        ordered = {label: self._switches[label] for label in labels if label in self._switches}
        ordered.update(self._switches)
        self._switches = ordered


class ValueResolver:
    """The value of a structure holding choices (e.g. a layer's ``(args, kwargs)``) under the
    current switches, computed once per combination of the decisions it depends on."""

    __slots__ = ("_cache", "_obj", "_post", "_switches")

    def __init__(self, obj: Any, board: SwitchBoard, post: Any = None) -> None:
        leaves: dict[str, Choice] = {}
        for leaf in leaves_of(obj):
            leaves.setdefault(leaf.label, leaf)
        self._obj = obj
        self._switches = tuple(board.switch(leaf) for leaf in leaves.values())
        self._post = post
        self._cache: dict[tuple[Any, ...], Any] = {}

    @property
    def switches(self) -> tuple[Switch, ...]:
        """The switches the value depends on."""
        return self._switches

    def __call__(self) -> Any:
        key = tuple([s.active for s in self._switches])
        try:
            return self._cache[key]
        except KeyError:
            pass
        value = self.resolve({s.label: s.value() for s in self._switches})
        self._cache[key] = value
        return value

    def resolve(self, sample: Mapping[str, Any]) -> Any:
        """The value under ``sample`` (not cached)."""
        value = freeze_structure(self._obj, sample)
        return self._post(value) if self._post is not None else value


class SupernetRepeat(tnn.Module):
    """What every supernet form of a ``Repeat`` with a depth choice shares: its blocks, its
    depth resolved on the switch board, and the frozen form (the first ``depth`` blocks).
    Subclasses give ``forward``.

    ``depth_output`` (from the Repeat's ``_retiarii_depth_output`` attribute, None if it has
    none) gives each candidate depth's output the shape a mixing supernet can sum: e.g. an NDS
    stage of one cell outputs its input as "previous-previous" state, which the stage aligns to
    the shape the other depths give.
    """

    def __init__(self, repeat: Repeat, board: SwitchBoard) -> None:
        super().__init__()
        assert repeat._depth is not None
        self.label = repeat.label
        self.blocks = repeat.blocks
        self._depth = repeat._depth
        self._blocks: list[tnn.Module] = list(repeat.blocks)
        self._resolve = ValueResolver(repeat._depth, board)
        self.depth_output: Callable[[Any], Any] | None = getattr(
            repeat, "_retiarii_depth_output", None
        )

    def _retiarii_decisions(self) -> Iterable[Choice]:
        return list(self._depth.leaves())

    def _retiarii_freeze(self, freezer: Freezer) -> tnn.Module:
        depth = self._depth.freeze(freezer.sample)
        return tnn.Sequential(*(freezer.module(block) for block in self._blocks[:depth]))


class Supernet:
    """Turns a model space into a supernet, in place: every module for which :meth:`_replace`
    gives a replacement is replaced (children first, see :func:`~.utils.replace_modules`), then
    a decision no replacement took over is refused, naming it (:func:`check_searchable`).

    ``board`` holds the switches the modules read, ``modules`` the ``(label, replacement)``
    pairs, ``trainer`` the name errors give.
    """

    #: What the supernet searches (the end of the error naming what it cannot search).
    hint = ""
    #: Module types it cannot search at all: refused before anything is replaced (replacing
    #: the rest of a large space first takes seconds, only to be thrown away).
    refused: tuple[type[tnn.Module], ...] = ()

    def __init__(self, model: tnn.Module, trainer: str) -> None:
        self.board = SwitchBoard()
        self.modules: list[tuple[str, tnn.Module]] = []
        self.trainer = trainer
        self._refuse(model)
        replace_modules(model, self._replace, self.modules)
        self._replaced(model)
        check_searchable(model, self.labels(), trainer, self.hint)

    def _refuse(self, model: tnn.Module) -> None:
        """Raise, as :func:`check_searchable` would after the replacement, if ``model`` holds a
        module of a :attr:`refused` type that has decisions."""
        if self.refused:
            owners = _owners(m for m in model.modules() if isinstance(m, self.refused))
            if owners:
                raise ValueError(f"{self.trainer} cannot search {_named(owners)}. {self.hint}")

    def _replace(self, module: tnn.Module) -> tnn.Module | None:
        """The replacement of ``module`` (None: keep it)."""
        raise NotImplementedError

    def _replaced(self, model: tnn.Module) -> None:
        """After the replacement, before the check (nothing by default)."""

    def labels(self) -> Iterable[str]:
        """The labels the supernet decides."""
        return self.board


def _owners(modules: Iterable[tnn.Module]) -> dict[str, list[tnn.Module]]:
    """``{label: the modules holding a decision of it}``, in the order of ``modules``."""
    owners: dict[str, list[tnn.Module]] = {}
    for module in modules:
        decisions = getattr(type(module), "_retiarii_decisions", None)
        for decision in decisions(module) if decisions is not None else ():
            for leaf in decision.leaves():
                owners.setdefault(leaf.label, []).append(module)
    return owners


def _named(owners: Mapping[str, list[tnn.Module]]) -> str:
    """``'label' (OwnerType), ...`` (a label no module holds is a value choice)."""
    return ", ".join(
        f"{label!r} ({type(found[0]).__name__ if found else 'value choice'})"
        for label, found in owners.items()
    )


def check_searchable(model: tnn.Module, handled: Iterable[str], trainer: str, hint: str) -> None:
    """Raise if ``model`` has decisions that ``trainer`` did not take over (e.g. a ``Cell`` for
    a trainer that only searches ``LayerChoice``/``InputChoice``), naming them."""
    handled = set(handled)
    missing = [label for label in collect_search_space(model) if label not in handled]
    if not missing:
        return
    owners = _owners(model.modules())
    unsearched = {label: owners.get(label, []) for label in missing}
    holders = {type(module) for found in unsearched.values() for module in found}
    replaced = sorted(t.__name__ for t in holders if t.__module__.startswith(__package__ or ""))
    if replaced:
        raise ValueError(
            f"{trainer}: the choices of this model were already replaced by another one-shot "
            f"trainer or mutator ({replaced}); give each trainer a freshly built model space"
        )
    raise ValueError(f"{trainer} cannot search {_named(unsearched)}. {hint}")
