"""Mutables: decisions (choices) and symbolic expressions over them. Pure Python, no torch.

A :class:`Choice` is one labelled decision with a finite *domain* of JSON values — the values a
sample may hold for its label. A :class:`MutableExpression` is anything computed from choices
(``vc * 2``, ``ValueChoice.max(a, b)``); it stays symbolic until :meth:`Mutable.freeze` is given a
sample. What this module deliberately does not do: it never overrides ``==`` (choices stay hashable
and usable in ``in`` checks), and it never guesses a value when asked for a truth value or an int —
that raises, pointing to the symbolic alternative.
"""

from __future__ import annotations

import itertools
import math
import operator
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from .errors import SampleError
from .labels import label_or_auto
from .structure import contains_mutable, freeze_structure, is_json_value, json_equal, leaves_of

__all__ = [
    "Categorical",
    "Choice",
    "Expression",
    "InputSubset",
    "Mutable",
    "MutableExpression",
]


def _short(values: Sequence[Any], limit: int = 12) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:limit])
    return f"[{shown}{', ...' if len(values) > limit else ''}]"


class Mutable:
    """Something whose value is only known once a sample is given."""

    def leaves(self) -> Iterator[Choice]:
        """The labelled choices this depends on (a label may repeat)."""
        raise NotImplementedError

    def freeze(self, sample: Mapping[str, Any]) -> Any:
        """The concrete value under ``sample``."""
        raise NotImplementedError

    def possible_values(self, limit: int = 10_000) -> list[Any]:
        """Every value this can take (by enumerating its leaves), or ``[]`` past ``limit`` combos."""
        leaves: dict[str, Choice] = {}
        for leaf in self.leaves():
            leaves.setdefault(leaf.label, leaf)
        total = math.prod(leaf.size for leaf in leaves.values())
        if total > limit:
            return []
        out: list[Any] = []
        for combo in itertools.product(*(list(leaf.values()) for leaf in leaves.values())):
            value = self.freeze(dict(zip(leaves, combo)))
            if not any(
                json_equal(value, seen) if is_json_value(value) else value is seen for seen in out
            ):
                out.append(value)
        return out

    def all_options(self) -> Iterator[Any]:
        """NNI's name: every value for every combination of the leaves' values, duplicates kept.

        ``list(ValueChoice([1, 2, 3]) % 2).all_options()`` is ``[1, 0, 1]``, where
        :meth:`possible_values` gives ``[1, 0]``. A generator, as NNI's.
        """
        leaves: dict[str, Choice] = {}
        for leaf in self.leaves():
            leaves.setdefault(leaf.label, leaf)
        for combo in itertools.product(*(list(leaf.values()) for leaf in leaves.values())):
            yield self.freeze(dict(zip(leaves, combo)))


class Choice(Mutable):
    """A labelled decision. Subclasses define the domain: the JSON values a sample may hold."""

    label: str
    kind: str = "choice"

    @property
    def size(self) -> int:
        """Number of values in the domain."""
        raise NotImplementedError

    def values(self) -> Iterator[Any]:
        """Every value of the domain, in a fixed order."""
        raise NotImplementedError

    def random(self, rng: random.Random) -> Any:
        """One value of the domain, drawn uniformly with ``rng``."""
        raise NotImplementedError

    def normalize(self, value: Any) -> Any:
        """Return the canonical form of ``value`` or raise :class:`SampleError`."""
        raise NotImplementedError

    def spec(self) -> dict[str, Any]:
        """This decision in the NNI search-space JSON format (``{"_type": ..., "_value": ...}``)."""
        raise NotImplementedError

    def same_decision(self, other: Choice) -> bool:
        """Whether ``other`` may share this label (same kind of decision over the same domain)."""
        return other.kind == self.kind and other.spec() == self.spec()

    def leaves(self) -> Iterator[Choice]:
        yield self


class MutableExpression(Mutable):
    """Operators that build symbolic expressions; mixed into value choices and expressions."""

    def _binary(self, other: Any, op: Callable[[Any, Any], Any], sym: str) -> Expression:
        return Expression(op, [self, other], "({} " + sym + " {})")

    def _rbinary(self, other: Any, op: Callable[[Any, Any], Any], sym: str) -> Expression:
        return Expression(op, [other, self], "({} " + sym + " {})")

    def __add__(self, other: Any) -> Expression:
        return self._binary(other, operator.add, "+")

    def __radd__(self, other: Any) -> Expression:
        return self._rbinary(other, operator.add, "+")

    def __sub__(self, other: Any) -> Expression:
        return self._binary(other, operator.sub, "-")

    def __rsub__(self, other: Any) -> Expression:
        return self._rbinary(other, operator.sub, "-")

    def __mul__(self, other: Any) -> Expression:
        return self._binary(other, operator.mul, "*")

    def __rmul__(self, other: Any) -> Expression:
        return self._rbinary(other, operator.mul, "*")

    def __truediv__(self, other: Any) -> Expression:
        return self._binary(other, operator.truediv, "/")

    def __rtruediv__(self, other: Any) -> Expression:
        return self._rbinary(other, operator.truediv, "/")

    def __floordiv__(self, other: Any) -> Expression:
        return self._binary(other, operator.floordiv, "//")

    def __rfloordiv__(self, other: Any) -> Expression:
        return self._rbinary(other, operator.floordiv, "//")

    def __mod__(self, other: Any) -> Expression:
        return self._binary(other, operator.mod, "%")

    def __rmod__(self, other: Any) -> Expression:
        return self._rbinary(other, operator.mod, "%")

    def __pow__(self, other: Any) -> Expression:
        return self._binary(other, operator.pow, "**")

    def __rpow__(self, other: Any) -> Expression:
        return self._rbinary(other, operator.pow, "**")

    def __lt__(self, other: Any) -> Expression:
        return self._binary(other, operator.lt, "<")

    def __le__(self, other: Any) -> Expression:
        return self._binary(other, operator.le, "<=")

    def __gt__(self, other: Any) -> Expression:
        return self._binary(other, operator.gt, ">")

    def __ge__(self, other: Any) -> Expression:
        return self._binary(other, operator.ge, ">=")

    def __neg__(self) -> Expression:
        return Expression(operator.neg, [self], "(-{})")

    def __pos__(self) -> Expression:
        return Expression(operator.pos, [self], "(+{})")

    def __abs__(self) -> Expression:
        return Expression(abs, [self], "abs({})")

    def __round__(self, ndigits: Any = None) -> Expression:
        if ndigits is None:
            return Expression(round, [self], "round({})")
        return Expression(round, [self, ndigits], "round({}, {})")

    # Bitwise operators, as NNI's (``~`` is NNI's symbolic "not" for booleans too).
    def __invert__(self) -> Expression:
        return Expression(_invert, [self], "(~{})")

    def __and__(self, other: Any) -> Expression:
        return self._binary(other, operator.and_, "&")

    def __rand__(self, other: Any) -> Expression:
        return self._rbinary(other, operator.and_, "&")

    def __or__(self, other: Any) -> Expression:
        return self._binary(other, operator.or_, "|")

    def __ror__(self, other: Any) -> Expression:
        return self._rbinary(other, operator.or_, "|")

    def __xor__(self, other: Any) -> Expression:
        return self._binary(other, operator.xor, "^")

    def __rxor__(self, other: Any) -> Expression:
        return self._rbinary(other, operator.xor, "^")

    def __getitem__(self, key: Any) -> Expression:
        return Expression(operator.getitem, [self, key], "{}[{!r}]")

    # Python would otherwise iterate via __getitem__ forever, or coerce silently.
    def __iter__(self) -> Iterator[Any]:
        raise TypeError(f"{self!r} cannot be iterated before it is frozen")

    def __bool__(self) -> bool:
        raise TypeError(
            f"{self!r} has no truth value until a sample is chosen; "
            "use ValueChoice.condition(pred, true_value, false_value) for a symbolic if"
        )

    def __index__(self) -> int:
        raise TypeError(
            f"{self!r} is not an int until a sample is chosen; pass it to a layer from "
            "retiarii.nn.pytorch or a @basic_unit module, or use ValueChoice.to_int()"
        )

    __int__ = __index__

    def __float__(self) -> float:
        raise TypeError(
            f"{self!r} is not a float until a sample is chosen; use ValueChoice.to_float()"
        )

    # ``ValueChoice.max(...)`` etc.: static so they read like functions in user code.
    @staticmethod
    def max(*args: Any) -> Any:
        """Symbolic ``max``: ``ValueChoice.max(a, b, ...)`` or ``ValueChoice.max([a, b])``.

        With no choice among the arguments it is the plain ``max`` (a number), as in NNI.
        """
        return _reduce(max, args)

    @staticmethod
    def min(*args: Any) -> Any:
        """Symbolic ``min``: ``ValueChoice.min(a, b, ...)`` or ``ValueChoice.min([a, b])``.

        With no choice among the arguments it is the plain ``min`` (a number), as in NNI.
        """
        return _reduce(min, args)

    @staticmethod
    def condition(pred: Any, true: Any, false: Any) -> Expression:
        """Symbolic ``true if pred else false`` (both branches are frozen, one is returned)."""
        return Expression(
            lambda p, t, f: t if p else f, [pred, true, false], "({1} if {0} else {2})"
        )

    @staticmethod
    def to_int(obj: Any) -> Expression:
        """Symbolic ``int(obj)``."""
        return Expression(int, [obj], "int({})")

    @staticmethod
    def to_float(obj: Any) -> Expression:
        """Symbolic ``float(obj)``."""
        return Expression(float, [obj], "float({})")


def _reduce(fn: Callable[[list[Any]], Any], args: tuple[Any, ...]) -> Any:
    """``fn`` (``max``, ``min``) of ``fn(a, b, ...)`` or ``fn([a, b])``: symbolic when a choice
    is among the arguments, else the plain value."""
    items = list(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else list(args)
    if not contains_mutable(items):
        return fn(items)
    return Expression(lambda *xs: fn(list(xs)), items, f"{fn.__name__}({{}})", variadic=True)


def _invert(value: Any) -> Any:
    """``~value``; for a bool, its negation (``~True`` is ``-2`` in Python, never what is meant)."""
    return not value if isinstance(value, bool) else ~value


class Expression(MutableExpression):
    """``fn(*operands)`` where some operands are mutables; evaluated at freeze time."""

    def __init__(
        self, fn: Callable[..., Any], operands: Iterable[Any], fmt: str, *, variadic: bool = False
    ) -> None:
        self.fn = fn
        self.operands = list(operands)
        self.fmt = fmt
        self.variadic = variadic

    def leaves(self) -> Iterator[Choice]:
        for operand in self.operands:
            yield from leaves_of(operand)

    def freeze(self, sample: Mapping[str, Any]) -> Any:
        return self.fn(*(freeze_structure(o, sample) for o in self.operands))

    def __repr__(self) -> str:
        if self.variadic:
            return self.fmt.format(", ".join(repr(o) for o in self.operands))
        return self.fmt.format(*self.operands)


def _scalar_key(value: Any) -> tuple[str, Any] | None:
    """A hashable key with JSON equality for scalars (``1 == 1.0``, ``True != 1``), else None."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    if value is None:
        return ("0", None)
    return None


def _as_json(value: Any) -> Any:
    """Tuples as lists (recursively): the form a value has after a JSON round trip."""
    if isinstance(value, (list, tuple)):
        return [_as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    return value


def _check_unique(candidates: list[Any], owner: str) -> None:
    keys = [_scalar_key(c) for c in candidates]
    if all(k is not None for k in keys) and len(set(keys)) == len(keys):
        return
    for i, a in enumerate(candidates):
        for b in candidates[:i]:
            if json_equal(a, b):
                raise ValueError(f"{owner}: duplicate candidate {a!r}")


class Categorical(Choice, MutableExpression):
    """Choose one of ``candidates``; the user-facing name is ``ValueChoice``.

    The sample holds the chosen candidate itself when every candidate is a JSON value (numbers,
    strings, lists, ...), and its *index* otherwise (modules, functions, candidates that contain
    further choices). Freezing always returns the original candidate object, frozen recursively.
    """

    kind = "choice"

    def __init__(self, candidates: Iterable[Any], *, label: str | None = None) -> None:
        owner = type(self).__name__
        if isinstance(candidates, (str, bytes)) or not isinstance(candidates, Iterable):
            raise TypeError(f"{owner}: candidates must be a list, got {candidates!r}")
        self.candidates: list[Any] = list(candidates)
        if not self.candidates:
            raise ValueError(f"{owner}(label={label!r}): candidates must not be empty")
        # A candidate holding a choice is never a JSON value, so it is chosen by index too.
        self.by_index = not all(is_json_value(c) for c in self.candidates)
        if not self.by_index:
            _check_unique(self.candidates, f"{owner}(label={label!r})")
        self.label = label_or_auto(label, owner)

    @property
    def domain(self) -> list[Any]:
        """The values a sample may hold for this label."""
        if self.by_index:
            return list(range(len(self.candidates)))
        return [_as_json(c) for c in self.candidates]

    @property
    def size(self) -> int:
        return len(self.candidates)

    def values(self) -> Iterator[Any]:
        return iter(self.domain)

    def random(self, rng: random.Random) -> Any:
        return self.domain[rng.randrange(len(self.candidates))]

    def index_of(self, value: Any) -> int:
        """Position of the candidate that ``value`` (a sample value) designates."""
        if self.by_index:
            if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < self.size:
                return value
        else:
            for i, candidate in enumerate(self.candidates):
                if json_equal(candidate, value):
                    return i
        raise SampleError(
            f"value {value!r} for label {self.label!r} is not a candidate; "
            f"allowed values: {_short(self.domain)}"
        )

    def normalize(self, value: Any) -> Any:
        return self.domain[self.index_of(value)]

    def freeze(self, sample: Mapping[str, Any]) -> Any:
        if self.label not in sample:
            raise SampleError(
                f"the sample has no value for label {self.label!r}; "
                f"allowed values: {_short(self.domain)}"
            )
        return freeze_structure(self.candidates[self.index_of(sample[self.label])], sample)

    def leaves(self) -> Iterator[Choice]:
        yield self
        for candidate in self.candidates:
            yield from leaves_of(candidate)

    def spec(self) -> dict[str, Any]:
        values = self.domain
        return {"_type": self.kind, "_value": values}

    def __repr__(self) -> str:
        name = "ValueChoice" if type(self) is Categorical else type(self).__name__
        return f"{name}({_short(self.candidates)}, label={self.label!r})"


class InputSubset(Choice):
    """Choose ``n_chosen`` of ``n_candidates`` inputs (any non-empty subset if ``n_chosen`` is None).

    The sample holds the chosen input indices as a sorted list, e.g. ``[0, 2]``.
    """

    kind = "input_choice"

    def __init__(self, n_candidates: int, n_chosen: int | None, *, label: str) -> None:
        if not isinstance(n_candidates, int) or n_candidates < 1:
            raise ValueError(
                f"InputChoice(label={label!r}): n_candidates must be >= 1, got {n_candidates!r}"
            )
        if n_chosen is not None and not (
            isinstance(n_chosen, int) and 1 <= n_chosen <= n_candidates
        ):
            raise ValueError(
                f"InputChoice(label={label!r}): n_chosen must be None or between 1 and "
                f"n_candidates={n_candidates}, got {n_chosen!r}"
            )
        self.n_candidates = n_candidates
        self.n_chosen = n_chosen
        self.label = label

    @property
    def size(self) -> int:
        if self.n_chosen is None:
            return 2**self.n_candidates - 1
        return math.comb(self.n_candidates, self.n_chosen)

    def values(self) -> Iterator[list[int]]:
        sizes = [self.n_chosen] if self.n_chosen is not None else range(1, self.n_candidates + 1)
        for k in sizes:
            for combo in itertools.combinations(range(self.n_candidates), k):
                yield list(combo)

    def random(self, rng: random.Random) -> list[int]:
        if self.n_chosen is not None:
            return sorted(rng.sample(range(self.n_candidates), self.n_chosen))
        while True:
            chosen = [i for i in range(self.n_candidates) if rng.random() < 0.5]
            if chosen:
                return chosen

    def normalize(self, value: Any) -> list[int]:
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        allowed = (
            f"{self.n_chosen if self.n_chosen is not None else 'one or more'} distinct "
            f"indices in 0..{self.n_candidates - 1}"
        )
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v < self.n_candidates
            for v in value
        ):
            raise SampleError(
                f"value {value!r} for label {self.label!r} is not valid; expected a list of {allowed}"
            )
        chosen = sorted(value)
        if (
            len(set(chosen)) != len(chosen)
            or not chosen
            or (self.n_chosen is not None and len(chosen) != self.n_chosen)
        ):
            raise SampleError(
                f"value {value!r} for label {self.label!r} is not valid; expected a list of {allowed}"
            )
        return chosen

    def freeze(self, sample: Mapping[str, Any]) -> list[int]:
        if self.label not in sample:
            raise SampleError(f"the sample has no value for label {self.label!r} (an InputChoice)")
        return self.normalize(sample[self.label])

    def spec(self) -> dict[str, Any]:
        return {
            "_type": self.kind,
            "_value": {"candidates": list(range(self.n_candidates)), "n_chosen": self.n_chosen},
        }

    def __repr__(self) -> str:
        return f"InputSubset(n_candidates={self.n_candidates}, n_chosen={self.n_chosen}, label={self.label!r})"
