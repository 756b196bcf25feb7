"""JSON-safe (de)serialisation of ``random.Random`` state for ``state_dict``."""

from __future__ import annotations

import random
from typing import Any

__all__ = ["get_rng_state", "set_rng_state"]


def get_rng_state(rng: random.Random) -> list[Any]:
    """``rng.getstate()`` as nested lists."""
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def set_rng_state(rng: Any, state: Any) -> None:
    """Inverse of :func:`get_rng_state`: ``rng.setstate(state)`` for a ``random.Random`` (or the
    ``random`` module) whose state went through JSON or a checkpoint (its tuple now a list)."""
    version, internal, gauss = state
    rng.setstate((version, tuple(internal), gauss))
