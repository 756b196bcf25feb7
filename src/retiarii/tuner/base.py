"""``Tuner``: NNI's tuner interface, for search algorithms written as HPO-style tuners.

A tuner gets the search space once (:meth:`Tuner.update_search_space`, the ``ss-gen`` JSON), is
asked for parameters (:meth:`Tuner.generate_parameters`), and is told results
(:meth:`Tuner.receive_trial_result`) and trial ends (:meth:`Tuner.trial_end`). Parameters are in
the format of :mod:`retiarii.tuner.format`. Run one in an experiment with
``strategy.TunerStrategy(tuner)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["NoMoreTrialError", "Tuner"]


class NoMoreTrialError(Exception):
    """Raised by :meth:`Tuner.generate_parameters` when the tuner has nothing more to propose."""


class Tuner:
    """Base class of tuners (NNI's ``nni.tuner.Tuner`` API).

    ``optimize_mode`` is set by :class:`~retiarii.strategy.TunerStrategy` to the experiment's
    (``'maximize'`` or ``'minimize'``) unless the tuner set it itself; values are passed to the
    tuner as the trials reported them.

    Example:
        >>> import random
        >>> class RandomTuner(Tuner):
        ...     def update_search_space(self, search_space):
        ...         self.space = search_space
        ...     def generate_parameters(self, parameter_id, **kwargs):
        ...         out = {}
        ...         for label, spec in self.space.items():
        ...             i = random.randrange(len(spec["_value"]))
        ...             out[label] = {"_value": spec["_value"][i], "_idx": i}
        ...         return out
        ...     def receive_trial_result(self, parameter_id, parameters, value, **kwargs):
        ...         pass
    """

    optimize_mode: str | None = None

    def update_search_space(self, search_space: dict[str, Any]) -> None:
        """Receive the search space (``ss-gen`` JSON: ``{label: {"_type", "_value"}}``)."""
        raise NotImplementedError

    def generate_parameters(self, parameter_id: int, **kwargs: Any) -> dict[str, Any]:
        """Parameters of a new trial (raise :class:`NoMoreTrialError` when there are none)."""
        raise NotImplementedError

    def generate_multiple_parameters(
        self, parameter_id_list: list[int], **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Parameters for several trials; by default :meth:`generate_parameters` for each."""
        return [self.generate_parameters(pid, **kwargs) for pid in parameter_id_list]

    def receive_trial_result(
        self, parameter_id: int, parameters: dict[str, Any], value: Any, **kwargs: Any
    ) -> None:
        """The final result ``value`` of the trial that ran ``parameters``."""
        raise NotImplementedError

    def trial_end(self, parameter_id: int, success: bool, **kwargs: Any) -> None:
        """The trial ended: after its result (``success=True``) or without one (failed,
        rejected by ``model_filter``)."""

    def import_data(self, data: list[dict[str, Any]]) -> None:
        """Results of earlier trials, ``[{"parameter": parameters, "value": value}, ...]`` (on
        resume: the experiment's finished trials)."""

    # retiarii's addition: JSON state, so that a resumed experiment continues where it stopped
    def state_dict(self) -> dict[str, Any]:
        """JSON-ready state to save with the experiment (default: none)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
