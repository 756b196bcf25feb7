"""Trials on a Ray cluster: the executor for searches that outgrow one machine.

It follows :class:`~retiarii.execution.local.LocalExecutor` slot for slot, with Ray actors in
place of worker processes:

* each of the ``concurrency`` slots holds one :class:`~retiarii.execution.ray_actor.TrialActor`
  that asks Ray for ``cpus_per_trial`` CPUs and ``gpus_per_trial`` GPUs, gets the cloudpickled
  runner once (one ``ray.put``, shared by all actors), runs ``setup()`` once, then takes trials
  one after another through the same :func:`~retiarii.execution.trial.run_trial`;
* a trial's events come back as a Ray streaming generator, read here as they arrive; only this
  process (the driver) writes the store;
* an actor that dies (its worker was killed, its node was lost) fails only the trial it ran, as
  ``crashed``, and the slot gets a new actor. A trial whose actor died before it started is not
  failed: it waits for another actor. Retrying crashed trials is the experiment loop's choice
  (``max_trial_retries``), not this class's;
* timeouts and cancels kill the actor (``ray.kill``) and replace it.

Ray itself is connected lazily in :meth:`RayExecutor.start`: to ``address`` if given, to the
instance this process is already connected to, or else to a new local instance that this executor
owns and stops in :meth:`RayExecutor.shutdown` (with every process it started). A local instance
listens on the loopback interface only, unless ``loopback=False``, and is watched by a small
process that stops all of it if the driver dies without shutting it down (SIGKILL, OOM killer).

Trial directories: on the driver's node an actor writes straight into the trial's directory. On
another node it writes into a scratch directory there, whose files (up to
:data:`~retiarii.execution.ray_actor.MAX_COPY_BYTES`) are copied into the driver's trial directory
when the trial ends; so ``trial.log`` of a remote trial appears when it ends, not while it runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from retiarii._install import install_command
from retiarii.execution import pickling, process
from retiarii.execution.base import ExecutorError, RunnerSetupError, TrialRunner, check_runner
from retiarii.execution.events import FailureReason, TrialStarted, is_terminal
from retiarii.execution.pool import PoolSlot, PoolTrial, SlotPool
from retiarii.execution.ray_actor import ActorReady, TrialActor, TrialFiles, unpack_files
from retiarii.execution.ray_watchdog import TOKEN_ENV, Watchdog
from retiarii.execution.trial import LOG_LIMIT_ENV, LOG_NAME

__all__ = ["RayExecutor", "connect", "import_ray", "stop_watchdog"]

_logger = logging.getLogger("retiarii.execution")

#: A slot whose actor fails to set up this many times in a row is given up.
MAX_SETUP_FAILURES = 3
#: A trial whose actor dies before it starts waits for another one, at most this many times.
MAX_LOST_BEFORE_START = 3
#: Once one actor is ready, how long :meth:`RayExecutor.start` still waits for the others (the
#: rest may be waiting for resources the cluster does not have yet; they join when ready).
START_GRACE_SECONDS = 5.0

#: The watchdog of the local Ray instance this process started (see :func:`connect`).
_watchdog: Watchdog | None = None


def import_ray() -> Any:
    """Import ray, or say how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(
            f"running trials on Ray needs the ray package: {install_command('ray')}"
        ) from exc
    return ray


@dataclass
class _Trial(PoolTrial):
    started: bool = False  # its TrialStarted arrived: an actor death now fails it
    remote: bool = False  # runs on another node: its files come back when it ends
    lost_before_start: int = 0  # actors that died after taking it, before it started


@dataclass
class _Slot(PoolSlot):
    """A slot whose worker is a Ray actor."""

    trial: _Trial | None = None
    actor: Any = None
    setup_ref: Any = None  # ObjectRef of ActorReady while starting
    stream: Any = None  # ObjectRefGenerator of the running trial
    node_id: str | None = None
    name: str | None = None

    def has_worker(self) -> bool:
        return self.actor is not None


class RayExecutor(SlotPool[_Slot]):
    """Runs trials as Ray actors, on this machine or on a Ray cluster.

    Args:
        concurrency: Number of actors, i.e. of trials running at once (if the cluster has room).
        trial_timeout: Seconds a trial may run before its actor is killed and the trial fails with
            ``reason='timeout'``; ``None`` for no limit.
        cpus_per_trial: CPUs Ray reserves for each actor (fractions allowed); also its
            ``OMP_NUM_THREADS`` (at least 1).
        gpus_per_trial: GPUs Ray reserves for each actor (Ray sets its ``CUDA_VISIBLE_DEVICES``);
            with 0 the trial sees no GPU.
        address: A Ray cluster to connect to (``"auto"``, ``"ray://head:10001"``, ``"host:6379"``);
            ``None`` to use the instance this process is connected to, else to start a local one
            (Ray's own ``RAY_ADDRESS`` variable is honoured).
        init_kwargs: More arguments for ``ray.init`` (e.g. ``num_cpus``, ``_temp_dir``,
            ``runtime_env``); ignored if this process is already connected to Ray.
        loopback: A local instance started here listens on 127.0.0.1 only and sends no usage
            statistics, so nothing leaves the machine. Set ``False`` to let other machines join it.
        copy_trial_files: Copy each trial's files back from the actor's node into the trial
            directory: ``None`` (default) when the actor runs on another node than the driver.
        start_timeout: Seconds :meth:`start` waits for the first actor to finish ``setup()``.

    Example:
        >>> with RayExecutor(4, cpus_per_trial=2, address="auto") as executor:  # doctest: +SKIP
        ...     executor.start(runner)
        ...     executor.submit(0, {"width": 32}, "trials/0")
        ...     events = executor.poll(timeout=1.0)
    """

    worker_word = "Ray actor"

    def __init__(
        self,
        concurrency: int,
        *,
        trial_timeout: float | None = None,
        cpus_per_trial: float = 1.0,
        gpus_per_trial: float = 0,
        address: str | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
        loopback: bool = True,
        copy_trial_files: bool | None = None,
        start_timeout: float = 300.0,
        log_limit: int | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if cpus_per_trial <= 0:
            raise ValueError(f"cpus_per_trial must be positive, got {cpus_per_trial}")
        if gpus_per_trial < 0:
            raise ValueError(f"gpus_per_trial must be >= 0, got {gpus_per_trial}")
        super().__init__([_Slot(k) for k in range(concurrency)], trial_timeout)
        self.concurrency = concurrency
        self.cpus_per_trial = cpus_per_trial
        self.gpus_per_trial = gpus_per_trial
        self.address = address
        self.init_kwargs = dict(init_kwargs or {})
        self.log_limit = log_limit
        self.loopback = loopback
        self.copy_trial_files = copy_trial_files
        self.start_timeout = start_timeout
        self._ray: Any = None
        self._owns_ray = False
        self._payload_ref: Any = None
        self._driver_node: str | None = None

    # ----------------------------------------------------------------------------- public API

    def start(self, runner: TrialRunner) -> None:
        """Connect to Ray, start the actors, and wait until one finished ``setup()``.

        Raises:
            ImportError: ray is not installed.
            TypeError: ``runner`` cannot be pickled by cloudpickle.
            RunnerSetupError: An actor could not unpickle the runner, or ``setup()`` raised; the
                message holds the actor's traceback. No actor is left running.
            ExecutorError: No actor was ready within ``start_timeout`` (e.g. no node of the
                cluster has the CPUs and GPUs a trial asks for).
        """
        if self._payload_ref is not None or self._closed:
            raise RuntimeError("start() can be called only once, before shutdown()")
        check_runner(runner)
        try:
            payload = pickling.dumps(runner)
        except Exception as exc:
            raise TypeError(f"cloudpickle could not pickle the runner {runner!r}: {exc}") from exc
        self._ray = import_ray()
        self._track()
        try:
            self._owns_ray = connect(self._ray, self.address, self.init_kwargs, self.loopback)
            self._driver_node = self._ray.get_runtime_context().get_node_id()
            self._warn_about_resources()
            self._payload_ref = self._ray.put(payload)
            for slot in self._slots:
                self._spawn(slot)
            self._wait_for_setup()
        except BaseException:
            self.shutdown()
            raise

    def _started(self) -> bool:
        return self._payload_ref is not None

    def _new_trial(self, trial_id: int, sample: dict[str, Any], trial_dir: str) -> _Trial:
        return _Trial(trial_id, sample, trial_dir)

    def shutdown(self) -> None:
        """Cancel what is queued or running, kill the actors, and stop Ray if it was started here."""
        if not self._start_closing():
            return
        try:
            for slot in self._slots:
                if slot.trial is not None:
                    trial, slot.trial = slot.trial, None
                    self._fail(trial, "canceled", "the executor shut down while it ran")
                self._kill(slot)
        finally:
            if self._owns_ray and self._ray is not None:
                self._owns_ray = False
                try:
                    self._ray.shutdown()
                finally:
                    stop_watchdog()

    def worker_pids(self) -> list[int]:
        """Process ids of the ready actors on this machine's node (e.g. to read their memory)."""
        return [
            int(slot.name.rsplit(":", 1)[1])
            for slot in self._slots
            if slot.name and slot.state in ("idle", "busy") and slot.node_id == self._driver_node
        ]

    # ------------------------------------------------------------------------- actor lifecycle

    def _spawn(self, slot: _Slot) -> None:
        ray = self._ray
        threads = str(max(1, int(self.cpus_per_trial)))
        actor_class = ray.remote(TrialActor).options(
            num_cpus=self.cpus_per_trial,
            num_gpus=self.gpus_per_trial,
            max_restarts=0,
            max_task_retries=0,
            # a second thread takes stop_trial() while run() streams a trial's events
            max_concurrency=2,
        )
        env = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "PYTHONUNBUFFERED": "1"}
        if self.log_limit is not None:  # read by the trial's redirect_output
            env[LOG_LIMIT_ENV] = str(self.log_limit)
        slot.actor = actor_class.remote(hide_gpus=self.gpus_per_trial == 0, env=env)
        slot.setup_ref = slot.actor.setup.remote(self._payload_ref)
        slot.state, slot.stream, slot.setup_error = "starting", None, None

    def _kill(self, slot: _Slot) -> None:
        if slot.actor is not None:
            with contextlib.suppress(Exception):  # already dead, or Ray is going away
                self._ray.kill(slot.actor, no_restart=True)
        slot.actor, slot.setup_ref, slot.stream = None, None, None
        slot.state = "down"

    def _replace(self, slot: _Slot) -> None:
        self._kill(slot)
        if not self._closed:
            self._spawn(slot)

    def _wait_for_setup(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        grace_end: float | None = None
        while any(slot.state == "starting" for slot in self._slots):
            now = time.monotonic()
            if grace_end is None and any(slot.state == "idle" for slot in self._slots):
                grace_end = now + START_GRACE_SECONDS
            if grace_end is not None and now >= grace_end:
                return  # the others join when the cluster has room for them
            if now >= deadline:
                raise ExecutorError(
                    f"no Ray actor finished runner.setup() within start_timeout="
                    f"{self.start_timeout:g} s; does a node of the cluster have "
                    f"{self.cpus_per_trial:g} CPUs and {self.gpus_per_trial:g} GPUs free? "
                    f"(cluster resources: {self._ray.cluster_resources()})"
                )
            self._step(min(deadline, grace_end or deadline) - now)
            failed = next((s for s in self._slots if s.setup_error), None)
            if failed is not None:
                raise RunnerSetupError(f"Ray actor {failed.index} failed: {failed.setup_error}")

    def _warn_about_resources(self) -> None:
        nodes = [node for node in self._ray.nodes() if node.get("Alive")]
        fits = [
            node
            for node in nodes
            if node["Resources"].get("CPU", 0) >= self.cpus_per_trial
            and node["Resources"].get("GPU", 0) >= self.gpus_per_trial
        ]
        if not fits:
            _logger.warning(
                "no node of the Ray cluster has %g CPUs and %g GPUs for a trial (nodes: %s); "
                "trials wait until one joins",
                self.cpus_per_trial,
                self.gpus_per_trial,
                [node["Resources"] for node in nodes],
            )

    def _on_setup(self, slot: _Slot) -> None:
        ready: ActorReady | None
        try:
            ready = self._ray.get(slot.setup_ref)
            error = ready.error
        except Exception as exc:  # the actor died while setting up (killed, node lost)
            ready, error = None, f"the Ray actor died during setup: {_first_line(exc)}"
        slot.setup_ref = None
        if error is None and ready is not None:
            slot.state, slot.node_id, slot.name = "idle", ready.node_id, ready.name
            slot.setup_failures = 0
            return
        slot.setup_error = error
        slot.setup_failures += 1
        self._kill(slot)
        if slot.setup_failures >= MAX_SETUP_FAILURES:
            slot.state = "retired"
            self._fail_queue_if_no_workers()
        elif not self._closed:
            self._spawn(slot)
            slot.setup_error = error  # keep the reason visible to start()

    def _on_actor_lost(self, slot: _Slot, exc: BaseException) -> None:
        """The actor died under a trial: fail it (or requeue it if it had not started)."""
        trial, slot.trial = slot.trial, None
        self._replace(slot)
        if trial is None:
            return
        # Its TrialStarted may not have reached us before the actor died; on this node, the
        # trial's log (opened by run_trial before the runner is called) tells that it started.
        started = trial.started or (
            not trial.remote and os.path.exists(os.path.join(trial.trial_dir, LOG_NAME))
        )
        if not started:
            trial.lost_before_start += 1
            if trial.lost_before_start < MAX_LOST_BEFORE_START:
                trial.deadline = None
                self._queue.appendleft(trial)
                return
            message = (
                f"{trial.lost_before_start} Ray actors died before the trial could start; "
                f"the last: {_first_line(exc)}"
            )
            self._fail(trial, "crashed", message)
            return
        message = f"the Ray actor running the trial died ({_first_line(exc)})"
        self._fail(trial, "crashed", message + _log_note(trial))

    def _kill_trial(self, slot: _Slot, reason: FailureReason, message: str) -> None:
        trial, slot.trial = slot.trial, None
        assert trial is not None
        self._replace(slot)
        self._fail(trial, reason, message + _log_note(trial))

    # ---------------------------------------------------------------------------- event pump

    def _step(self, timeout: float | None) -> None:
        """Wait up to ``timeout`` for actor activity; handle it, timeouts, and the queue."""
        waiting: dict[int, tuple[Any, _Slot]] = {}
        for slot in self._slots:
            handle = slot.setup_ref if slot.state == "starting" else slot.stream
            if handle is not None:
                waiting[id(handle)] = (handle, slot)
        if waiting:
            handles = [handle for handle, _ in waiting.values()]
            ready, _ = self._ray.wait(handles, num_returns=1, timeout=timeout)
            if ready:  # then take everything else that is ready too
                ready, _ = self._ray.wait(handles, num_returns=len(handles), timeout=0)
            for handle in ready:
                slot = waiting[id(handle)][1]
                if slot.state == "starting" and handle is slot.setup_ref:
                    self._on_setup(slot)
                elif handle is slot.stream:
                    self._read(slot)
        elif timeout:
            time.sleep(min(timeout, 0.05))
        self._expire_deadlines()
        self._dispatch()

    def _read(self, slot: _Slot) -> None:
        """Take every event of the slot's trial that already arrived."""
        ray = self._ray
        while slot.stream is not None and slot.trial is not None:
            ready, _ = ray.wait([slot.stream], timeout=0)
            if not ready:
                return
            try:
                item = ray.get(next(slot.stream))
            except StopIteration:
                self._on_actor_lost(slot, RuntimeError("the trial's stream ended without a result"))
                return
            except ray.exceptions.RayError as exc:  # actor died, worker crash, lost node
                self._on_actor_lost(slot, exc)
                return
            if isinstance(item, TrialFiles):
                try:
                    unpack_files(item, slot.trial.trial_dir)
                except (OSError, ValueError) as exc:
                    _logger.warning("trial %d: could not unpack its files: %s", item.trial_id, exc)
                continue
            if isinstance(item, TrialStarted):
                slot.trial.started = True
            self._events.append(item)
            if is_terminal(item):
                slot.trial, slot.stream, slot.state = None, None, "idle"

    def _send_stop(self, slot: _Slot, trial_id: int, reason: str) -> None:
        if slot.actor is not None:
            with contextlib.suppress(Exception):  # a lost actor is reported by the next _step
                slot.actor.stop_trial.remote(trial_id, reason)

    def _send(self, slot: _Slot, trial: PoolTrial) -> bool:
        copy = (
            self.copy_trial_files
            if self.copy_trial_files is not None
            else slot.node_id != self._driver_node
        )
        try:
            slot.stream = slot.actor.run.remote(
                trial.trial_id, trial.sample, trial.trial_dir, bool(copy)
            )
        except Exception as exc:  # the sample itself could not be serialized
            self._fail(trial, "error", f"could not send the sample to a Ray actor: {exc!r}")
            return False
        assert isinstance(trial, _Trial)  # made by _new_trial
        trial.remote = bool(copy)
        return True


def connect(ray: Any, address: str | None, init_kwargs: Mapping[str, Any], loopback: bool) -> bool:
    """Connect this process to Ray; ``True`` if that started a local instance owned by the caller.

    Already connected: nothing happens (and the connection is not ours to close). A local instance
    gets a watchdog (:mod:`~retiarii.execution.ray_watchdog`) that stops all its processes if this
    process dies without calling ``ray.shutdown()`` (e.g. SIGKILL); the owner ends it after
    ``ray.shutdown()`` with :func:`stop_watchdog`.
    """
    global _watchdog
    if ray.is_initialized():
        return False
    kwargs = dict(init_kwargs)
    starts_local = address in (None, "local") and not os.environ.get("RAY_ADDRESS")
    if not starts_local:
        ray.init(address=address, **kwargs)
        return False
    kwargs.setdefault("include_dashboard", False)
    # Classes the runner refers to by name must import in the actors as they do here.
    kwargs.setdefault(
        "runtime_env", {"env_vars": {"PYTHONPATH": os.pathsep.join(process.import_paths())}}
    )
    stop_watchdog()  # of an instance started here before and shut down since
    watchdog = Watchdog()
    try:
        # every process of the instance inherits the token: the watchdog finds them by it
        with process.preserved_environ([TOKEN_ENV]):
            os.environ[TOKEN_ENV] = watchdog.token
            if loopback:
                kwargs.setdefault("_node_ip_address", "127.0.0.1")
                with _loopback_only(ray):
                    ray.init(**kwargs)
            else:
                ray.init(**kwargs)
    except BaseException:
        watchdog.stop()  # and whatever ray.init had started
        raise
    _watchdog = watchdog
    return True


def stop_watchdog() -> None:
    """After ``ray.shutdown()`` of the instance :func:`connect` started: stop what is left of it.

    ``ray.init`` may have connected to a running instance instead of starting one; the watchdog
    then finds no process to stop (only processes started under its token are its own).
    """
    global _watchdog
    watchdog, _watchdog = _watchdog, None
    if watchdog is not None:
        watchdog.stop()


@contextlib.contextmanager
def _loopback_only(ray: Any) -> Iterator[None]:
    """Make a local instance bind and advertise 127.0.0.1, and send no usage statistics.

    ``ray.init(_node_ip_address='127.0.0.1')`` alone is not enough: Ray turns a loopback address
    into the machine's outward one unless its single-machine mode is on, the mode it uses on
    macOS and Windows (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``). The processes started now inherit
    the variables; the driver reads the mode from ray's constants, set here for the call.
    """
    ray_constants: Any
    try:
        from ray._private import ray_constants
    except ImportError:  # a Ray without that module: the environment variables still apply
        ray_constants = None

    overrides = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
    saved_mode = getattr(ray_constants, "ENABLE_RAY_CLUSTER", True)
    with process.preserved_environ(overrides):
        os.environ.update(overrides)
        if ray_constants is not None:
            ray_constants.ENABLE_RAY_CLUSTER = False
        try:
            yield
        finally:
            if ray_constants is not None:
                ray_constants.ENABLE_RAY_CLUSTER = saved_mode


def _log_note(trial: PoolTrial) -> str:
    """The end of the trial's log, for a failure message (a remote trial's log is on its node)."""
    if isinstance(trial, _Trial) and trial.remote:
        return "\n(it ran on another node; its trial.log stayed there)"
    return process.log_tail(trial.trial_dir)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
