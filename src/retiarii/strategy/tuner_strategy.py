"""``TunerStrategy``: run an NNI-style :class:`~retiarii.tuner.Tuner` as a strategy."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from ..tuner import NoMoreTrialError, parameters_to_sample, sample_to_parameters
from .base import BaseStrategy, Sample, TrialResult, sample_key

__all__ = ["TunerStrategy"]


class TunerStrategy(BaseStrategy):
    """Drive a tuner (NNI's ``Tuner`` API) from the experiment.

    * On attach the tuner receives the search space: ``tuner.update_search_space(space.to_json())``
      (the ``ss-gen`` JSON of seed 003).
    * Each proposal is ``tuner.generate_parameters(parameter_id)`` with ids 0, 1, 2, ...; the
      parameters (``{label: {"_value": ..., "_idx": ...}}``, see :mod:`retiarii.tuner.format`)
      become the sample. Malformed parameters raise a ``SampleError`` naming the label.
      ``NoMoreTrialError`` from the tuner ends the experiment.
    * A successful trial calls ``tuner.receive_trial_result(parameter_id, parameters, value)``
      (``value``: the trial's final metric, as reported) and then ``tuner.trial_end(parameter_id,
      True)``; a failed trial, or parameters rejected by ``model_filter``, only
      ``trial_end(parameter_id, False)``.
    * With ``dedup``, parameters of a sample already run are not run again: the tuner gets that
      sample's result at once (or ``trial_end(id, False)`` if it had none) and is asked again.
    * On resume the finished trials reach a fresh tuner through ``tuner.import_data([{"parameter":
      ..., "value": ...}])``; then the tuner's own ``load_state_dict`` (if it has one) restores
      what its ``state_dict()`` saved.

    The tuner's ``optimize_mode`` is set to the experiment's unless the tuner set it.

    Args:
        tuner: a :class:`~retiarii.tuner.Tuner` (or any object with its methods).
        dedup: never run the same sample twice.
        model_filter: ``fn(sample) -> bool``; rejected samples are not run.
    """

    def __init__(
        self,
        tuner: Any,
        dedup: bool = False,
        model_filter: Callable[[Sample], bool] | None = None,
    ) -> None:
        super().__init__(dedup=dedup, model_filter=model_filter)
        for method in ("update_search_space", "generate_parameters", "receive_trial_result"):
            if not callable(getattr(tuner, method, None)):
                raise TypeError(
                    f"TunerStrategy needs a tuner with {method}(); {type(tuner).__name__} has none"
                )
        self.tuner = tuner
        self._spec: dict[str, Any] | None = None
        self.next_id = 0
        self.pending: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self.values: dict[str, Any] = {}
        self.told: dict[str, int] = {}  # results told per sample key

    def on_attach(self) -> None:
        assert self.space is not None
        spec = self.space.to_json()
        if spec == self._spec:
            return  # attached again to the same space (an experiment run again): carry on
        self._spec = spec
        if getattr(self.tuner, "optimize_mode", None) is None:
            with contextlib.suppress(AttributeError):  # e.g. __slots__: the tuner does without
                self.tuner.optimize_mode = self.optimize_mode
        self.tuner.update_search_space(spec)
        self.next_id = 0
        self.pending = {}
        self.values = {}
        self.told = {}

    def _call(self, method: str, *args: Any, **kwargs: Any) -> None:
        hook = getattr(self.tuner, method, None)
        if callable(hook):
            hook(*args, **kwargs)

    def propose(self) -> Sample | None:
        assert self.space is not None
        parameter_id = self.next_id
        self.next_id += 1
        try:
            parameters = self.tuner.generate_parameters(parameter_id)
        except NoMoreTrialError as exc:
            self._exhaust(
                f"the tuner has no more parameters ({exc})"
                if str(exc)
                else "the tuner has no more parameters"
            )
            return None
        sample = parameters_to_sample(self.space, parameters)
        key = sample_key(sample)
        canonical = sample_to_parameters(self.space, sample)
        if self.dedup and key in self._seen:  # the base class rejects it; answer the tuner now
            if self.values.get(key) is not None:
                self.tuner.receive_trial_result(parameter_id, canonical, self.values[key])
                self._call("trial_end", parameter_id, True)
            else:
                self._call("trial_end", parameter_id, False)
            return sample
        self.pending.setdefault(key, []).append((parameter_id, canonical))
        return sample

    def _pop(self, key: str) -> tuple[int, dict[str, Any]] | None:
        entries = self.pending.get(key)
        if not entries:
            return None
        entry = entries.pop(0)
        if not entries:
            del self.pending[key]
        return entry

    def tell(self, result: TrialResult) -> None:
        assert self.space is not None
        key = sample_key(result.sample)
        value = result.value if result.succeeded else None
        self.values[key] = value
        self.told[key] = self.told.get(key, 0) + 1
        entry = self._pop(key)
        if entry is None:  # not proposed by this tuner object: a finished trial replayed on resume
            if value is not None:
                parameters = sample_to_parameters(self.space, result.sample)
                self._call("import_data", [{"parameter": parameters, "value": value}])
            return
        parameter_id, parameters = entry
        if value is not None:
            self.tuner.receive_trial_result(parameter_id, parameters, value)
        self._call("trial_end", parameter_id, value is not None)

    def on_filtered(self, sample: Sample) -> None:
        entry = self._pop(sample_key(sample))
        if entry is not None:
            self._call("trial_end", entry[0], False)

    def state_dict(self) -> dict[str, Any]:
        state_fn = getattr(self.tuner, "state_dict", None)
        return {
            "next_id": self.next_id,
            "pending": [
                [key, pid, params, self.told.get(key, 0)]
                for key, entries in self.pending.items()
                for pid, params in entries
            ],
            "tuner": state_fn() if callable(state_fn) else {},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.next_id = int(state.get("next_id", self.next_id))
        load = getattr(self.tuner, "load_state_dict", None)
        if callable(load) and "tuner" in state:
            load(state["tuner"])
        if "pending" in state:
            self.pending = {}
            late = []
            for key, pid, params, told in state["pending"]:
                if self.told.get(key, 0) > told:
                    # its trial ended after the save (e.g. canceled when time ran out)
                    late.append((int(pid), params, self.values.get(key)))
                else:
                    self.pending.setdefault(key, []).append((int(pid), params))
            for pid, params, value in late:
                if value is not None:
                    self.tuner.receive_trial_result(pid, params, value)
                self._call("trial_end", pid, value is not None)
