"""``LayerChoice``, ``InputChoice`` and ``ValueChoice``: the three ways to declare a decision."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import torch.nn as tnn

from ...mutable import Categorical, Choice, InputSubset
from ...mutable.labels import label_namespace, label_or_auto
from .base import MutableModule
from .fixed import current_fixed
from .frozen import REDUCTIONS, ChosenInputs, check_inputs

if TYPE_CHECKING:
    from .freeze import Freezer

__all__ = ["ChosenCandidate", "ChosenSubset", "InputChoice", "LayerChoice", "ValueChoice"]

Candidate = tnn.Module | Callable[[], tnn.Module]


def _accept_deprecated(deprecated: Mapping[str, Any], owner: str) -> None:
    """NNI's ``return_mask`` is accepted and ignored; any other extra argument is an error."""
    if deprecated.keys() - {"return_mask"}:
        raise TypeError(f"{owner}() got unexpected arguments {sorted(deprecated)}")


class ValueChoice(Categorical):
    """Choose one of ``candidates`` (numbers, strings, tuples, ... or anything, by index).

    Use it as an argument of a ``retiarii.nn.pytorch`` layer or a ``@basic_unit`` module, combine it
    with arithmetic (``vc * 2``, ``ValueChoice.max(a, b)``), or index into it. The same label
    means the same decision everywhere.
    """


class LayerChoiceDecision(Categorical):
    """The decision of a LayerChoice: which candidate *name* (dict key, or list index)."""

    kind = "layer_choice"


def build_candidate(candidate: Candidate, owner: str, name: object, label: str) -> tnn.Module:
    """A candidate given as a module is used as is; a factory (class or function) is called.

    A factory runs in the label namespace ``{label}/{name}``: ``fixed_arch`` calls only the chosen
    one, and the automatic labels of choices built after this LayerChoice must not depend on that.
    """
    if isinstance(candidate, tnn.Module):
        return candidate
    if callable(candidate):
        with label_namespace(f"{label}/{name}"):
            built = candidate()
        if isinstance(built, tnn.Module):
            return built
        raise TypeError(
            f"{owner}: factory for candidate {name!r} returned {type(built).__name__}, not a Module"
        )
    raise TypeError(
        f"{owner}: candidate {name!r} is neither a torch Module nor a factory: {candidate!r}"
    )


class _OneDecision:
    """A module deciding one label: its ``key`` and its decision."""

    label: str
    _decision: Choice

    @property
    def key(self) -> str:
        """Alias of ``label`` (the name used by the classic Mutator API)."""
        return self.label

    def _retiarii_decisions(self) -> Iterable[Choice]:
        return [self._decision]


class ChosenCandidate(_OneDecision):
    """What a ``LayerChoice`` and the one-shot modules that replace it share: the decision,
    freezing to the chosen candidate, and NNI's container API. The candidates are the module's
    children, in order."""

    _decision: LayerChoiceDecision
    _modules: dict[str, tnn.Module | None]
    _fixed_name: Any = None

    def _retiarii_freeze(self, freezer: Freezer) -> tnn.Module:
        name = (
            self._decision.normalize(freezer.sample[self.label])
            if self.label in freezer.sample
            else self._decision.freeze(freezer.sample)
        )
        module = self._modules.get(str(name))
        if module is None:  # built inside fixed_arch for another sample
            raise ValueError(
                f"LayerChoice {self.label!r} only holds candidate {self._fixed_name!r}, not {name!r}"
            )
        return freezer.module(module)

    # -- NNI's container API ----------------------------------------------------------------
    @property
    def candidates(self) -> list[tnn.Module]:
        """The candidate modules, in order."""
        return [m for m in self._modules.values() if m is not None]

    choices = candidates

    @property
    def length(self) -> int:
        """Number of candidates (classic Mutator API)."""
        return len(self._modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[tnn.Module]:
        return iter(self.candidates)

    def __getitem__(self, key: int | str) -> tnn.Module:
        if isinstance(key, str):
            module = self._modules[key]
            assert module is not None
            return module
        return self.candidates[key]

    def extra_repr(self) -> str:
        return f"label={self.label!r}"


class LayerChoice(ChosenCandidate, MutableModule):
    """Choose one of several modules.

    Args:
        candidates: a list of modules (names ``0, 1, ...``) or a dict / OrderedDict of
            ``{name: module}``. A candidate may also be a zero-argument factory; inside
            ``fixed_arch`` only the chosen factory is called.
        label: the decision's label; shared labels mean the same decision.

    The sample value is the chosen candidate's name: its index for a list, its key for a dict.
    """

    def __init__(
        self,
        candidates: Mapping[str, Candidate] | Iterable[Candidate],
        *,
        label: str | None = None,
        **deprecated: Any,
    ) -> None:
        super().__init__()
        _accept_deprecated(deprecated, "LayerChoice")
        self.label = label_or_auto(label, "LayerChoice")
        owner = f"LayerChoice({self.label!r})"
        if isinstance(candidates, Mapping):
            items: list[tuple[Any, Candidate]] = list(candidates.items())
            for name, _ in items:
                if not isinstance(name, str) or not name or "." in name:
                    raise ValueError(
                        f"{owner}: candidate names must be non-empty strings without '.', got {name!r}"
                    )
        elif isinstance(candidates, Iterable) and not isinstance(candidates, tnn.Module):
            items = list(enumerate(candidates))
        else:
            raise TypeError(
                f"{owner}: candidates must be a list or a dict of modules, got {type(candidates).__name__}"
            )
        if not items:
            raise ValueError(f"{owner}: candidates must not be empty")
        self.names: list[Any] = [name for name, _ in items]
        self._decision = LayerChoiceDecision(self.names, label=self.label)
        ctx = current_fixed()
        if ctx is not None and self.label in ctx.sample:
            index = self._decision.index_of(ctx.sample[self.label])
            ctx.mark_used([self.label])
            if any(not isinstance(c, tnn.Module) for i, (_, c) in enumerate(items) if i != index):
                ctx.skipped_lazily = True
            ctx.dropped.extend(
                c for i, (_, c) in enumerate(items) if i != index and isinstance(c, tnn.Module)
            )
            chosen_name, chosen = items[index]
            self.add_module(
                str(chosen_name), build_candidate(chosen, owner, chosen_name, self.label)
            )
            self._fixed_name: Any = chosen_name
        else:
            for name, candidate in items:
                self.add_module(str(name), build_candidate(candidate, owner, name, self.label))
            self._fixed_name = None


class ChosenSubset(_OneDecision):
    """What an ``InputChoice`` and the one-shot modules that replace it share: the decision and
    freezing to the chosen inputs."""

    n_candidates: int
    n_chosen: int | None
    reduction: str
    _decision: InputSubset

    def _retiarii_freeze(self, freezer: Freezer) -> tnn.Module:
        chosen = self._decision.freeze(freezer.sample)
        return ChosenInputs(self.label, chosen, self.n_candidates, self.reduction)

    def extra_repr(self) -> str:
        return (
            f"n_candidates={self.n_candidates}, n_chosen={self.n_chosen}, "
            f"reduction={self.reduction!r}, label={self.label!r}"
        )


class InputChoice(ChosenSubset, MutableModule):
    """Choose ``n_chosen`` of ``n_candidates`` input tensors and reduce them.

    Args:
        n_candidates: how many tensors the choice is called with (required).
        n_chosen: how many to choose; ``None`` means any non-empty subset.
        reduction: ``'sum'``, ``'mean'``, ``'concat'`` (along dim 1) or ``'none'`` (a list).
        label: the decision's label.

    The sample value is the sorted list of chosen indices, e.g. ``[0, 2]``.
    """

    def __init__(
        self,
        n_candidates: int | None = None,
        n_chosen: int | None = 1,
        reduction: str = "sum",
        *,
        label: str | None = None,
        **deprecated: Any,
    ) -> None:
        super().__init__()
        _accept_deprecated(deprecated, "InputChoice")
        self.label = label_or_auto(label, "InputChoice")
        if n_candidates is None:
            raise ValueError(
                f"InputChoice {self.label!r}: n_candidates is required (the number of tensors "
                "the choice will be called with)"
            )
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"InputChoice {self.label!r}: reduction must be one of {REDUCTIONS}, got {reduction!r}"
            )
        self.n_candidates = n_candidates
        self.n_chosen = n_chosen
        self.reduction = reduction
        self._decision = InputSubset(n_candidates, n_chosen, label=self.label)
        ctx = current_fixed()
        if ctx is not None and self.label in ctx.sample:
            ctx.mark_used([self.label])

    def forward(self, candidate_inputs: list[Any]) -> Any:
        check_inputs(self.label, candidate_inputs, self.n_candidates)
        self._not_frozen()


def call_factory(factory: Callable[..., Any], *indices: int) -> Any:
    """Call ``factory`` with as many leading ``indices`` as it takes positionally (maybe none).

    Lets ``Repeat(lambda i: Block(i), depth)`` and ``Repeat(Block, depth)`` both work.
    """
    if isinstance(factory, type):
        return factory()
    try:
        params = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return factory()
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return factory(*indices)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return factory(*indices[: len(positional)])
