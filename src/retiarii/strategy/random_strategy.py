"""``Random``: uniform random samples, optionally without repeats."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from ._rng import get_rng_state, set_rng_state
from .base import BaseStrategy, Sample

__all__ = ["Random"]


class Random(BaseStrategy):
    """Draw samples uniformly at random.

    Args:
        dedup: never propose the same sample twice, so the experiment ends when the space is
            exhausted (the default, as NNI 2.10's); ``dedup=False`` draws with replacement.
        seed: seed of the generator (None: different every run).
        model_filter: ``fn(sample) -> bool`` to skip samples without running them.
    """

    def __init__(
        self,
        dedup: bool = True,
        seed: int | None = None,
        model_filter: Callable[[Sample], bool] | None = None,
    ) -> None:
        super().__init__(dedup=dedup, model_filter=model_filter, seed=seed)
        self.rng = random.Random(seed)

    def propose(self) -> Sample | None:
        assert self.space is not None
        return self.space.random(self.rng)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": get_rng_state(self.rng)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if "rng" in state:
            set_rng_state(self.rng, state["rng"])
