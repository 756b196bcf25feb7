"""``RetiariiExperiment``: a model space, an evaluator and a strategy, run as one experiment.

An experiment lives in its own directory (``<working dir>/<id>/``) holding ``experiment.db`` (the
SQLite store: the single source of truth), ``experiment.pkl`` (the model space, evaluator and
strategy, cloudpickled, for resume) and ``trials/<trial id>/trial.log``.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ..store import DEFAULT_FILENAME, ExperimentStore, TrialRecord
from ..strategy.base import check_optimize_mode
from .config import ConfigError, RetiariiExeConfig
from .progress import Progress

__all__ = ["RetiariiExperiment"]

_logger = logging.getLogger("retiarii.experiment")
_PAYLOAD = "experiment.pkl"
_NNI_STATUS = {
    "created": "INITIALIZED",
    "running": "RUNNING",
    "done": "DONE",
    "stopped": "STOPPED",
    "failed": "ERROR",
    "interrupted": "STOPPED",
}


def _ensure_console_logging() -> None:
    logger = logging.getLogger("retiarii")
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


def resolve_experiment_dir(experiment: str | os.PathLike[str]) -> Path:
    """An experiment directory, given as a path or as an id under the default working dir."""
    path = Path(experiment).expanduser()
    if (path / DEFAULT_FILENAME).exists():
        return path
    from .config import default_working_directory

    by_id = default_working_directory() / str(experiment)
    if (by_id / DEFAULT_FILENAME).exists():
        return by_id
    raise FileNotFoundError(
        f"no experiment at {str(experiment)!r}: expected a directory holding {DEFAULT_FILENAME} "
        f"(or an experiment id under {default_working_directory()})"
    )


class RetiariiExperiment:
    """Multi-trial search of ``base_model`` (a model space) with ``evaluator`` and ``strategy``.

    Args:
        base_model: the model space, an instance of a ``@model_wrapper`` class.
        evaluator: e.g. ``FunctionalEvaluator(fit, ...)`` or a Lightning evaluator.
        applied_mutators: classic ``Mutator`` objects applied to the base model (seeds 000/002).
        strategy: e.g. ``strategy.Random(dedup=True)`` (default) or ``strategy.GridSearch()``.
    """

    def __init__(
        self,
        base_model: Any,
        evaluator: Any = None,
        applied_mutators: list[Any] | None = None,
        strategy: Any = None,
    ) -> None:
        import torch.nn as tnn

        from ..oneshot import BaseOneShotTrainer
        from ..strategy import BaseStrategy, Random
        from ..strategy.oneshot import OneShotStrategy
        from .oneshot import check_oneshot_evaluator

        if not isinstance(base_model, tnn.Module):
            raise TypeError(
                f"base_model must be a model space instance (torch.nn.Module), got {base_model!r}; "
                "did you pass the class instead of an instance?"
            )
        if evaluator is None:
            raise TypeError("RetiariiExperiment needs an evaluator, e.g. FunctionalEvaluator(fit)")
        self.oneshot = isinstance(evaluator, BaseOneShotTrainer) or isinstance(
            strategy, OneShotStrategy
        )
        if isinstance(strategy, OneShotStrategy):  # e.g. strategy.DARTS() with pl.Classification
            check_oneshot_evaluator(strategy, evaluator)
            if applied_mutators:
                raise TypeError(f"{strategy!r} searches the space itself: no applied_mutators")
        elif self.oneshot and (strategy is not None or applied_mutators):
            raise TypeError(
                "a one-shot trainer searches by itself: RetiariiExperiment(base_model, trainer) "
                "takes no strategy and no applied_mutators"
            )
        if strategy is None and not self.oneshot:
            strategy = Random(dedup=True)
        if strategy is not None and not isinstance(strategy, BaseStrategy):
            raise TypeError(f"strategy must be a retiarii.strategy strategy, got {strategy!r}")
        self.base_model = base_model
        self.evaluator = evaluator
        self.applied_mutators = list(applied_mutators or [])
        self.strategy = strategy
        self.config: RetiariiExeConfig | None = None
        self.id: str | None = None
        self.experiment_dir: Path | None = None
        self._store: ExperimentStore | None = None
        self._stop = threading.Event()
        self._dashboard: Any = None
        self._scratch_dir: Path | None = None  # a non-zero rank's throwaway experiment directory
        self._previous_duration = 0.0
        self._history_told = False
        self._oneshot_trainer: Any = None  # the one-shot search's driver, once run

    # -- the search space --------------------------------------------------------------------
    def _space(self) -> Any:
        if self.oneshot:
            from .oneshot import oneshot_space

            return oneshot_space(self.base_model)
        from .mutators import space_with_mutators

        return space_with_mutators(self.base_model, self.applied_mutators)

    # -- running -----------------------------------------------------------------------------
    def run(
        self, config: RetiariiExeConfig | None = None, port: int | None = None, debug: bool = False
    ) -> None:
        """Run until the budget is spent or the space exhausted; serve the dashboard on ``port``.

        Ctrl-C (or :meth:`stop` from another thread) stops cleanly: running trials are marked
        INTERRUPTED and the experiment can be resumed.
        """
        config = config or RetiariiExeConfig("local")
        if not isinstance(config, RetiariiExeConfig):
            raise ConfigError(f"config must be a RetiariiExeConfig, got {config!r}")
        config.validate()
        engine = config.execution_engine
        if engine == "oneshot" and not self.oneshot:
            raise ConfigError(
                f"execution_engine='oneshot' needs a one-shot strategy (strategy.DARTS(), ...) or "
                f"a one-shot trainer; the strategy is {self.strategy!r}"
            )
        if engine in ("py", "python") and self.oneshot:
            raise ConfigError(
                f"execution_engine={engine!r} runs multi-trial searches; {self.strategy!r} is a "
                "one-shot strategy: set execution_engine='oneshot' or leave it unset"
            )
        if debug:
            config.execution = "inprocess"
        if config.optimize_mode is None:
            config.optimize_mode = (
                getattr(self.evaluator, "optimize_mode", None)
                or getattr(self.strategy, "requested_optimize_mode", None)
                or "maximize"
            )
        self.config = config
        self._stop.clear()  # a stopped experiment object can run again (continuing its budget)
        _ensure_console_logging()
        space = self._space()
        if self._store is None:
            self._create(config, space)
        if self.oneshot:
            self._run_oneshot(space, port)
        else:
            self._run_loop(space, port)

    def _create(self, config: RetiariiExeConfig, space: Any) -> None:
        import cloudpickle

        self.id = _new_id()
        rank = _launched_rank() if self.oneshot else 0
        if rank:
            # A launcher (torchrun, a cluster) runs this script in every process of a
            # data-parallel one-shot search; rank 0 records the experiment. This rank keeps its
            # copy (for export_top_models) in a temporary directory that close() removes.
            self.experiment_dir = Path(tempfile.mkdtemp(prefix=f"retiarii-rank{rank}-"))
            self._scratch_dir = self.experiment_dir
            _logger.info("rank %d: rank 0 records the experiment; nothing is kept here", rank)
        else:
            self.experiment_dir = config.working_directory() / self.id
            self.experiment_dir.mkdir(parents=True, exist_ok=False)
        if self.strategy is not None:  # a one-shot *trainer* is not resumed: nothing to pickle
            (self.experiment_dir / _PAYLOAD).write_bytes(
                cloudpickle.dumps(
                    {
                        "base_model": self.base_model,
                        "evaluator": self.evaluator,
                        "strategy": self.strategy,
                        "applied_mutators": self.applied_mutators,
                    }
                )
            )
        self._store = ExperimentStore(self.experiment_dir / DEFAULT_FILENAME)
        self._store.init_experiment(
            config.experiment_name or self.id,
            config.to_dict(),
            space.search_space.to_json(),
            config.mode,
            exp_id=self.id,
            info={
                "strategy": (
                    repr(self.strategy)
                    if self.strategy is not None
                    else type(self.evaluator).__name__
                ),
                "evaluator": repr(self.evaluator),
                "model": type(self.base_model).__name__,
                # what a fixed_arch snippet needs, kept as data (the dashboard and export show it)
                "model_import": model_import_line(self.base_model),
                "model_call": _constructor_call(self.base_model),
                "space_size": str(space.size),
            },
        )
        _logger.info(
            "experiment %s in %s (search space: %d labels, %s samples)",
            self.id,
            self.experiment_dir,
            len(space.labels),
            space.size,
        )

    def _run_loop(self, space: Any, port: int | None) -> None:
        from .engine import ExperimentLoop
        from .runner import ModelSpaceTrialRunner

        assert (
            self._store is not None and self.config is not None and self.experiment_dir is not None
        )
        config = self.config
        assert self.strategy is not None  # multi-trial experiments always have one
        self.strategy.attach(space.search_space, config.mode)
        runner = ModelSpaceTrialRunner(space, self.evaluator, config.trial_seed)
        executor = _executor_for(config)
        if port is not None and self._dashboard is None:
            self._start_dashboard(port)
        progress = Progress(config.max_trial_number, config.duration_seconds)
        loop = ExperimentLoop(
            self._store,
            executor,
            self.strategy,
            self.experiment_dir,
            max_trials=config.max_trial_number,
            max_duration=config.duration_seconds,
            previous_duration=self._previous_duration,
            stop_event=self._stop,
            progress=progress,
            max_retries=config.max_trial_retries,
        )
        self._store.update_info({"run_started_at": time.time()})
        self._store.set_status("running")
        status = "failed"
        try:
            # A fresh strategy (e.g. after resume) learns the past; interrupted trials run again.
            loop.replay_history(tell=not self._history_told)
            self._history_told = True
            try:
                executor.start(runner)
            except KeyboardInterrupt:
                loop.reason = "stopped by request"
            else:
                loop.run()
            status = "stopped" if loop.reason == "stopped by request" else "done"
        finally:
            executor.shutdown()
            progress.close()
            self._previous_duration = loop.elapsed()
            self._store.update_info(
                {"duration": self._previous_duration, "end_reason": loop.reason}
            )
            self._store.set_status(status)
        counts = self._store.counts()
        best = self._store.best_trials(1)
        _logger.info(
            "experiment %s %s (%s): %d succeeded, %d failed%s",
            self.id,
            status,
            loop.reason,
            counts.get("SUCCEEDED", 0),
            counts.get("FAILED", 0) + counts.get("TIMEOUT", 0),
            f"; best {best[0].final_value:.6g} (trial {best[0].id}) {best[0].sample}"
            if best
            else "",
        )

    def _run_oneshot(self, space: Any, port: int | None) -> None:
        from .oneshot import headline_metric, oneshot_trainer, run_oneshot

        if port is not None and self._dashboard is None and self._scratch_dir is None:
            self._start_dashboard(port)
        assert self.experiment_dir is not None
        # Every rank checkpoints (saving is collective); only global rank 0's directory is kept.
        checkpoints = self.experiment_dir / "oneshot"
        trainer = oneshot_trainer(self.base_model, self.evaluator, self.strategy, checkpoints)
        self._oneshot_trainer = trainer
        headline = headline_metric(self.evaluator)
        run_oneshot(trainer, self.store, space, self._stop, self._previous_duration, headline)

    def sub_state_dict(self, sample: dict[str, Any] | None = None) -> dict[str, Any]:
        """One-shot experiments, after :meth:`run`: the supernet's trained weights of the subnet
        ``sample`` (default: the exported architecture) as a ``state_dict`` that loads into the
        model ``fixed_arch(sample)`` builds."""
        if self._oneshot_trainer is None:
            raise RuntimeError("sub_state_dict() needs a one-shot experiment that has run")
        result: dict[str, Any] = self._oneshot_trainer.sub_state_dict(sample)
        return result

    def close(self) -> None:
        """Release the store (so another process or object can resume this experiment)."""
        if self._dashboard is not None:
            self._dashboard.close()
            self._dashboard = None
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._scratch_dir is not None:
            shutil.rmtree(self._scratch_dir, ignore_errors=True)
            self._scratch_dir = None

    def stop(self) -> None:
        """Ask a running experiment to stop (thread-safe); also stops the dashboard."""
        self._stop.set()
        if self._dashboard is not None:
            self._dashboard.close()
            self._dashboard = None

    def _start_dashboard(self, port: int, host: str = "127.0.0.1") -> None:
        from ..dashboard import serve_dashboard

        assert self.experiment_dir is not None
        self._dashboard = serve_dashboard(
            self.experiment_dir, host=host, port=port, stop=self._stop.set
        )
        _logger.info("dashboard: %s", self._dashboard.url)

    # -- results --------------------------------------------------------------------------------
    @property
    def store(self) -> ExperimentStore:
        """The experiment's store (raises before ``run``)."""
        if self._store is None:
            raise RuntimeError("the experiment has not been run yet; call run(config) first")
        return self._store

    def export_top_models(
        self, top_k: int = 1, optimize_mode: str | None = None, formatter: str = "dict"
    ) -> list[Any]:
        """The ``top_k`` best architectures: samples (``'dict'``), frozen modules (``'instance'``)
        or Python snippets that rebuild them (``'code'``)."""
        if formatter not in ("dict", "instance", "code"):
            raise ValueError(f"formatter must be 'dict', 'instance' or 'code', got {formatter!r}")
        if optimize_mode is not None:
            check_optimize_mode(optimize_mode)
        if formatter == "code" and self.applied_mutators:
            # The snippet rebuilds the model with fixed_arch, which cannot replay mutators: it
            # would silently give the unmutated base model.
            raise ValueError(
                "formatter='code' cannot express applied_mutators; use formatter='dict' (the "
                "decisions) or formatter='instance' (the mutated model)"
            )
        trials = self.store.best_trials(top_k, optimize_mode)
        if formatter == "dict":
            return [dict(t.sample) for t in trials]
        if formatter == "instance":
            space = self._space()
            return [space.build(t.sample) for t in trials]
        return [model_code(self.base_model, t.sample) for t in trials]

    def get_status(self) -> str:
        """NNI's status names: INITIALIZED, RUNNING, DONE, STOPPED, ERROR."""
        if self._store is None:
            return "INITIALIZED"
        return _NNI_STATUS.get(
            self.store.experiment().status, self.store.experiment().status.upper()
        )

    def list_trial_jobs(self) -> list[TrialRecord]:
        """Every trial, oldest first (``id``, ``status``, ``sample``, times, final metric, error)."""
        return self.store.trials()

    def get_job_metrics(
        self, trial_job_id: int | str | None = None
    ) -> dict[int, list[dict[str, Any]]]:
        """``{trial id: [{'type': 'PERIODICAL'|'FINAL', 'sequence', 'data', 'timestamp'}, ...]}``."""
        ids = (
            [int(trial_job_id)] if trial_job_id is not None else [t.id for t in self.store.trials()]
        )
        out: dict[int, list[dict[str, Any]]] = {}  # JSON-ready records
        for trial_id in ids:
            trial = self.store.trial(trial_id)
            records: list[dict[str, Any]] = [
                {
                    "type": "PERIODICAL",
                    "sequence": r.sequence,
                    "data": r.value,
                    "timestamp": r.timestamp,
                }
                for r in self.store.intermediates(trial_id)
            ]
            if trial.final is not None:
                records.append(
                    {
                        "type": "FINAL",
                        "sequence": len(records),
                        "data": trial.final,
                        "timestamp": trial.ended_at,
                    }
                )
            out[trial_id] = records
        return out

    def get_job_statistics(self) -> list[dict[str, Any]]:
        """``[{'trialJobStatus': status, 'trialJobNumber': n}, ...]`` for statuses with trials."""
        return [
            {"trialJobStatus": s, "trialJobNumber": n} for s, n in self.store.counts().items() if n
        ]

    # -- resume / view ------------------------------------------------------------------------
    @classmethod
    def resume(
        cls,
        experiment: str | os.PathLike[str],
        port: int | None = None,
        wait_completion: bool = True,
        config: RetiariiExeConfig | None = None,
    ) -> RetiariiExperiment:
        """Continue an experiment from its directory (or id) to the same budget.

        Finished trials are kept and not repeated; trials that were running when it stopped (or
        was killed) run again as new trials.
        """
        import cloudpickle

        directory = resolve_experiment_dir(experiment)
        payload = cloudpickle.loads((directory / _PAYLOAD).read_bytes())
        exp = cls(
            payload["base_model"],
            payload["evaluator"],
            payload["applied_mutators"],
            payload["strategy"],
        )
        store = ExperimentStore(directory / DEFAULT_FILENAME)
        record = store.experiment()
        interrupted = store.interrupt_unfinished()
        if interrupted:
            _logger.info(
                "resume: %d trial(s) were interrupted and will run again", len(interrupted)
            )
        exp._store, exp.id, exp.experiment_dir = store, record.id, directory
        exp._previous_duration = float(record.info.get("duration", 0.0))
        exp.config = config or RetiariiExeConfig.from_dict(record.config)
        if wait_completion:
            exp.run(exp.config, port)
        return exp

    @classmethod
    def view(
        cls,
        experiment: str | os.PathLike[str],
        port: int = 8080,
        non_blocking: bool = False,
        host: str = "127.0.0.1",
    ) -> Any:
        """Serve the dashboard of an experiment (finished or running) from its directory."""
        from ..dashboard import serve_dashboard

        directory = resolve_experiment_dir(experiment)
        server = serve_dashboard(directory, host=host, port=port)
        print(f"dashboard of {directory}: {server.url}  (Ctrl-C to quit)", file=sys.stderr)
        if non_blocking:
            return server
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            server.close()
        return server


def _launched_rank() -> int:
    """This process's global rank when a launcher (torchrun, Lightning, a cluster) started it."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def _executor_for(config: RetiariiExeConfig) -> Any:
    """The executor that runs this configuration's trials (its platform and resources)."""
    from ..execution import InProcessExecutor, LocalExecutor

    cpus = config.trial_cpu_number
    if config.execution == "inprocess":
        return InProcessExecutor()
    if config.training_service_platform == "ray":
        from ..execution.ray_executor import RayExecutor

        return RayExecutor(
            config.trial_concurrency,
            trial_timeout=config.timeout_seconds,
            cpus_per_trial=cpus or 1.0,
            gpus_per_trial=config.trial_gpu_number,
            address=config.training_service.ray_address,
            init_kwargs=config.training_service.ray_init_args,
        )
    return LocalExecutor(
        config.trial_concurrency,
        trial_timeout=config.timeout_seconds,
        gpus_per_trial=config.trial_gpu_number,
        gpu_indices=config.training_service.gpu_indices,
        threads_per_worker=max(1, math.ceil(cpus)) if cpus else None,
    )


def _new_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def _literal(value: Any) -> str | None:
    """``repr(value)`` if it reads back as an equal Python literal, else None."""
    import ast

    text = repr(value)
    try:
        return text if ast.literal_eval(text) == value else None
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _constructor_call(base_model: Any) -> str:
    from ..nn.pytorch.wrappers import get_init_args

    name = type(base_model).__qualname__
    recorded = get_init_args(base_model)
    if recorded is None:
        return f"{name}()"
    _, args, kwargs = recorded
    parts = [_literal(a) for a in args] + [
        None if (text := _literal(v)) is None else f"{k}={text}" for k, v in kwargs.items()
    ]
    if any(p is None for p in parts):
        return f"{name}(...)  # pass the constructor arguments you used for the search"
    return f"{name}({', '.join(p for p in parts if p is not None)})"


def model_code(base_model: Any, sample: dict[str, Any]) -> str:
    """A runnable snippet that rebuilds the architecture of ``sample``.

    The model class must be decorated with ``@model_wrapper`` (``fixed_arch`` relies on it); its
    constructor arguments are written out when they are plain literals.
    """
    return fixed_arch_snippet(model_import_line(base_model), sample, _constructor_call(base_model))


def model_import_line(base_model: Any) -> str:
    """``from <module> import <Class>`` for the model's class (a comment for ``__main__``)."""
    cls = type(base_model)
    if cls.__module__ == "__main__":
        return f"# {cls.__qualname__} is defined in your script; import it from there"
    return f"from {cls.__module__} import {cls.__qualname__}"


def fixed_arch_snippet(import_line: str, sample: dict[str, Any], constructor_call: str) -> str:
    """``from retiarii import fixed_arch`` + ``import_line``, then ``model = <call>`` inside
    ``fixed_arch(sample)``; the sample is written as a Python literal (``True``, ``None``)."""
    return (
        "from retiarii import fixed_arch\n"
        f"{import_line}\n\n"
        f"with fixed_arch({dict(sorted(sample.items()))!r}):\n"
        f"    model = {constructor_call}\n"
    )
