"""JSON-safe (de)serialisation of ``random.Random`` state for ``state_dict``."""

from __future__ import annotations

import random
from typing import Any

__all__ = ["get_rng_state", "set_rng_state"]


def get_rng_state(rng: random.Random) -> list[Any]:
    """``rng.getstate()`` as nested lists."""
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def set_rng_state(rng: random.Random, state: list[Any]) -> None:
    """Inverse of :func:`get_rng_state`."""
    version, internal, gauss = state
    rng.setstate((version, tuple(internal), gauss))
