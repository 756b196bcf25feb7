"""The two interfaces of the execution layer: what runs a trial, and what runs many of them.

A :class:`TrialRunner` is the user side (built by the experiment from a model space and an
evaluator): it travels to each worker *once*, is set up once, then runs many samples. An
:class:`Executor` is the engineering side: it owns workers, ships samples to them and streams
:mod:`~retiarii.execution.events` back. Backends (in-process, local process pool, Ray actors)
implement :class:`Executor` and share the per-trial logic in :mod:`retiarii.execution.trial`, so a
trial behaves the same wherever it runs.

What this layer deliberately does *not* do: it does not know about model spaces, strategies or the
store; it does not retry trials or decide what a metric means; it never sends the runner again for
each trial. Those belong to the experiment loop.
"""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Any, Protocol, TypeVar, runtime_checkable

from retiarii.execution.events import Event

__all__ = [
    "Executor",
    "ExecutorError",
    "RunnerSetupError",
    "TrialRunner",
    "check_runner",
]

_E = TypeVar("_E", bound="Executor")


class ExecutorError(RuntimeError):
    """The executor cannot run trials any more (e.g. every worker failed to start)."""


class RunnerSetupError(ExecutorError):
    """The runner could not be unpickled or its ``setup()`` raised in a worker.

    The message holds the worker's traceback, so the user sees their own error, not ours.
    """


@runtime_checkable
class TrialRunner(Protocol):
    """Runs one trial at a time inside a worker.

    The runner is pickled with cloudpickle once and sent to every worker when the executor starts
    (classes defined in a user's ``__main__`` travel by value), so it should hold what every trial
    needs (the model space, the evaluator, a dataset path) but not per-trial state.

    Example:
        >>> from retiarii.reporting import report_final_result
        >>> class Square:
        ...     def setup(self) -> None:
        ...         pass
        ...     def run(self, sample: dict, trial_dir: str) -> None:
        ...         report_final_result(sample["x"] ** 2)
        >>> isinstance(Square(), TrialRunner)
        True
    """

    def setup(self) -> None:
        """Prepare the worker once after unpickling (import torch, load data, pick a device)."""

    def run(self, sample: dict[str, Any], trial_dir: str) -> Any:
        """Run one trial for ``sample``, writing any files into ``trial_dir``.

        Report metrics with :func:`retiarii.reporting.report_intermediate_result` and
        :func:`retiarii.reporting.report_final_result`. If the trial never reports a final result
        and returns a number (or a metric dict), that value becomes its final metric.
        """


def check_runner(runner: object) -> None:
    """Raise a ``TypeError`` naming what is missing if ``runner`` is not a :class:`TrialRunner`."""
    if not isinstance(runner, TrialRunner):
        missing = [name for name in ("setup", "run") if not callable(getattr(runner, name, None))]
        raise TypeError(
            f"the runner must have setup() and run(sample, trial_dir) methods; "
            f"{type(runner).__name__} has no {' or '.join(missing)}()"
        )


class Executor(abc.ABC):
    """Runs trials somewhere and streams their events back.

    Contract, shared by every backend (and checked by one test suite for all of them):

    * :meth:`start` is called once, before anything else, and raises :class:`RunnerSetupError` if
      the runner cannot be set up.
    * :meth:`submit` never blocks on the trial: it queues it if no worker is free.
    * Every submitted trial eventually gets exactly one terminal event (see
      :mod:`retiarii.execution.events`), also when canceled or when the executor shuts down.
    * Events of one trial arrive in the order they happened.
    * :meth:`shutdown` is idempotent and leaves no processes behind; ``with executor:`` calls it.
    """

    @abc.abstractmethod
    def start(self, runner: TrialRunner) -> None:
        """Ship ``runner`` to the workers and set it up; raise :class:`RunnerSetupError` on failure."""

    @abc.abstractmethod
    def submit(self, trial_id: int, sample: dict[str, Any], trial_dir: str) -> None:
        """Queue one trial; ``trial_id`` must not be in :meth:`running`."""

    @abc.abstractmethod
    def poll(self, timeout: float | None = None) -> list[Event]:
        """Return the events that happened since the last call, oldest first.

        Blocks up to ``timeout`` seconds (forever if ``None``) until there is at least one event,
        but returns ``[]`` at once when nothing is queued or running, so a loop cannot hang.
        """

    @abc.abstractmethod
    def free_slots(self) -> int:
        """How many more trials can be submitted now without waiting in a queue."""

    @abc.abstractmethod
    def running(self) -> set[int]:
        """Ids of the trials submitted and not finished yet (queued or running)."""

    @abc.abstractmethod
    def cancel(self, trial_id: int) -> None:
        """Stop a queued or running trial; it ends with ``TrialFailed(reason='canceled')``.

        Does nothing if the trial already finished or is unknown.
        """

    def request_stop(self, trial_id: int, reason: str) -> None:
        """Ask a running trial to stop by itself (early stopping); it is not killed.

        The trial learns it at its next ``report_intermediate_result`` (which raises
        :class:`~retiarii.reporting.TrialPruned`) or, under a Lightning evaluator, at the end of
        the epoch; it then ends with its normal terminal event. A trial that ignores the request
        keeps running: the experiment cancels it after a grace period. This default does nothing
        (the experiment's grace period then does the stopping); backends that can reach a running
        trial override it. Does nothing if the trial is unknown or finished.
        """
        del trial_id, reason  # cannot reach a running trial: the experiment's timeout stops it

    @abc.abstractmethod
    def shutdown(self) -> None:
        """Stop all workers; trials still queued or running end as canceled. Idempotent."""

    def __enter__(self: _E) -> _E:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()
