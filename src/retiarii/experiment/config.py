"""``RetiariiExeConfig``: what an experiment runs with. Misspelled or invalid fields are errors
that name the field."""

from __future__ import annotations

import difflib
import importlib.util
import math
import os
import re
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .._install import install_command

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
    if not math.isfinite(seconds):
        raise ConfigError(
            f"{field_name}: must be a finite duration, got {value!r}; leave it unset (None) "
            "for no limit"
        )
    if seconds <= 0:
        raise ConfigError(f"{field_name}: must be positive, got {value!r}")
    return seconds


_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 2**10,
    "kb": 2**10,
    "kib": 2**10,
    "m": 2**20,
    "mb": 2**20,
    "mib": 2**20,
    "g": 2**30,
    "gb": 2**30,
    "gib": 2**30,
    "t": 2**40,
    "tb": 2**40,
}


def parse_size(value: str | int | None, field_name: str = "size") -> int | None:
    """``'100MB'``, ``'4GB'``, ``'512k'`` or a number of bytes -> bytes (units are powers of
    1024); ``None`` stays ``None`` (no limit)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
        unit = match.group(2).lower() if match else ""
        if not match or unit not in _SIZE_UNITS:
            raise ConfigError(
                f"{field_name}: cannot read {value!r} as a size; use e.g. '100MB', '4GB' or a "
                "number of bytes"
            )
        size = int(float(match.group(1)) * _SIZE_UNITS[unit])
    else:
        raise ConfigError(f"{field_name}: expected a size like '100MB', got {value!r}")
    if size <= 0:
        raise ConfigError(f"{field_name}: must be positive, got {value!r}; None means no limit")
    return size


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


PLATFORMS = ("local", "ray")


@dataclass
class TrainingServiceConfig(_StrictFields):
    """Where trials run.

    Args:
        platform: ``'local'`` (worker processes on this machine) or ``'ray'`` (Ray actors on a
            Ray cluster, or on a local Ray instance started for the experiment).
        use_active_gpu: local only; NNI's flag, accepted for compatibility.
        gpu_indices: local only; the GPUs to share out among the workers.
        max_trial_number_per_gpu: local only; accepted for compatibility (one trial per GPU slice).
        ray_address: ray only; the cluster to connect to (``'auto'``, ``'ray://head:10001'``,
            ``'host:6379'``). ``None``: start a local Ray instance (listening on 127.0.0.1 only)
            for the experiment and stop it at the end, or use ``RAY_ADDRESS`` if set.
        ray_init_args: ray only; more keyword arguments for ``ray.init`` (e.g. ``{'num_cpus': 4}``
            or ``{'runtime_env': {'working_dir': '.'}}`` to ship your code to a cluster).
    """

    platform: str = "local"
    use_active_gpu: bool = False
    gpu_indices: list[int] | None = None
    max_trial_number_per_gpu: int = 1
    ray_address: str | None = None
    ray_init_args: dict[str, Any] | None = None

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid field."""
        if self.platform not in PLATFORMS:
            raise ConfigError(
                f"training_service.platform: {self.platform!r} is not supported; use one of "
                f"{', '.join(repr(p) for p in PLATFORMS)}"
            )
        if self.platform == "ray":
            if not _ray_installed():
                raise ConfigError(
                    "training_service.platform 'ray' needs the ray package, which is not "
                    f"installed: {install_command('ray')}"
                )
            if self.gpu_indices is not None:
                raise ConfigError(
                    "training_service.gpu_indices is for the 'local' platform; on Ray, set "
                    "trial_gpu_number and Ray assigns the GPUs"
                )
            if self.ray_address is not None and not (
                isinstance(self.ray_address, str) and self.ray_address.strip()
            ):
                raise ConfigError(
                    f"training_service.ray_address must be an address like 'auto' or "
                    f"'ray://head:10001', got {self.ray_address!r}"
                )
            if self.ray_init_args is not None and not (
                isinstance(self.ray_init_args, dict)
                and all(isinstance(key, str) for key in self.ray_init_args)
            ):
                raise ConfigError(
                    f"training_service.ray_init_args must be a dict of ray.init keyword "
                    f"arguments, got {self.ray_init_args!r}"
                )
        else:
            for name in ("ray_address", "ray_init_args"):
                if getattr(self, name) is not None:
                    raise ConfigError(
                        f"training_service.{name} is only used with RetiariiExeConfig('ray'); "
                        f"this configuration's platform is {self.platform!r}"
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


def _ray_installed() -> bool:
    """Whether ray can be imported (checked without importing it: that takes a second)."""
    try:
        return importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):  # e.g. sys.modules["ray"] is None
        return False


#: The settings of trials, which a one-shot search (one supernet trained in this process, no
#: trial) cannot honour: ``field -> (what it does, what to do instead)``. Each is a
#: :class:`ConfigError` when set to anything but its default (or None, "off"), before anything
#: runs; see :meth:`RetiariiExeConfig.check_oneshot`.
_MULTI_TRIAL_ONLY: dict[str, tuple[str, str]] = {
    "max_trial_number": (
        "counts trials",
        "the evaluator's max_epochs sets how long it trains, max_experiment_duration bounds its "
        "time",
    ),
    "trial_concurrency": (
        "runs that many trials at once",
        "to train the supernet on several devices give the evaluator's trainer devices=N and "
        "strategy='ddp'",
    ),
    "trial_timeout": (
        "kills a trial that runs longer",
        "max_experiment_duration bounds the search's time and keeps the architecture found so far",
    ),
    "trial_gpu_number": (
        "gives each trial's worker its GPUs",
        "the evaluator's trainer places the supernet, e.g. accelerator='gpu', devices=1",
    ),
    "trial_cpu_number": (
        "sets each trial's CPUs",
        "the search runs in this process: torch.set_num_threads(n) sets its threads",
    ),
    "max_trial_retries": (
        "runs a trial again when its worker dies",
        "resume the experiment to continue from its last finished epoch",
    ),
    "trial_seed": (
        "seeds each trial",
        "seed this process before run(), e.g. torch.manual_seed(seed)",
    ),
    "trial_log_limit": ("caps each trial's log", "the search logs to this process's console"),
    "trial_memory_limit": ("caps a trial worker's memory", "the search runs in this process"),
    "max_trials_per_worker": ("replaces trial workers", "the search runs in this process"),
    "objectives": (
        "ranks trials on several metrics (a Pareto front)",
        "its answer is one architecture: steer the search with the strategy's penalty, e.g. "
        "ExpectationProfilerPenalty",
    ),
    "training_service_platform": (
        "is where trials run",
        "the supernet trains in this process",
    ),
    "training_service.gpu_indices": (
        "shares GPUs out among trial workers",
        "the evaluator's trainer picks the devices, e.g. devices=[0]",
    ),
}


@dataclass
class RetiariiExeConfig(_StrictFields):
    """Configuration of a :class:`RetiariiExperiment`.

    A one-shot search (one supernet, no trial) takes only ``experiment_name``,
    ``max_experiment_duration``, ``experiment_working_directory``, ``optimize_mode``,
    ``execution`` and ``execution_engine``: the settings of trials, set, are a
    :class:`ConfigError` there (:meth:`check_oneshot`).

    Args:
        training_service_platform: ``'local'`` (worker processes on this machine) or ``'ray'``
            (Ray actors; see :class:`TrainingServiceConfig` for ``ray_address`` and
            ``ray_init_args``, which the constructor also accepts as keywords).
        experiment_name: a name shown in the dashboard and ``retiarii list``.
        trial_concurrency: how many trials run at once (one worker process each).
        max_trial_number: stop after this many trials (None: until the space is exhausted or time
            runs out).
        max_experiment_duration: stop submitting after this long (``'10m'``, ``'2h'``, seconds).
        trial_gpu_number: GPUs per trial; each worker sees only its own (``CUDA_VISIBLE_DEVICES``).
        trial_cpu_number: CPUs per trial: Ray reserves that many for each trial, and a trial's
            ``OMP_NUM_THREADS`` is set to it (None: 1 CPU on Ray; locally, the machine's CPUs
            divided by ``trial_concurrency``).
        max_trial_retries: how often a trial whose worker died (crash, killed process, lost Ray
            node) runs again as a new trial with the same sample; 0 (default) fails it. A trial
            that raised is never retried: the same code would raise again.
        trial_timeout: kill a trial that runs longer than this (None: no limit).
        experiment_working_directory: where experiment directories are created (default
            ``$RETIARII_HOME`` or ``~/retiarii-experiments``); an experiment lives in
            ``<experiment_working_directory>/<experiment id>/``.
        execution: ``'process'`` (isolated worker processes) or ``'inprocess'`` (debugging).
        optimize_mode: ``'maximize'`` or ``'minimize'`` the final metric; unset (None), the
            evaluator's own ``optimize_mode`` is used (``Regression`` minimizes), else the
            strategy's, else ``'maximize'``.
        trial_log_limit: the most a trial's ``trial.log`` may hold (``'100MB'``, ``'1GB'`` or
            bytes; default 100 MB; None: no limit): beyond it the log keeps its head and its
            latest part, with a note of how much was dropped between, so a trial that prints
            gigabytes cannot fill the disk.
        trial_memory_limit: local only; resident memory a trial (with the processes it starts)
            may use (``'4GB'``, bytes; None: no limit): past it the trial fails with "exceeded the
            memory limit" and its worker is replaced, instead of the kernel's out-of-memory killer
            ending some process later.
        max_trials_per_worker: local only; replace a worker process after this many trials
            (1: a fresh process per trial, NNI's isolation, at about a second per trial). None
            (default): workers live on, which is what makes a trial cost about a millisecond of
            framework time — and module-level globals a trial changes are seen by the next trial
            on the same worker.
        objectives: several objectives, ``{metric: 'maximize' | 'minimize'}`` (e.g.
            ``{'default': 'maximize', 'flops': 'minimize'}``): each is a key of the metric dict
            trials report, or the name of a profiler given to the experiment (``profilers=``).
            Multi-objective strategies optimise them all; ``export_top_models`` returns the
            Pareto front. None (default): the one final metric under ``optimize_mode``.
        execution_engine: NNI 2.x's choice of engine, accepted for compatibility: ``'oneshot'``
            (the strategy must be a one-shot strategy such as ``strategy.DARTS()``),
            ``'py'``/``'python'`` (multi-trial), or None (decided by the strategy).
        trial_seed: every trial seeds ``random``, NumPy and torch with a hash of
            ``(trial_seed, sample)`` before its model is built, so the same sample gets the same
            initial weights and data order (and, on CPU, the same result) on any worker, in any
            order, after a resume. ``None`` opts out: trials then start from whatever state their
            worker's generators are in.
    """

    training_service_platform: str = "local"
    experiment_name: str | None = None
    trial_concurrency: int = 1
    max_trial_number: int | None = None
    max_experiment_duration: str | int | float | None = None
    trial_gpu_number: int = 0
    trial_cpu_number: float | None = None
    max_trial_retries: int = 0
    trial_timeout: str | int | float | None = None
    experiment_working_directory: str | None = None
    execution: str = "process"
    optimize_mode: str | None = None
    objectives: dict[str, str] | None = None
    trial_seed: int | None = 0
    trial_log_limit: str | int | None = "100MB"
    trial_memory_limit: str | int | None = None
    max_trials_per_worker: int | None = None
    execution_engine: str | None = None
    training_service: TrainingServiceConfig = field(default_factory=TrainingServiceConfig)

    def __init__(self, training_service_platform: str = "local", **kwargs: Any) -> None:
        for f in fields(self):
            default = f.default_factory() if callable(f.default_factory) else f.default
            object.__setattr__(self, f.name, default)
        self.training_service_platform = training_service_platform
        self.training_service = TrainingServiceConfig(platform=training_service_platform)
        own = {f.name for f in fields(self)}
        service = {f.name for f in fields(TrainingServiceConfig)} - {"platform"}
        for key, value in kwargs.items():
            if key in service and key not in own:  # RetiariiExeConfig('ray', ray_address='auto')
                setattr(self.training_service, key, value)
            else:
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
        self._warn_absurd_concurrency()
        positive_int("max_trial_number", allow_none=True)
        positive_int("trial_gpu_number", allow_zero=True)
        positive_int("max_trial_retries", allow_zero=True)
        cpus = self.trial_cpu_number
        if cpus is not None and not (
            isinstance(cpus, (int, float)) and not isinstance(cpus, bool) and cpus > 0
        ):
            raise ConfigError(f"trial_cpu_number must be a positive number or None, got {cpus!r}")
        if self.training_service_platform not in PLATFORMS:
            raise ConfigError(
                f"training_service_platform: {self.training_service_platform!r} is not supported; "
                f"use one of {', '.join(repr(p) for p in PLATFORMS)}"
            )
        if not isinstance(self.training_service, TrainingServiceConfig):
            raise ConfigError("training_service must be a TrainingServiceConfig")
        if self.training_service.platform != self.training_service_platform:
            if self.training_service.platform != "local":
                raise ConfigError(
                    f"training_service_platform is {self.training_service_platform!r} but "
                    f"training_service.platform is {self.training_service.platform!r}; set one"
                )
            self.training_service.platform = self.training_service_platform
        parse_duration(self.max_experiment_duration, "max_experiment_duration")
        parse_duration(self.trial_timeout, "trial_timeout")
        parse_size(self.trial_log_limit, "trial_log_limit")
        parse_size(self.trial_memory_limit, "trial_memory_limit")
        positive_int("max_trials_per_worker", allow_none=True)
        if self.training_service_platform != "local":
            for name in ("trial_memory_limit", "max_trials_per_worker"):
                if getattr(self, name) is not None:
                    raise ConfigError(
                        f"{name} applies to local worker processes only; on the "
                        f"{self.training_service_platform!r} platform leave it unset"
                    )
        if self.execution not in ("process", "inprocess"):
            raise ConfigError(f"execution must be 'process' or 'inprocess', got {self.execution!r}")
        if self.execution == "inprocess" and self.training_service_platform != "local":
            raise ConfigError(
                f"execution='inprocess' runs trials in this process; it cannot be combined with "
                f"the {self.training_service_platform!r} platform"
            )
        if self.optimize_mode not in (None, "maximize", "minimize"):
            raise ConfigError(
                f"optimize_mode must be 'maximize' or 'minimize', got {self.optimize_mode!r}"
            )
        if self.objectives is not None:
            from ..pareto import Objectives

            try:
                Objectives(self.objectives)
            except ValueError as exc:
                raise ConfigError(f"objectives: {exc}") from None
        if self.execution_engine not in (None, "oneshot", "py", "python"):
            raise ConfigError(
                "execution_engine must be 'oneshot' (one-shot strategies) or 'py'/'python' "
                f"(multi-trial), got {self.execution_engine!r}"
            )
        seed = self.trial_seed
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ConfigError(f"trial_seed must be an int or None, got {seed!r}")
        if self.experiment_name is not None and not isinstance(self.experiment_name, str):
            raise ConfigError(f"experiment_name must be a string, got {self.experiment_name!r}")
        self.training_service.validate()

    def _setting(self, name: str) -> tuple[Any, str, Any]:
        """``(the object holding it, its attribute, its default)`` of a field name such as
        ``'trial_timeout'`` or ``'training_service.gpu_indices'``."""
        nested, _, attribute = name.rpartition(".")
        owner = self.training_service if nested else self
        default = next(f.default for f in fields(owner) if f.name == attribute)
        return owner, attribute, default

    def multi_trial_settings(self) -> dict[str, Any]:
        """The trial settings (``_MULTI_TRIAL_ONLY``) this configuration sets, with their values:
        what a one-shot search would have to ignore."""
        found = {}
        for name in _MULTI_TRIAL_ONLY:
            owner, attribute, default = self._setting(name)
            value = getattr(owner, attribute)
            if value is not None and value != default:
                found[name] = value
        return found

    def check_oneshot(self) -> None:
        """Raise :class:`ConfigError` naming the first trial setting this configuration sets: a
        one-shot search runs no trial, and a setting it would ignore must not look honoured."""
        for name, value in self.multi_trial_settings().items():
            does, instead = _MULTI_TRIAL_ONLY[name]
            raise ConfigError(
                f"{name}={value!r} {does}; a one-shot search trains one supernet and runs no "
                f"trial: leave it unset ({instead})"
            )

    def reset_multi_trial_settings(self) -> list[str]:
        """Set the trial settings back to their defaults and return their names: for the stored
        configuration of a one-shot experiment made when they were silently ignored."""
        found = list(self.multi_trial_settings())
        if "training_service_platform" in found:  # its Ray settings go with it
            self.training_service = TrainingServiceConfig()
        for name in found:
            owner, attribute, default = self._setting(name)
            setattr(owner, attribute, default)
        return found

    def _warn_absurd_concurrency(self) -> None:
        """Each local trial is a worker process (a Python + torch interpreter, ~300 MB): far more
        of them than the machine has cores starts slowly and thrashes, or runs out of memory."""
        if self.training_service_platform != "local" or self.execution != "process":
            return
        cores = os.cpu_count() or 1
        limit = max(32, 4 * cores)
        if self.trial_concurrency > limit:
            warnings.warn(
                f"trial_concurrency={self.trial_concurrency} starts that many worker processes "
                f"on a machine with {cores} CPU cores (each a Python + torch interpreter); more "
                f"than {limit} is unlikely to help. Use about one per core (or per GPU), or the "
                "'ray' platform to spread trials over machines",
                UserWarning,
                stacklevel=3,
            )

    @property
    def mode(self) -> str:
        """``optimize_mode``, with ``'maximize'`` when unset."""
        return self.optimize_mode or "maximize"

    @property
    def duration_seconds(self) -> float | None:
        """``max_experiment_duration`` in seconds."""
        return parse_duration(self.max_experiment_duration, "max_experiment_duration")

    @property
    def memory_limit_bytes(self) -> int | None:
        """``trial_memory_limit`` in bytes (None: no limit)."""
        return parse_size(self.trial_memory_limit, "trial_memory_limit")

    @property
    def log_limit_bytes(self) -> int:
        """``trial_log_limit`` in bytes (0: no limit)."""
        return parse_size(self.trial_log_limit, "trial_log_limit") or 0

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
