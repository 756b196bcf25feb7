"""NAS-Bench-201 as a benchmark: look architectures up in the published table instead of training.

The table (one row per cell, all 15,625, in NAS-Bench-201 index order) is a gzipped CSV with the
columns ``index``, ``arch_str``, ``config_id``, ``test200_<dataset>``, ``val200_<dataset>``, ... (see
the data README of the project). It is not shipped with retiarii: give its path, set the
environment variable ``RETIARII_NB201``, or put it at ``~/.cache/retiarii/nb201.csv.gz``.

Samples of :class:`retiarii.hub.pytorch.NasBench201` map to NAS-Bench-201's ``arch_str``: label
``cell/{j}_{i}`` is the operation on the edge from node ``j`` to node ``i``, and
``arch_str = |op(0->1)~0|+|op(0->2)~0|op(1->2)~1|+|op(0->3)~0|op(1->3)~1|op(2->3)~2|``. The table's
``config_id`` writes the same six operations as digits (``none`` = 0, ``skip_connect`` = 1,
``nor_conv_1x1`` = 2, ``nor_conv_3x3`` = 3, ``avg_pool_3x3`` = 4), in the same edge order.

This module is pure Python (no torch): the table loads in a fraction of a second, once per process.
"""

from __future__ import annotations

import csv
import gzip
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..mutable import SampleError

__all__ = [
    "DATASETS",
    "NB201_ENV",
    "NB201_LABELS",
    "NB201_OPS",
    "NasBench201Row",
    "NasBench201Table",
    "arch_str_to_sample",
    "column_name",
    "config_id",
    "default_nb201_path",
    "load_nasbench201",
    "sample_to_arch_str",
]

#: The five operations, in NAS-Bench-201's order (the digits of ``config_id``).
NB201_OPS: tuple[str, ...] = (
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
)
#: The edges ``(j, i)`` (from node j to node i) in ``arch_str`` order.
NB201_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
#: The labels of :class:`retiarii.hub.pytorch.NasBench201`'s samples, in ``arch_str`` order.
NB201_LABELS: tuple[str, ...] = tuple(f"cell/{j}_{i}" for j, i in NB201_EDGES)
#: Environment variable holding the table's path.
NB201_ENV = "RETIARII_NB201"
#: Datasets, with the suffix of their 200-epoch validation column (CIFAR-10's is the
#: ``cifar10-valid`` split of NAS-Bench-201).
DATASETS: dict[str, str] = {
    "cifar10": "cifar10valid",
    "cifar100": "cifar100",
    "imagenet16": "imagenet16",
}
_OP_INDEX = {op: i for i, op in enumerate(NB201_OPS)}


def column_name(dataset: str, metric: str = "valid", epochs: int = 200) -> str:
    """The table column of ``metric`` (``'valid'`` or ``'test'`` accuracy, %) after ``epochs``
    (200, or 12 for NAS-Bench-201's cheap fidelity) on ``dataset``."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {sorted(DATASETS)}, got {dataset!r}")
    if metric not in ("valid", "test"):
        raise ValueError(f"metric must be 'valid' or 'test', got {metric!r}")
    if epochs == 200:
        return f"val200_{DATASETS[dataset]}" if metric == "valid" else f"test200_{dataset}"
    if epochs == 12:
        return f"{dataset}_{'val' if metric == 'valid' else 'test'}_12ep"
    raise ValueError(f"epochs must be 200 or 12, got {epochs!r}")


# -- samples <-> arch_str ---------------------------------------------------------------------------
def sample_to_arch_str(sample: Mapping[str, Any]) -> str:
    """NAS-Bench-201's ``arch_str`` of a sample of :class:`~retiarii.hub.pytorch.NasBench201`."""
    ops = []
    for label in NB201_LABELS:
        op = sample.get(label) if isinstance(sample, Mapping) else None
        if op not in _OP_INDEX:
            if not isinstance(sample, Mapping) or label not in sample:
                raise SampleError(
                    f"the sample has no value for label {label!r}; a NAS-Bench-201 sample has "
                    f"the labels {list(NB201_LABELS)}"
                )
            raise SampleError(
                f"value {op!r} for label {label!r} is not a NAS-Bench-201 operation; allowed "
                f"values: {list(NB201_OPS)}"
            )
        ops.append(op)
    unknown = [label for label in sample if label not in NB201_LABELS]
    if unknown:
        raise SampleError(
            f"the sample has unknown label(s) {unknown}; a NAS-Bench-201 sample has the labels "
            f"{list(NB201_LABELS)}"
        )
    return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops)


def arch_str_to_sample(arch_str: str) -> dict[str, str]:
    """The sample of a NAS-Bench-201 ``arch_str`` (inverse of :func:`sample_to_arch_str`)."""
    nodes = arch_str.split("+") if isinstance(arch_str, str) else []
    ops: list[str] = []
    ok = len(nodes) == 3
    for i, node in enumerate(nodes, start=1):
        edges = node.strip("|").split("|")
        ok = ok and node.startswith("|") and node.endswith("|") and len(edges) == i
        for j, edge in enumerate(edges):
            op, _, source = edge.partition("~")
            ok = ok and source == str(j) and op in _OP_INDEX
            ops.append(op)
    if not ok:
        raise ValueError(
            f"{arch_str!r} is not a NAS-Bench-201 arch_str; expected e.g. "
            "'|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|none~0|avg_pool_3x3~1|nor_conv_1x1~2|'"
        )
    return dict(zip(NB201_LABELS, ops))


def config_id(sample: Mapping[str, Any]) -> str:
    """The table's ``config_id`` of a sample: its six operations as digits."""
    sample_to_arch_str(sample)  # validates
    return "".join(str(_OP_INDEX[sample[label]]) for label in NB201_LABELS)


# -- the table ---------------------------------------------------------------------------------------
def default_nb201_path() -> Path:
    """``$RETIARII_NB201`` if set, else ``~/.cache/retiarii/nb201.csv.gz``."""
    env = os.environ.get(NB201_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "retiarii" / "nb201.csv.gz"


def _missing(path: Path, given: bool) -> FileNotFoundError:
    where = (
        "the path given"
        if given
        else (
            f"${NB201_ENV}"
            if os.environ.get(NB201_ENV)
            else "the default location (no $" + NB201_ENV + ")"
        )
    )
    return FileNotFoundError(
        f"NAS-Bench-201 table not found at {str(path)!r} ({where}). The table (nb201.csv.gz, one "
        "row per cell with arch_str, val200_*/test200_* accuracies) is not shipped with retiarii: "
        f"pass path='/path/to/nb201.csv.gz', set {NB201_ENV}=/path/to/nb201.csv.gz, or put it at "
        f"{Path.home() / '.cache' / 'retiarii' / 'nb201.csv.gz'}"
    )


@dataclass(frozen=True)
class NasBench201Row:
    """One architecture of the table: its ``index``, ``arch_str`` and numeric columns."""

    index: int
    arch_str: str
    config_id: str
    values: Mapping[str, float]

    def __getitem__(self, column: str) -> float:
        try:
            return self.values[column]
        except KeyError:
            raise KeyError(
                f"the NAS-Bench-201 table has no column {column!r}; columns: {sorted(self.values)}"
            ) from None


class NasBench201Table:
    """The NAS-Bench-201 table in memory: O(1) lookup by ``arch_str``, rows in index order.

    Use :func:`load_nasbench201` (cached per process) rather than building one directly.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.rows: list[NasBench201Row] = []
        self._by_arch: dict[str, NasBench201Row] = {}
        with gzip.open(self.path, "rt", newline="") as fh:
            reader = csv.DictReader(fh)
            for record in reader:
                values = {
                    key: float(value)
                    for key, value in record.items()
                    if key not in ("index", "arch_str", "config_id") and value not in ("", None)
                }
                row = NasBench201Row(
                    int(record["index"]), record["arch_str"], record["config_id"], values
                )
                self.rows.append(row)
                self._by_arch[row.arch_str] = row
        self.columns: list[str] = sorted(self.rows[0].values) if self.rows else []

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[NasBench201Row]:
        return iter(self.rows)

    def __contains__(self, arch_str: object) -> bool:
        return arch_str in self._by_arch

    def row(self, arch: str | Mapping[str, Any]) -> NasBench201Row:
        """The row of an ``arch_str`` or a sample."""
        arch_str = arch if isinstance(arch, str) else sample_to_arch_str(arch)
        try:
            return self._by_arch[arch_str]
        except KeyError:
            arch_str_to_sample(arch_str)  # a malformed string raises a clear error
            raise KeyError(f"{arch_str!r} is not in the table {self.path}") from None

    def query(self, arch: str | Mapping[str, Any], column: str) -> float:
        """One value, e.g. ``table.query(sample, 'test200_cifar10')``."""
        return self.row(arch)[column]


_TABLES: dict[Path, NasBench201Table] = {}
_LOCK = threading.Lock()


def load_nasbench201(path: str | os.PathLike[str] | None = None) -> NasBench201Table:
    """The table at ``path`` (default :func:`default_nb201_path`), loaded once per process."""
    resolved = Path(path).expanduser() if path is not None else default_nb201_path()
    if not resolved.is_file():
        raise _missing(resolved, path is not None)
    key = resolved.resolve()
    with _LOCK:
        table = _TABLES.get(key)
        if table is None:
            table = _TABLES[key] = NasBench201Table(key)
    return table
