"""The flattened search space ``{label: choice}``: size, random samples, grid, validation, JSON."""

from __future__ import annotations

import itertools
import json
import math
import os
import random
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .core import Choice
from .errors import LabelConflictError, SampleError

__all__ = ["SearchSpace", "load_sample"]

Sample = dict[str, Any]


class SearchSpace(Mapping[str, Choice]):
    """An ordered mapping from label to :class:`Choice`, in the order the labels were first seen.

    The same label means the same decision everywhere: choices that share a label must be the same
    kind of decision over the same domain, or :class:`LabelConflictError` is raised.

    ``size`` counts distinct samples — assignments of a value to every label — as an exact Python
    int computed without enumerating. Labels that only matter inside an unchosen branch (e.g. a
    choice inside a LayerChoice candidate) are still part of every sample.
    """

    def __init__(self, choices: Iterable[Choice] = ()) -> None:
        self._choices: dict[str, Choice] = {}
        for choice in choices:
            self.add(choice)

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
        return {label: choice.random(rng) for label, choice in self._choices.items()}

    def grid(self) -> Iterator[Sample]:
        """Every sample, each exactly once, in a fixed order (only sensible for small spaces).

        A continuous distribution contributes :attr:`~retiarii.mutable.Numerical.grid_points`
        values (default 5, the midpoints of equally likely intervals), so the grid of a space
        with an infinite ``size`` is finite.
        """
        labels = list(self._choices)
        for combo in itertools.product(*(list(c.values()) for c in self._choices.values())):
            yield dict(zip(labels, combo))

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
        return {label: choice.normalize(sample[label]) for label, choice in self._choices.items()}

    def contains(self, sample: Any) -> bool:
        """Whether ``sample`` is a valid sample of this space."""
        try:
            self.validate(sample)
        except SampleError:
            return False
        return True

    def to_json(self) -> dict[str, dict[str, Any]]:
        """The search space in NNI's ``ss-gen`` format: ``{label: {"_type": ..., "_value": ...}}``."""
        return {label: choice.spec() for label, choice in self._choices.items()}


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
