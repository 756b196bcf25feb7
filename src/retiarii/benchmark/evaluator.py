"""``NasBench201Benchmark``: an evaluator that looks the sampled cell up instead of training it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..evaluator import Evaluator
from ..reporting import report_final_result, report_intermediate_result
from .nasbench201 import (
    DATASETS,
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

    Multi-fidelity (for pruners, see :mod:`retiarii.experiment.pruners`): with ``epochs=200`` and
    ``fidelities=True`` (the default) a trial first reports the table's 12-epoch accuracy as its
    one intermediate result (step 1), then the 200-epoch accuracy as its final result. Each result
    is a dict: ``{'default': accuracy, 'epochs': 12 or 200, 'cost_s': seconds}``, where ``cost_s``
    is the simulated training cost so far, from the table's 200-epoch training time
    (``traintime200_*``) scaled by ``epochs / 200``. A trial a pruner stops after the 12-epoch
    result thus keeps ``cost_s`` of 12 epochs as its final metric, so the compute a search spent is
    the sum of its trials' final ``cost_s``.
    """

    def __init__(
        self,
        dataset: str = "cifar10",
        metric: str = "valid",
        epochs: int = 200,
        path: str | os.PathLike[str] | None = None,
        fidelities: bool = True,
    ) -> None:
        self.dataset, self.metric, self.epochs = dataset, metric, epochs
        self.column = column_name(dataset, metric, epochs)
        # the cheap fidelity comes first only when the final result is the expensive one
        self.low_column = column_name(dataset, metric, 12) if fidelities and epochs == 200 else None
        self.time_column = f"traintime200_{DATASETS[dataset]}"
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
        """Report and return the sample's accuracy (what a trial runs).

        Raises:
            retiarii.TrialPruned: a pruner stopped the trial after its 12-epoch result.
        """
        row = self.table.row(sample_to_arch_str(sample))
        full_cost = row[self.time_column]
        if self.low_column is not None:
            report_intermediate_result(
                {"default": row[self.low_column], "epochs": 12, "cost_s": full_cost * (12 / 200)}
            )
        value = row[self.column]
        report_final_result(
            {"default": value, "epochs": self.epochs, "cost_s": full_cost * (self.epochs / 200)}
        )
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
