"""The NAS-Bench-201 set-up shared by ``nb201_strategies.py`` and ``nb201_multifidelity.py``:
the table's default path, the datasets, the per-process worker state and the process pool."""

from __future__ import annotations

import logging
import multiprocessing
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TABLE = ROOT.parent / "shared" / "data" / "nb201" / "nb201.csv.gz"
DATASETS = ("cifar10", "cifar100", "imagenet16")
DATASET_NAMES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "imagenet16": "ImageNet16-120"}

#: What a worker process loads once: ``table`` (the NAS-Bench-201 rows), ``space`` (the
#: NasBench201 model space) and ``table_path``.
WORKER: dict[str, Any] = {}


def setup_worker(table_path: str) -> None:
    import torch

    torch.set_num_threads(1)  # the driver only runs strategies: tiny tensors, no thread pools
    logging.getLogger("retiarii").setLevel(logging.WARNING)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    from retiarii.benchmark import load_nasbench201
    from retiarii.hub.pytorch import NasBench201

    WORKER["table"] = load_nasbench201(table_path)
    WORKER["space"] = NasBench201()
    WORKER["table_path"] = table_path


def run_tasks(
    run_one: Callable[[Any], list[dict[str, Any]]],
    tasks: Sequence[Any],
    table_path: str,
    workers: int,
    *,
    ordered: bool,
    every: int,
    unit: str,
) -> list[dict[str, Any]]:
    """The rows of every task, run in this process (``workers <= 1``) or in a spawned pool whose
    workers are set up by :func:`setup_worker`; progress every ``every`` tasks on stderr
    (0: none). ``ordered=False`` collects results as they finish."""
    rows: list[dict[str, Any]] = []
    start = time.time()
    if workers <= 1:
        setup_worker(table_path)
        results: Any = map(run_one, tasks)
        pool = None
    else:
        pool = multiprocessing.get_context("spawn").Pool(
            workers, initializer=setup_worker, initargs=(table_path,)
        )
        results = (pool.imap if ordered else pool.imap_unordered)(run_one, tasks)
    try:
        for i, result in enumerate(results, 1):
            rows.extend(result)
            if every and (i % every == 0 or i == len(tasks)):
                print(
                    f"  {i}/{len(tasks)} {unit}, {time.time() - start:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return rows
