"""``GridSearch``: every sample of the space, once."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Mapping
from typing import Any

from .base import BaseStrategy, Sample

__all__ = ["GridSearch"]


class GridSearch(BaseStrategy):
    """Try every sample of the search space exactly once, then stop.

    Args:
        shuffle: visit the grid in a random (seeded) order instead of the natural one. Shuffling
            materialises the grid, so it needs a space that fits in memory.
        seed: seed of the shuffle.
    """

    def __init__(self, shuffle: bool = False, seed: int | None = None) -> None:
        super().__init__(dedup=False, seed=seed)
        self.shuffle = shuffle
        self.position = 0
        self._iter: Iterator[Sample] | None = None

    def on_attach(self) -> None:
        self._iter = None

    def _grid(self) -> Iterator[Sample]:
        assert self.space is not None
        if not self.shuffle:
            return itertools.islice(self.space.grid(), self.position, None)
        samples = list(self.space.grid())
        random.Random(self.seed).shuffle(samples)
        return iter(samples[self.position :])

    def propose(self) -> Sample | None:
        if self._iter is None:
            self._iter = self._grid()
        sample = next(self._iter, None)
        if sample is None:
            self._exhaust(f"the whole grid ({self.position} samples) has been proposed")
            return None
        self.position += 1
        return sample

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.position = int(state.get("position", 0))
        self._iter = None
