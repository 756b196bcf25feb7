"""Automatic labels for choices created without an explicit ``label``.

Rule (documented for users): an unlabelled choice gets ``"{kind}_{n}"`` — e.g. ``layerchoice_1``,
``inputchoice_2``, ``valuechoice_1``, ``repeat_1``, ``cell_1`` — where ``n`` counts choices of that
kind *in construction order*, starting at 1 for every construction of an outermost
``@model_wrapper`` model. Building the same model twice therefore gives the same labels, which is
what lets a sample found in one process rebuild the model in another. Choices created outside any
``@model_wrapper`` construction draw from one process-wide counter (still deterministic for a given
script, but not reset): give them explicit labels, or wrap the outer model.

Explicit labels are used as given and are always stable.

Parts of a model that ``fixed_arch`` may skip building (factory candidates of a ``LayerChoice``,
blocks of a ``Repeat`` with a chosen depth) are built inside :func:`label_namespace`: unlabelled
choices in them are numbered afresh under the parent's label, e.g. ``repeat_1/2/layerchoice_1``
(block 2 of ``repeat_1``) or ``layerchoice_1/conv/valuechoice_1`` (candidate ``conv``). Skipping them
therefore never shifts the numbers of the choices built after them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["auto_label", "label_namespace", "label_scope", "validate_label"]


class _LabelCounter:
    def __init__(self, prefix: str = "") -> None:
        self._prefix = prefix
        self._counts: dict[str, int] = {}

    def next(self, kind: str) -> str:
        n = self._counts.get(kind, 0) + 1
        self._counts[kind] = n
        return f"{self._prefix}{kind}_{n}"


_global_counter = _LabelCounter()
_scope: ContextVar[_LabelCounter | None] = ContextVar("retiarii_label_scope", default=None)


def auto_label(kind: str) -> str:
    """Next automatic label for a choice of ``kind`` in the current scope."""
    counter = _scope.get() or _global_counter
    return counter.next(kind)


@contextmanager
def label_scope() -> Iterator[None]:
    """Number automatic labels from 1 inside this block, unless a scope is already open.

    Nested scopes reuse the outer one, so a ``@model_wrapper`` model built inside another does not
    restart the numbering (which would make two different choices share a label).
    """
    if _scope.get() is not None:
        yield
        return
    token = _scope.set(_LabelCounter())
    try:
        yield
    finally:
        _scope.reset(token)


def validate_label(label: object, owner: str) -> str:
    """Check an explicit label: a non-empty string."""
    if not isinstance(label, str) or not label:
        raise TypeError(f"{owner}: label must be a non-empty string, got {label!r}")
    return label


@contextmanager
def label_namespace(prefix: str) -> Iterator[None]:
    """Number automatic labels afresh inside this block, as ``{prefix}/{kind}_{n}``.

    Used around building what ``fixed_arch`` may skip, so that the labels of everything built
    afterwards do not depend on whether it was built.
    """
    token = _scope.set(_LabelCounter(f"{prefix}/"))
    try:
        yield
    finally:
        _scope.reset(token)
