"""MNIST from the four standard idx files (optionally gzipped), read from a path you give.

Nothing is downloaded. The default location is ``$RETIARII_MNIST`` or, failing that, the first
of ``../shared/data/mnist`` / ``./data/mnist`` that exists.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MNIST", "default_mnist_root", "load_mnist_arrays", "read_idx"]

_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_DTYPES: dict[int, Any] = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def default_mnist_root() -> Path:
    """Where MNIST is looked for when no path is given."""
    env = os.environ.get("RETIARII_MNIST")
    if env:
        return Path(env)
    for candidate in (Path("../shared/data/mnist"), Path("data/mnist")):
        if candidate.is_dir():
            return candidate.resolve()
    return Path("../shared/data/mnist")


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one idx file (``.gz`` or raw) into a numpy array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise ValueError(f"{path} is not an idx file (bad magic number)")
    ndim = data[3]
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    array = np.frombuffer(data, dtype=np.dtype(_DTYPES[data[2]]), offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise ValueError(
            f"{path} is truncated: expected {int(np.prod(shape))} values, got {array.size}"
        )
    return array.reshape(shape)


def _find(root: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (root / name).exists():
            return root / name
    raise FileNotFoundError(
        f"MNIST file {stem}[.gz] not found in {root}. Put the four idx files there, pass "
        "root=..., or set RETIARII_MNIST to their folder."
    )


def load_mnist_arrays(
    root: str | os.PathLike[str] | None = None, train: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 [N, 28, 28], labels int64 [N])`` of the train or test split."""
    folder = Path(root) if root is not None else default_mnist_root()
    images_stem, labels_stem = _FILES[train]
    images = read_idx(_find(folder, images_stem))
    labels = read_idx(_find(folder, labels_stem)).astype(np.int64)
    if len(images) != len(labels):
        raise ValueError(f"MNIST in {folder}: {len(images)} images but {len(labels)} labels")
    return images, labels


class MNIST:
    """A torch ``Dataset`` of MNIST: ``(image float32 [1, 28, 28] normalised, label)``.

    Args:
        root: folder with the idx files (default: :func:`default_mnist_root`).
        train: the 60,000-image training split, or the 10,000-image test split.
        limit: keep only the first ``limit`` examples (for quick runs).
        normalize: subtract 0.1307 and divide by 0.3081, as is customary.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        train: bool = True,
        limit: int | None = None,
        normalize: bool = True,
    ) -> None:
        import torch

        images, labels = load_mnist_arrays(root, train)
        if limit is not None:
            images, labels = images[:limit], labels[:limit]
        x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
        if normalize:
            x = (x - 0.1307) / 0.3081
        self.images = x
        self.labels = torch.from_numpy(labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self.images[index], self.labels[index]
