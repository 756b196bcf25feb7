"""The flattened search space ``{label: choice}``: size, random samples, grid, validation, JSON."""

from __future__ import annotations

import itertools
import json
import math
import os
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from .core import Choice
from .errors import (
    ConstraintViolation,
    InfeasibleConstraintError,
    LabelConflictError,
    SampleError,
)

__all__ = ["Constraint", "SearchSpace", "SearchSpaceView", "draw_until_valid", "load_sample"]

Sample = dict[str, Any]


class Constraint:
    """A rule over several labels that per-label candidates cannot express.

    Some spaces allow only some combinations of values — NAS-Bench-101 allows at most 9 edges in a
    cell, whichever nodes they join. A constraint is added to the space that holds its labels
    (model spaces collect them from modules that define ``_retiarii_constraints()``); then
    :meth:`SearchSpace.validate` rejects a sample that breaks it with a
    :class:`~retiarii.mutable.ConstraintViolation`, and :meth:`SearchSpace.random` and
    :meth:`SearchSpace.grid` skip such samples.

    A *search-only* constraint (``search_only = True``, e.g. an experiment's ``constraint=``, see
    :class:`~retiarii.mutable.constraint.ConstrainedSearchSpace`) only steers the search:
    ``random``, ``grid``, ``contains`` and the strategies keep to it, but ``validate`` does not
    enforce it, so a sample outside it can still be frozen and built by hand.

    Subclasses implement :meth:`check`. ``key`` identifies the rule: constraints with the same
    key are the same rule (cells sharing a label share one), and the space keeps one of them.
    """

    key: str
    search_only: bool = False

    def check(self, sample: Mapping[str, Any]) -> str | None:
        """Why ``sample`` (valid label by label) breaks the rule, or None if it does not."""
        raise NotImplementedError


_T = TypeVar("_T")


def draw_until_valid(
    draw: Callable[[], _T], violation: Callable[[_T], str | None], tries: int, drawn: str
) -> _T:
    """``draw()`` until ``violation(result)`` is None, and return that result: rejection keeps
    the draw's distribution, restricted to what satisfies the constraints. The one rejection
    loop of retiarii (random samples of a space, a supernet's random or controller-drawn paths):
    after ``tries`` invalid draws in a row it raises :class:`InfeasibleConstraintError` naming the
    last broken rule (``drawn`` says what was drawn)."""
    problem: str | None = None
    for _ in range(tries):
        result = draw()
        problem = violation(result)
        if problem is None:
            return result
    raise InfeasibleConstraintError(
        f"no {drawn} satisfied the space's constraints: none of {tries} draws did (last: "
        f"{problem}); relax the constraints or raise SearchSpace.max_constraint_rejections"
    )


class SearchSpace(Mapping[str, Choice]):
    """An ordered mapping from label to :class:`Choice`, in the order the labels were first seen.

    The same label means the same decision everywhere: choices that share a label must be the same
    kind of decision over the same domain, or :class:`LabelConflictError` is raised.

    ``size`` counts distinct samples — assignments of a value to every label — as an exact Python
    int computed without enumerating. Labels that only matter inside an unchosen branch (e.g. a
    choice inside a LayerChoice candidate) are still part of every sample. Constraints
    are *not* taken into account by ``size`` (counting the samples that satisfy them would mean
    enumerating); ``validate``, ``random`` and ``grid`` do take them into account.
    """

    #: ``random`` gives up (raising :class:`SampleError`) after this many samples that break a
    #: constraint in a row.
    max_constraint_rejections = 10_000

    def __init__(
        self, choices: Iterable[Choice] = (), constraints: Iterable[Constraint] = ()
    ) -> None:
        self._choices: dict[str, Choice] = {}
        self._constraints: dict[str, Constraint] = {}
        for choice in choices:
            self.add(choice)
        for constraint in constraints:
            self.add_constraint(constraint)

    def add_constraint(self, constraint: Constraint) -> None:
        """Add a rule that samples must satisfy (one per ``key``)."""
        self._constraints.setdefault(constraint.key, constraint)

    @property
    def constraints(self) -> list[Constraint]:
        """The rules of this space beyond each label's candidates."""
        return list(self._constraints.values())

    def violation(self, sample: Mapping[str, Any], include_search_only: bool = True) -> str | None:
        """Why a (label-by-label valid) ``sample`` breaks a constraint, or None.

        Strategies skip a proposal for which this is not None. ``include_search_only=False``
        checks only the rules that :meth:`validate` enforces.
        """
        for constraint in self._constraints.values():
            if constraint.search_only and not include_search_only:
                continue
            problem = constraint.check(sample)
            if problem is not None:
                return problem
        return None

    def add(self, choice: Choice) -> None:
        """Add ``choice``; a second choice with the same label must be the same decision."""
        existing = self._choices.get(choice.label)
        if existing is None:
            self._choices[choice.label] = choice
        elif existing is not choice and not existing.same_decision(choice):
            raise LabelConflictError(
                f"label {choice.label!r} is used by two different choices: {existing!r} and "
                f"{choice!r}. Choices sharing a label must have the same candidates; "
                "give one of them another label."
            )

    def __getitem__(self, label: str) -> Choice:
        return self._choices[label]

    def __iter__(self) -> Iterator[str]:
        return iter(self._choices)

    def __len__(self) -> int:
        return len(self._choices)

    def __repr__(self) -> str:
        return f"SearchSpace({list(self._choices.values())!r})"

    @property
    def size(self) -> int:
        """Number of distinct samples (exact, without enumerating).

        ``math.inf`` (a float) when a continuous distribution (``uniform``, ``loguniform``,
        ``normal``) is part of the space: test with ``math.isinf(space.size)``.
        """
        return math.prod(choice.size for choice in self._choices.values())

    def random(self, seed: int | random.Random | None = None) -> Sample:
        """One uniformly random sample; ``seed`` may be an int or a ``random.Random``."""
        rng = seed if isinstance(seed, random.Random) else random.Random(seed)

        def draw() -> Sample:
            return {label: choice.random(rng) for label, choice in self._choices.items()}

        if not self._constraints:
            return draw()
        return draw_until_valid(
            draw, self.violation, self.max_constraint_rejections, "random sample"
        )

    def grid(self) -> Iterator[Sample]:
        """Every sample that satisfies the constraints, each exactly once, in a fixed order (only
        sensible for small spaces).

        A continuous distribution contributes :attr:`~retiarii.mutable.Numerical.grid_points`
        values (default 5, the midpoints of equally likely intervals), so the grid of a space
        with an infinite ``size`` is finite.
        """
        labels = list(self._choices)
        for combo in itertools.product(*(list(c.values()) for c in self._choices.values())):
            sample = dict(zip(labels, combo))
            if not self._constraints or self.violation(sample) is None:
                yield sample

    def validate(self, sample: Any) -> Sample:
        """Check ``sample`` and return it in canonical form, or raise :class:`SampleError`."""
        if not isinstance(sample, Mapping):
            raise SampleError(
                f"a sample must be a dict {{label: value}}, got {type(sample).__name__}: {sample!r}"
            )
        unknown = [label for label in sample if label not in self._choices]
        if unknown:
            raise SampleError(
                f"the sample has unknown label(s) {unknown}; this space's labels are "
                f"{list(self._choices)}"
            )
        missing = [label for label in self._choices if label not in sample]
        if missing:
            first = self._choices[missing[0]]
            raise SampleError(
                f"the sample has no value for label(s) {missing}; e.g. {missing[0]!r} takes one of "
                f"{first.spec()['_value']!r}"
            )
        valid = {label: choice.normalize(sample[label]) for label, choice in self._choices.items()}
        problem = self.violation(valid, include_search_only=False)
        if problem is not None:
            raise ConstraintViolation(problem)
        return valid

    def contains(self, sample: Any) -> bool:
        """Whether ``sample`` is a valid sample of this space that keeps every constraint
        (search-only ones included)."""
        try:
            valid = self.validate(sample)
        except SampleError:
            return False
        return self.violation(valid) is None

    def to_json(self) -> dict[str, dict[str, Any]]:
        """The search space in NNI's ``ss-gen`` format: ``{label: {"_type": ..., "_value": ...}}``."""
        return {label: choice.spec() for label, choice in self._choices.items()}


class SearchSpaceView:
    """The sample interface of a model space, delegated to its ``search_space``.

    ``ModelSpace``, ``MutatedSpace`` and ``JointSpace`` hold a :class:`SearchSpace` and differ only
    in how they build a model; ``labels``, ``size``, ``random``, ``grid``, ``validate`` and
    ``to_json`` are the search space's, written once here.
    """

    search_space: SearchSpace

    @property
    def labels(self) -> list[str]:
        """Every label, in the order the choices were built."""
        return list(self.search_space)

    @property
    def size(self) -> int:
        """Number of distinct samples (exact, not enumerated; ``math.inf`` with a continuous
        distribution)."""
        return self.search_space.size

    def random(self, seed: int | random.Random | None = None) -> Sample:
        """A random sample (uniform over every label's domain)."""
        return self.search_space.random(seed)

    def grid(self) -> Iterator[Sample]:
        """Every sample (of the quantized grid) once, in a fixed order."""
        return self.search_space.grid()

    def validate(self, sample: Any) -> Sample:
        """``sample`` in canonical form, or a :class:`~retiarii.mutable.SampleError` naming the
        label."""
        return self.search_space.validate(sample)

    def to_json(self) -> dict[str, dict[str, Any]]:
        """The search space in NNI's search-space JSON format."""
        return self.search_space.to_json()


def load_sample(sample_or_path: Mapping[str, Any] | str | os.PathLike[str]) -> Sample:
    """A sample given as a dict, or read from a JSON file holding ``{label: value}``."""
    if isinstance(sample_or_path, Mapping):
        return dict(sample_or_path)
    path = os.fspath(sample_or_path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise FileNotFoundError(f"sample file {path!r} does not exist") from None
    except json.JSONDecodeError as exc:
        raise SampleError(f"{path!r} is not a sample: invalid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise SampleError(
            f"{path!r} is not a sample: expected a JSON object {{label: value}}, "
            f"got {type(data).__name__}"
        )
    return data
