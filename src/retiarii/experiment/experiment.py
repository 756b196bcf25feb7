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
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from ..store import DEFAULT_FILENAME, DiskFullError, ExperimentStore, TrialRecord
from ..store.nni_data import JobMetrics, TrialMetricData, to_millis
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

#: ``{experiment id: directory}`` of the experiments this process created, so that
#: ``resume(exp.id)`` and ``view(exp.id)`` find one whose config names another working directory.
_KNOWN_DIRS: dict[str, Path] = {}


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
    if str(experiment) in _KNOWN_DIRS:  # created by this process, maybe in its own working dir
        return _KNOWN_DIRS[str(experiment)]
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
        pruner: stops unpromising trials on their intermediate results, e.g.
            ``retiarii.experiment.MedianStop()``, ``SuccessiveHalving()`` or ``Hyperband()``
            (see :mod:`retiarii.experiment.pruners`); stopped trials end ``EARLY_STOPPED``.
            Keyword-only; saved with the experiment, so ``resume`` prunes the same way.
        callbacks: more :class:`~retiarii.experiment.callbacks.ExperimentCallback` objects (e.g. a
            compute budget, a notifier), called after the pruner; saved with the experiment.
        profilers: ``{metric name: profiler}``; each profiler's value is added to every trial's
            final metric, so it can be one of ``config.objectives`` (see ``docs/hardware-aware.md``).
        constraint: ``fn(sample) -> bool`` (e.g. ``RangeProfilerFilter``): strategies only propose
            samples that satisfy it; an error before any trial when none does.
    """

    def __init__(
        self,
        base_model: Any,
        evaluator: Any = None,
        applied_mutators: list[Any] | None = None,
        strategy: Any = None,
        *,
        pruner: Any = None,
        callbacks: Sequence[Any] | None = None,
        profilers: Any = None,
        constraint: Any = None,
    ) -> None:
        import torch.nn as tnn

        from ..oneshot import BaseOneShotTrainer
        from ..strategy import BaseStrategy, Random
        from ..strategy.oneshot import OneShotStrategy
        from .objectives import check_profilers
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
        from .pruners import Pruner

        if pruner is not None and not isinstance(pruner, Pruner):
            raise TypeError(
                f"pruner must be a retiarii.experiment pruner (e.g. MedianStop()), got {pruner!r}"
            )
        if self.oneshot:  # what acts on trials would be silently ignored by one supernet
            for name, given, does in (
                ("pruner", pruner, "prune"),
                ("callbacks", callbacks, "call back on"),
                ("profilers", profilers, "profile"),
            ):
                if given:
                    raise TypeError(f"a one-shot search has no trials to {does}: pass no {name}")
        self.pruner = pruner
        from .callbacks import ExperimentCallback

        self.callbacks = list(callbacks or [])
        for callback in self.callbacks:
            if not isinstance(callback, ExperimentCallback):
                raise TypeError(f"callbacks must be ExperimentCallback instances, got {callback!r}")
        self.profilers = check_profilers(profilers)
        if constraint is not None and not callable(constraint):
            raise TypeError(f"constraint must be a function fn(sample) -> bool, got {constraint!r}")
        self.constraint = constraint
        self.config: RetiariiExeConfig | None = None
        self.id: str = _new_id()  # NNI users read it before run (resume(exp.id), view(exp.id))
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
        from .joint import joint_space
        from .mutators import space_with_mutators

        # Value choices in the evaluator's arguments join the search space (joint search).
        return joint_space(
            space_with_mutators(self.base_model, self.applied_mutators), self.evaluator
        )

    # -- running -----------------------------------------------------------------------------
    def run(
        self, config: RetiariiExeConfig | None = None, port: int | None = None, debug: bool = False
    ) -> None:
        """Run until the budget is spent or the space exhausted; serve the dashboard on ``port``.

        Ctrl-C (or :meth:`stop` from another thread) stops cleanly: running trials are marked
        INTERRUPTED and the experiment can be resumed. A one-shot search stops after its current
        training step (at ``max_experiment_duration`` too) and exports the architecture found so
        far; a second Ctrl-C interrupts it at once.
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
        if self.oneshot:
            config.check_oneshot()
        check_ready = getattr(self.evaluator, "check_ready", None)
        if check_ready is not None:  # e.g. dataloaders given after construction, or never
            check_ready()
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
        try:
            if self.oneshot:
                self._run_oneshot(space, port)
            else:
                self._run_loop(space, port)
        except BaseException as exc:
            self._fail_if_never_started(exc)
            raise

    def _fail_if_never_started(self, exc: BaseException) -> None:
        """An experiment that could not start (dashboard port in use, a bad GPU request, workers
        that cannot start) is ``failed`` with the reason, never left ``created`` for good."""
        store = self._store
        if store is None or isinstance(exc, KeyboardInterrupt):
            return
        try:
            if store.experiment().status != "created":
                return  # it ran: the loop recorded how it ended
            store.update_info({"end_reason": f"could not start: {type(exc).__name__}: {exc}"})
            store.set_status("failed")
        except Exception:  # the store itself is the problem (e.g. a full disk): keep the cause
            _logger.debug("could not record the failed start", exc_info=True)

    def _create(self, config: RetiariiExeConfig, space: Any) -> None:
        # pickled before anything is created: an unpicklable space or evaluator leaves no
        # empty experiment behind, and the error names the attribute that cannot be pickled
        # a one-shot *trainer* (no strategy) resumes if it checkpoints (retiarii's trainers) and
        # can be pickled; otherwise it runs all the same, without resume
        payload = self._payload() if self.strategy is not None else self._trainer_payload()
        if self.experiment_dir is not None:  # run again after close(): a new experiment
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
            _KNOWN_DIRS[self.id] = self.experiment_dir
        if payload is not None:
            (self.experiment_dir / _PAYLOAD).write_bytes(payload)
        self._store = ExperimentStore(self.experiment_dir / DEFAULT_FILENAME)
        hyperparameters = getattr(space, "hyperparameter_labels", None)  # a joint search
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
                "oneshot": self.oneshot,  # the dashboard hides what a single supernet lacks
                "model": type(self.base_model).__name__,
                # what a fixed_arch snippet needs, kept as data (the dashboard and export show it)
                "model_import": model_import_line(self.base_model),
                "model_call": _constructor_call(self.base_model),
                "applied_mutators": len(self.applied_mutators or []),
                "space_size": str(space.size),
                **({"hyperparameter_labels": hyperparameters} if hyperparameters else {}),
            },
        )
        _logger.info(
            "experiment %s in %s (search space: %d labels, %s samples)",
            self.id,
            self.experiment_dir,
            len(space.labels),
            space.size,
        )

    def _trainer_payload(self) -> bytes | None:
        """The payload of a one-shot trainer's experiment; None for a trainer that does not
        checkpoint (written by the user), or (with a warning) one that cannot be pickled."""
        from ..oneshot.pytorch.trainer import SupernetTrainer

        if not isinstance(self.evaluator, SupernetTrainer):
            return None
        try:
            return self._payload()
        except TypeError as error:
            _logger.warning("this one-shot experiment cannot be resumed: %s", error)
            return None

    def _payload(self) -> bytes:
        """What ``resume`` needs (model space, evaluator, strategy, mutators, pruner and
        callbacks), pickled."""
        parts = {
            "base_model": self.base_model,
            "evaluator": self.evaluator,
            "strategy": self.strategy,
            "applied_mutators": self.applied_mutators,
            "pruner": self.pruner,
            "callbacks": self.callbacks,
            "profilers": self.profilers,
            "constraint": self.constraint,
        }
        import cloudpickle

        try:
            return cloudpickle.dumps(parts)
        except Exception as exc:
            from ..execution.pickling import find_unpicklable

            where = find_unpicklable(parts, "experiment") or "the experiment"
            raise TypeError(
                f"cannot pickle {where}: {type(exc).__name__}: {exc}. The model space, evaluator "
                "and strategy travel to worker processes and are saved for resume; keep open "
                "files, locks, sockets and live connections out of them (create them inside the "
                "evaluated function instead)"
            ) from exc

    def _run_loop(self, space: Any, port: int | None) -> None:
        from ..store.pareto import mark_front
        from .engine import ExperimentLoop
        from .objectives import ProfilingExecutor, constrained_space, profiled_ranges
        from .runner import ModelSpaceTrialRunner

        assert (
            self._store is not None and self.config is not None and self.experiment_dir is not None
        )
        config = self.config
        assert self.strategy is not None  # multi-trial experiments always have one
        search_space = space.search_space
        if self.constraint is not None:  # checked before any trial runs
            search_space = constrained_space(search_space, self.constraint)
        set_objectives = getattr(self.strategy, "set_objectives", None)
        if config.objectives and callable(set_objectives):
            set_objectives(config.objectives)
        elif config.objectives and len(config.objectives) > 1:
            _logger.warning(
                "%s learns from the 'default' metric only; config.objectives ranks the export "
                "(the Pareto front) but the search itself is single-objective: use NSGAII, "
                "MultiObjectiveTPE or MultiObjectiveEvolution to search all objectives",
                type(self.strategy).__name__,
            )
        self.strategy.attach(search_space, config.mode)
        runner = ModelSpaceTrialRunner(space, self.evaluator, config.trial_seed)
        executor = _executor_for(config)
        if self.profilers:
            executor = ProfilingExecutor(executor, self.profilers)
            if "profiled_ranges" not in self._store.experiment().info:
                ranges = profiled_ranges(self.profilers, space.search_space)
                self._store.update_info({"profiled_ranges": ranges})
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
            callbacks=[*([self.pruner] if self.pruner is not None else []), *self.callbacks],
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
        except DiskFullError as exc:
            # one clear message, not a chain of sqlite tracebacks; resume continues from here
            status, loop.reason = "interrupted", str(exc)
            full: DiskFullError | None = exc
        else:
            full = None
        finally:
            executor.shutdown()
            progress.close()
            self._previous_duration = loop.elapsed()
            try:  # best effort: on a full disk even these small writes may not fit
                self._store.update_info(
                    {"duration": self._previous_duration, "end_reason": loop.reason}
                )
                self._store.set_status(status)
                mark_front(self._store)
            except DiskFullError:
                _logger.debug("could not record the end on a full disk", exc_info=True)
        if full is not None:
            _logger.error("experiment %s interrupted: %s", self.id, full)
            raise full
        counts = self._store.counts()
        best = self._store.best_trials(1)
        _logger.info(
            "experiment %s %s (%s): %d succeeded, %d failed%s%s",
            self.id,
            status,
            loop.reason,
            counts.get("SUCCEEDED", 0),
            counts.get("FAILED", 0) + counts.get("TIMEOUT", 0),
            f", {counts['EARLY_STOPPED']} early-stopped" if counts.get("EARLY_STOPPED") else "",
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
        # run() again continues this search (its checkpoint), as resume() would: base_model is
        # already its supernet
        trainer = self._oneshot_trainer or oneshot_trainer(
            self.base_model, self.evaluator, self.strategy, checkpoints
        )
        self._oneshot_trainer = trainer
        if self.constraint is not None:
            self._constrain_oneshot(trainer)
        headline = headline_metric(self.evaluator)
        assert self.config is not None
        try:
            run_oneshot(
                trainer,
                self.store,
                space,
                self._stop,
                self._previous_duration,
                headline,
                self.config.duration_seconds,
            )
        finally:  # run() again on this object continues the time budget, as multi-trial does
            self._previous_duration = float(
                self.store.experiment().info.get("duration", self._previous_duration)
            )

    def _constrain_oneshot(self, trainer: Any) -> None:
        """The experiment's constraint in a one-shot search: SPOS's search phase evaluates only
        subnets satisfying it; the other algorithms cannot honour it (they take a penalty)."""
        from ..oneshot.pytorch.algorithms import RandomOneShot

        module = getattr(trainer, "module", None)
        algorithm = getattr(module, "algorithm", None) or getattr(trainer, "algorithm", None)
        if isinstance(algorithm, RandomOneShot):
            if (
                algorithm.constraint is None
                and getattr(algorithm.config, "constraint", None) is None
            ):
                algorithm.constraint = self.constraint
        else:
            _logger.warning(
                "constraint= is honoured by RandomOneShot's search only; %s ignores it "
                "(give it penalty=ExpectationProfilerPenalty(...) instead)",
                type(algorithm).__name__ if algorithm is not None else type(trainer).__name__,
            )

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
        # served by a child process: polling browsers take nothing from the experiment loop
        self._dashboard = serve_dashboard(
            self.experiment_dir, host=host, port=port, stop=self._stop.set, separate_process=True
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
        self,
        top_k: int = 1,
        optimize_mode: str | None = None,
        formatter: str = "dict",
        pareto: bool | None = None,
    ) -> list[Any]:
        """The ``top_k`` best architectures: samples (``'dict'``), frozen modules (``'instance'``)
        or Python snippets that rebuild them (``'code'``).

        With several ``config.objectives`` (or ``pareto=True``) there is no single ranking: the
        whole Pareto front is returned (``top_k`` is ignored), ordered by the first objective.
        ``pareto=False`` ranks by the ``'default'`` metric alone.

        A one-shot search's answer is its newest export (after a resume, the continued search's;
        the older ones follow with ``top_k > 1``), whatever the metrics: see
        :meth:`~retiarii.store.ExperimentStore.answer`. It has no Pareto front.
        """
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
        from ..store.pareto import experiment_objectives, pareto_trials

        objectives = experiment_objectives(self.store)
        if self.oneshot and pareto:
            raise ValueError(
                "a one-shot search exports one architecture per run, not a Pareto front; "
                "call export_top_models() without pareto"
            )
        if pareto is None:
            pareto = not self.oneshot and objectives is not None and len(objectives) > 1
        if pareto:
            trials = pareto_trials(self.store, objectives)
        else:
            trials = self.store.answer(top_k, optimize_mode, oneshot=self.oneshot)
        if formatter == "dict":
            return [dict(t.sample) for t in trials]
        if formatter == "instance":
            space = self._space()
            return [space.build(t.sample) for t in trials]
        labels = getattr(self._space(), "hyperparameter_labels", ())
        return [model_code(self.base_model, t.sample, labels) for t in trials]

    def get_status(self) -> str:
        """NNI's status names: INITIALIZED, RUNNING, DONE, STOPPED, ERROR."""
        if self._store is None:
            return "INITIALIZED"
        return _NNI_STATUS.get(
            self.store.experiment().status, self.store.experiment().status.upper()
        )

    def list_trial_jobs(self) -> list[TrialRecord]:
        """Every trial, oldest first (``id``, ``status``, ``sample``, times, final metric, error).

        NNI's ``TrialJob`` names work too: ``trialJobId``, ``hyperParameters``, ``startTime``,
        ``endTime``, ``finalMetricData``, ``logPath``.
        """
        return self.store.trials()

    def get_job_metrics(self, trial_job_id: int | str | None = None) -> JobMetrics:
        """NNI's shape: ``{trial id: [TrialMetricData, ...]}``, intermediates then the final one.

        Each record has ``trialJobId``, ``parameterId``, ``type`` (``'PERIODICAL'``/``'FINAL'``),
        ``sequence``, ``data`` and ``timestamp`` (milliseconds), also as ``record['data']``; the
        dict answers NNI's string ids (``metrics['2']``) as well as ours (``metrics[2]``).
        """
        ids = (
            [int(trial_job_id)] if trial_job_id is not None else [t.id for t in self.store.trials()]
        )
        out = JobMetrics()
        for trial_id in ids:
            trial = self.store.trial(trial_id)
            job = str(trial_id)
            records = [
                TrialMetricData(to_millis(r.timestamp), job, job, "PERIODICAL", r.sequence, r.value)
                for r in self.store.intermediates(trial_id)
            ]
            if trial.final is not None:
                records.append(
                    TrialMetricData(
                        to_millis(trial.ended_at), job, job, "FINAL", len(records), trial.final
                    )
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

        Resuming unpickles ``experiment.pkl`` from the directory, which runs code from that file:
        resume only experiments you trust. (``view``, ``retiarii list`` and ``retiarii export``
        read only the SQLite store and never load it.)
        """
        import cloudpickle

        directory = resolve_experiment_dir(experiment)
        payload = cloudpickle.loads((directory / _PAYLOAD).read_bytes())
        exp = cls(
            payload["base_model"],
            payload["evaluator"],
            payload["applied_mutators"],
            payload["strategy"],
            pruner=payload.get("pruner"),
            callbacks=payload.get("callbacks"),
            profilers=payload.get("profilers"),
            constraint=payload.get("constraint"),
        )
        if exp.oneshot and config is not None:  # refused before the store is touched
            config.validate()
            config.check_oneshot()
        store = ExperimentStore(directory / DEFAULT_FILENAME)
        record = store.experiment()
        if config is None:
            config = RetiariiExeConfig.from_dict(record.config)
            if exp.oneshot and (ignored := config.reset_multi_trial_settings()):
                _logger.warning(  # recorded before they were refused; they never applied
                    "resume: a one-shot search ignores %s; resuming with their defaults",
                    ", ".join(ignored),
                )
        interrupted = store.interrupt_unfinished()
        if interrupted:
            _logger.info(
                "resume: %d trial(s) were interrupted and will run again", len(interrupted)
            )
        exp._store, exp.id, exp.experiment_dir = store, record.id, directory
        exp._previous_duration = float(record.info.get("duration", 0.0))
        exp.config = config
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
            log_limit=config.log_limit_bytes,
        )
    return LocalExecutor(
        config.trial_concurrency,
        trial_timeout=config.timeout_seconds,
        gpus_per_trial=config.trial_gpu_number,
        gpu_indices=config.training_service.gpu_indices,
        threads_per_worker=max(1, math.ceil(cpus)) if cpus else None,
        log_limit=config.log_limit_bytes,
        memory_limit=config.memory_limit_bytes,
        max_trials_per_worker=config.max_trials_per_worker,
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


def model_code(
    base_model: Any, sample: dict[str, Any], hyperparameter_labels: Collection[str] = ()
) -> str:
    """A runnable snippet that rebuilds the architecture of ``sample``.

    The model class must be decorated with ``@model_wrapper`` (``fixed_arch`` relies on it); its
    constructor arguments are written out when they are plain literals. The values of
    ``hyperparameter_labels`` (the evaluator's own labels in a joint search) are left out of
    ``fixed_arch`` and written as a comment: they go to ``evaluator.freeze(sample)``.
    """
    return fixed_arch_snippet(
        model_import_line(base_model), sample, _constructor_call(base_model), hyperparameter_labels
    )


def model_import_line(base_model: Any) -> str:
    """``from <module> import <Class>`` for the model's class (a comment for ``__main__``)."""
    cls = type(base_model)
    if cls.__module__ == "__main__":
        return f"# {cls.__qualname__} is defined in your script; import it from there"
    return f"from {cls.__module__} import {cls.__qualname__}"


def fixed_arch_snippet(
    import_line: str,
    sample: dict[str, Any],
    constructor_call: str,
    hyperparameter_labels: Collection[str] = (),
) -> str:
    """``from retiarii import fixed_arch`` + ``import_line``, then ``model = <call>`` inside
    ``fixed_arch(sample)``; the sample is written as a Python literal (``True``, ``None``).
    ``hyperparameter_labels`` are left out of ``fixed_arch`` and listed in a comment."""
    arch = {k: v for k, v in sorted(sample.items()) if k not in hyperparameter_labels}
    hyper = {k: v for k, v in sorted(sample.items()) if k in hyperparameter_labels}
    note = (
        f"# evaluator hyperparameters: evaluator.freeze({dict(sorted(sample.items()))!r})\n"
        if hyper
        else ""
    )
    return (
        "from retiarii import fixed_arch\n"
        f"{import_line}\n\n"
        f"with fixed_arch({arch!r}):\n"
        f"    model = {constructor_call}\n"
        f"{note}"
    )
