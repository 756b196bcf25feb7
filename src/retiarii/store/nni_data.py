"""NNI's result shapes (``nni.experiment.TrialMetricData``, ``TrialHyperParameters``), read-only.

NNI 2.x scripts read an experiment's results through records with camelCase attributes
(``record.trialJobId``, ``job.hyperParameters[0].parameters``). These classes give that shape
over our store's records; they also answer ``record['data']`` so dict-style code keeps working.
Ids are strings, as in NNI (``'3'`` for our trial 3). NNI's times are milliseconds since the
epoch; so are ours here (the store keeps seconds).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["JobMetrics", "TrialHyperParameters", "TrialMetricData", "to_millis"]


def to_millis(seconds: float | None) -> int | None:
    """Unix seconds (the store's unit) as NNI's integer milliseconds."""
    return None if seconds is None else round(seconds * 1000)


class _DictView:
    """``record['name']``, ``'name' in record``, ``record.keys()``: the dataclass as a dict."""

    def __getitem__(self, key: str) -> Any:
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def keys(self) -> list[str]:
        return list(asdict(self))  # type: ignore[call-overload]

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self.keys() else default


@dataclass(frozen=True)
class TrialMetricData(_DictView):
    """One metric of a trial, as NNI's ``TrialMetricData``.

    Attributes:
        timestamp: When it was recorded, in milliseconds since the epoch (NNI's unit).
        trialJobId: The trial's id, as a string.
        parameterId: The id of the parameters (the sample) it was reported for: the trial's id.
        type: ``'PERIODICAL'`` (an intermediate result) or ``'FINAL'``.
        sequence: 0, 1, 2, ... within the trial; the final result comes last.
        data: The metric as reported (already decoded, like NNI's).
    """

    timestamp: int | None
    trialJobId: str
    parameterId: str
    type: str
    sequence: int
    data: Any


@dataclass(frozen=True)
class TrialHyperParameters(_DictView):
    """The sample a trial evaluated, as NNI's ``TrialHyperParameters`` (``parameters`` is it)."""

    parameter_id: str
    parameter_source: str
    parameters: dict[str, Any]
    parameter_index: int


class JobMetrics(dict[int, list[TrialMetricData]]):
    """``{trial id: [TrialMetricData, ...]}``; a key may also be given as NNI's string id."""

    def __getitem__(self, key: int | str) -> list[TrialMetricData]:
        return super().__getitem__(_int_key(key))

    def __contains__(self, key: object) -> bool:
        return super().__contains__(_int_key(key))

    def get(self, key: int | str, default: Any = None) -> Any:
        return super().get(_int_key(key), default)


def _int_key(key: object) -> Any:
    if isinstance(key, str) and key.strip().isdigit():
        return int(key)
    return key
