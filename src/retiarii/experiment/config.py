"""``RetiariiExeConfig``: what an experiment runs with. Misspelled or invalid fields are errors
that name the field."""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = [
    "ConfigError",
    "RetiariiExeConfig",
    "TrainingServiceConfig",
    "default_working_directory",
    "parse_duration",
]


class ConfigError(ValueError):
    """An invalid experiment configuration; the message names the field."""


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str | float | int | None, field_name: str = "duration") -> float | None:
    """``'10m'``, ``'2h'``, ``'1.5d'``, ``'30s'`` or a number of seconds -> seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value.lower())
        if not match:
            raise ConfigError(
                f"{field_name}: cannot read {value!r} as a duration; use e.g. '30s', '10m', '2h', '1d'"
            )
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    else:
        raise ConfigError(f"{field_name}: expected a duration like '10m', got {value!r}")
    if seconds <= 0:
        raise ConfigError(f"{field_name}: must be positive, got {value!r}")
    return seconds


def default_working_directory() -> Path:
    """``$RETIARII_HOME`` if set, else ``~/retiarii-experiments``."""
    env = os.environ.get("RETIARII_HOME")
    return Path(env) if env else Path.home() / "retiarii-experiments"


class _StrictFields:
    """Reject assignment to fields that do not exist, suggesting the closest name."""

    def __setattr__(self, name: str, value: Any) -> None:
        known = {f.name for f in fields(self)}  # type: ignore[arg-type]
        if name not in known:
            hint = difflib.get_close_matches(name, known, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else f"; fields are {sorted(known)}"
            raise ConfigError(f"{type(self).__name__} has no field {name!r}{suggestion}")
        object.__setattr__(self, name, value)


@dataclass
class TrainingServiceConfig(_StrictFields):
    """Where trials run. ``platform``: ``'local'`` (worker processes)."""

    platform: str = "local"
    use_active_gpu: bool = False
    gpu_indices: list[int] | None = None
    max_trial_number_per_gpu: int = 1

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid field."""
        if self.platform != "local":
            raise ConfigError(
                f"training_service.platform: {self.platform!r} is not supported; use 'local'"
            )
        if not isinstance(self.use_active_gpu, bool):
            raise ConfigError(
                f"training_service.use_active_gpu must be True or False, got {self.use_active_gpu!r}"
            )
        if self.gpu_indices is not None and not (
            isinstance(self.gpu_indices, list)
            and all(isinstance(i, int) and i >= 0 for i in self.gpu_indices)
        ):
            raise ConfigError(
                f"training_service.gpu_indices must be a list of device indices, got {self.gpu_indices!r}"
            )


@dataclass
class RetiariiExeConfig(_StrictFields):
    """Configuration of a :class:`RetiariiExperiment`.

    Args:
        training_service_platform: ``'local'``.
        experiment_name: a name shown in the dashboard and ``retiarii list``.
        trial_concurrency: how many trials run at once (one worker process each).
        max_trial_number: stop after this many trials (None: until the space is exhausted or time
            runs out).
        max_experiment_duration: stop submitting after this long (``'10m'``, ``'2h'``, seconds).
        trial_gpu_number: GPUs per trial; each worker sees only its own (``CUDA_VISIBLE_DEVICES``).
        trial_timeout: kill a trial that runs longer than this (None: no limit).
        experiment_working_directory: where experiment directories are created (default
            ``$RETIARII_HOME`` or ``~/retiarii-experiments``); an experiment lives in
            ``<experiment_working_directory>/<experiment id>/``.
        execution: ``'process'`` (isolated worker processes) or ``'inprocess'`` (debugging).
        optimize_mode: ``'maximize'`` or ``'minimize'`` the final metric; unset (None), the
            evaluator's own ``optimize_mode`` is used (``Regression`` minimizes), else the
            strategy's, else ``'maximize'``.
    """

    training_service_platform: str = "local"
    experiment_name: str | None = None
    trial_concurrency: int = 1
    max_trial_number: int | None = None
    max_experiment_duration: str | int | float | None = None
    trial_gpu_number: int = 0
    trial_timeout: str | int | float | None = None
    experiment_working_directory: str | None = None
    execution: str = "process"
    optimize_mode: str | None = None
    training_service: TrainingServiceConfig = field(default_factory=TrainingServiceConfig)

    def __init__(self, training_service_platform: str = "local", **kwargs: Any) -> None:
        for f in fields(self):
            default = f.default_factory() if callable(f.default_factory) else f.default
            object.__setattr__(self, f.name, default)
        self.training_service_platform = training_service_platform
        self.training_service = TrainingServiceConfig(platform=training_service_platform)
        for key, value in kwargs.items():
            setattr(self, key, value)

    # -- validation -----------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid field."""

        def positive_int(name: str, allow_none: bool = False, allow_zero: bool = False) -> None:
            value = getattr(self, name)
            if value is None and allow_none:
                return
            ok = (
                isinstance(value, int)
                and not isinstance(value, bool)
                and (value > 0 or (allow_zero and value == 0))
            )
            if not ok:
                raise ConfigError(
                    f"{name} must be a {'non-negative' if allow_zero else 'positive'} int, got {value!r}"
                )

        positive_int("trial_concurrency")
        positive_int("max_trial_number", allow_none=True)
        positive_int("trial_gpu_number", allow_zero=True)
        parse_duration(self.max_experiment_duration, "max_experiment_duration")
        parse_duration(self.trial_timeout, "trial_timeout")
        if self.execution not in ("process", "inprocess"):
            raise ConfigError(f"execution must be 'process' or 'inprocess', got {self.execution!r}")
        if self.optimize_mode not in (None, "maximize", "minimize"):
            raise ConfigError(
                f"optimize_mode must be 'maximize' or 'minimize', got {self.optimize_mode!r}"
            )
        if self.experiment_name is not None and not isinstance(self.experiment_name, str):
            raise ConfigError(f"experiment_name must be a string, got {self.experiment_name!r}")
        if not isinstance(self.training_service, TrainingServiceConfig):
            raise ConfigError("training_service must be a TrainingServiceConfig")
        self.training_service.validate()

    @property
    def mode(self) -> str:
        """``optimize_mode``, with ``'maximize'`` when unset."""
        return self.optimize_mode or "maximize"

    @property
    def duration_seconds(self) -> float | None:
        """``max_experiment_duration`` in seconds."""
        return parse_duration(self.max_experiment_duration, "max_experiment_duration")

    @property
    def timeout_seconds(self) -> float | None:
        """``trial_timeout`` in seconds."""
        return parse_duration(self.trial_timeout, "trial_timeout")

    def working_directory(self) -> Path:
        """Where this experiment's directory is created."""
        if self.experiment_working_directory:
            return Path(self.experiment_working_directory).expanduser()
        return default_working_directory()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (stored with the experiment)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RetiariiExeConfig:
        """Inverse of :meth:`to_dict`; unknown fields raise :class:`ConfigError`."""
        data = dict(data)
        service = data.pop("training_service", None) or {}
        config = cls(data.pop("training_service_platform", "local"), **data)
        for key, value in service.items():
            setattr(config.training_service, key, value)
        return config
