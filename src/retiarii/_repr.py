"""Shortened ``repr`` for the one-line descriptions of strategies and evaluators.

What the store, ``retiarii list`` and the dashboard show must stay readable when an argument is a
long string, a large list or an object with a long ``repr``: every description shortens its
values with :func:`short_repr`, so they all cut at the same length.
"""

from __future__ import annotations

import reprlib
from typing import Any

__all__ = ["short_repr"]

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60


def short_repr(value: Any) -> str:
    """``repr(value)`` with strings and other reprs cut to about 60 characters (and containers
    to reprlib's few items)."""
    return _SHORT.repr(value)
