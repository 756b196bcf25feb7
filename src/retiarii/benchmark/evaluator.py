"""``NasBench201Benchmark``: an evaluator that looks the sampled cell up instead of training it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..evaluator import Evaluator
from ..reporting import report_final_result
from .nasbench201 import (
    NasBench201Table,
    column_name,
    load_nasbench201,
    sample_to_arch_str,
)

__all__ = ["NasBench201Benchmark"]


class NasBench201Benchmark(Evaluator):
    """Evaluate samples of :class:`~retiarii.hub.pytorch.NasBench201` by a table lookup.

    The final result of a trial is the table's accuracy (%) of the sampled cell: by default the
    *validation* accuracy after 200 epochs, which is what a search strategy may see under the
    NAS-Bench-201 protocol (score the architecture it returns by its test accuracy, e.g. with
    :meth:`query`). Nothing is trained, so thousands of trials take seconds.

    Args:
        dataset: ``'cifar10'``, ``'cifar100'`` or ``'imagenet16'`` (ImageNet16-120).
        metric: ``'valid'`` or ``'test'`` accuracy.
        epochs: 200, or 12 (NAS-Bench-201's cheap fidelity).
        path: the table (``nb201.csv.gz``); default ``$RETIARII_NB201`` or
            ``~/.cache/retiarii/nb201.csv.gz``. A missing table raises ``FileNotFoundError``
            saying where to put it.

    Example:
        >>> from retiarii.hub.pytorch import NasBench201  # doctest: +SKIP
        >>> exp = RetiariiExperiment(NasBench201(), NasBench201Benchmark("cifar100"), None,
        ...                          strategy.LocalSearch())  # doctest: +SKIP

    The experiment does not even build the network: an evaluator with ``evaluate_sample`` is given
    the sample. ``evaluate(model)`` also works, on a frozen ``NasBench201`` network.
    """

    def __init__(
        self,
        dataset: str = "cifar10",
        metric: str = "valid",
        epochs: int = 200,
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.dataset, self.metric, self.epochs = dataset, metric, epochs
        self.column = column_name(dataset, metric, epochs)
        # absolute, so that workers started elsewhere find the same file
        self.path = os.path.abspath(os.path.expanduser(path)) if path is not None else None
        table = load_nasbench201(self.path)  # fails early, naming where the table should be
        table.rows[0][self.column]

    @property
    def table(self) -> NasBench201Table:
        """The table (loaded once per process)."""
        return load_nasbench201(self.path)

    def query(self, sample: Mapping[str, Any] | str, column: str | None = None) -> float:
        """The table's ``column`` (default: this evaluator's) for a sample or an ``arch_str``."""
        return self.table.query(sample, column or self.column)

    def evaluate_sample(self, sample: Mapping[str, Any]) -> float:
        """Report and return the sample's accuracy (what a trial runs)."""
        value = self.table.query(sample_to_arch_str(sample), self.column)
        report_final_result(value)
        return value

    def evaluate(self, model: Any) -> float:
        """Report and return the accuracy of a frozen :class:`~retiarii.hub.pytorch.NasBench201`."""
        chosen = getattr(model, "chosen_ops", None)
        if not callable(chosen):
            raise TypeError(
                f"NasBench201Benchmark evaluates NasBench201 networks (retiarii.hub.pytorch), got "
                f"{type(model).__name__}"
            )
        return self.evaluate_sample(chosen())

    def __repr__(self) -> str:
        return (
            f"NasBench201Benchmark(dataset={self.dataset!r}, metric={self.metric!r}, "
            f"epochs={self.epochs})"
        )
