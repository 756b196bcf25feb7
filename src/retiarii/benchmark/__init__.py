"""Benchmarks for search strategies: ``NasBench201Benchmark`` looks cells up in NAS-Bench-201.

Pure Python; the table is loaded from a user-given path (or ``$RETIARII_NB201``), once per process.
"""

from __future__ import annotations

from .evaluator import NasBench201Benchmark
from .nasbench201 import (
    DATASETS,
    NB201_ENV,
    NB201_LABELS,
    NB201_OPS,
    NasBench201Row,
    NasBench201Table,
    arch_str_to_sample,
    column_name,
    config_id,
    default_nb201_path,
    load_nasbench201,
    sample_to_arch_str,
)

__all__ = [
    "DATASETS",
    "NB201_ENV",
    "NB201_LABELS",
    "NB201_OPS",
    "NasBench201Benchmark",
    "NasBench201Row",
    "NasBench201Table",
    "arch_str_to_sample",
    "column_name",
    "config_id",
    "default_nb201_path",
    "load_nasbench201",
    "sample_to_arch_str",
]
