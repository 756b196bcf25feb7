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
        shuffle: as NNI 2.10 (and by default), try each label's values in a random (seeded)
            order, so that a budget smaller than the grid does not only see the first values.
            The grid is still walked lazily, so any size of space works. ``shuffle=False`` walks
            it in the natural order (the candidates as written).
        seed: seed of the shuffle (None: drawn once and kept, so a resumed search goes on in the
            same order).
    """

    def __init__(self, shuffle: bool = True, seed: int | None = None) -> None:
        super().__init__(dedup=False, seed=seed)
        self.shuffle = shuffle
        self.shuffle_seed = seed if seed is not None else random.randrange(2**32)
        self.position = 0
        self._iter: Iterator[Sample] | None = None

    def on_attach(self) -> None:
        self._iter = None

    def _grid(self) -> Iterator[Sample]:
        assert self.space is not None
        if not self.shuffle:
            return itertools.islice(self.space.grid(), self.position, None)
        rng = random.Random(self.shuffle_seed)
        labels = list(self.space)
        values = []
        for label in labels:
            options = list(self.space[label].values())
            rng.shuffle(options)
            values.append(options)
        combos = itertools.islice(itertools.product(*values), self.position, None)
        return (dict(zip(labels, combo)) for combo in combos)

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
        if not self.shuffle:
            return {"position": self.position}
        return {"position": self.position, "shuffle_seed": self.shuffle_seed}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.position = int(state.get("position", 0))
        self.shuffle_seed = int(state.get("shuffle_seed", self.shuffle_seed))
        self._iter = None
