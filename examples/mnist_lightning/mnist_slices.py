"""MNIST slices that travel to worker processes as a path, not as 200 MB of tensors."""

from __future__ import annotations

import os
from typing import Any

import torch.utils.data

from retiarii.data import MNIST


class MnistSlice(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """Examples ``[start, stop)`` of an MNIST split, read from ``root`` on first use.

    Pickling keeps only the arguments, so an evaluator holding the full 60,000-image training
    set costs a few hundred bytes to ship; each worker reads the idx files itself.
    """

    def __init__(
        self, root: str | os.PathLike[str], train: bool, start: int = 0, stop: int | None = None
    ) -> None:
        self.root, self.train, self.start, self.stop = str(root), train, start, stop
        self._data: MNIST | None = None

    def _load(self) -> MNIST:
        if self._data is None:
            data = MNIST(self.root, train=self.train)
            data.images = data.images[self.start : self.stop]
            data.labels = data.labels[self.start : self.stop]
            self._data = data
        return self._data

    def __len__(self) -> int:
        return len(self._load())

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self._load()[index]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_data": None}
