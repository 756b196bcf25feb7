"""`ExperimentStore`: the experiment's single source of truth, one SQLite file."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import sqlite3
import string
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from .codec import encode_json, encode_metric, encode_sample, number_or_none
from .connection import WriterLock, open_reader, open_writer
from .errors import (
    DiskFullError,
    ReadOnlyStoreError,
    StoreError,
    TrialFinishedError,
    TrialStateError,
    UnknownTrialError,
)
from .records import (
    EXPERIMENT_STATUSES,
    FINISHED_STATUSES,
    OPTIMIZE_MODES,
    TRIAL_STATUSES,
    ExperimentRecord,
    IntermediateRecord,
    SeriesPoint,
    TrialRecord,
    check_choice,
    is_oneshot,
)

__all__ = ["DEFAULT_FILENAME", "ExperimentStore"]

#: Conventional name of the store inside an experiment directory.
DEFAULT_FILENAME = "experiment.db"

_ID_ALPHABET = string.ascii_lowercase + string.digits
_FINISHED_IN_ORDER = tuple(s for s in TRIAL_STATUSES if s in FINISHED_STATUSES)


# when a trial row last changed: its latest timestamp (a trial row changes only as it starts,
# ends, or gets its final metric while RUNNING)
_CHANGED_AT = "max(created_at, coalesce(started_at, 0), coalesce(ended_at, 0))"


def _new_experiment_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def _check_trial_id(trial_id: Any) -> int:
    if isinstance(trial_id, bool) or not isinstance(trial_id, int):
        raise TypeError(f"a trial id is an int, got {type(trial_id).__name__}: {trial_id!r}")
    return trial_id


def _is_disk_full(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code == 13 or "disk is full" in str(exc).lower()  # 13: SQLITE_FULL


class ExperimentStore:
    """The record of one experiment: its settings, every trial, their metrics, strategy state.

    The store is the single source of truth of an experiment. The experiment driver writes it;
    the dashboard, the CLI and anything else only read it, so a finished experiment can be
    inspected later from its directory alone.

    Rules:

    * **One writer process.** Only the experiment driver opens the store for writing (the
      default). On POSIX a lock file next to the database (``experiment.db.lock``) enforces this:
      a second writer gets :class:`StoreLockedError`. The lock dies with the process, so a killed
      driver never leaves a stale lock behind.
    * **Any number of readers.** Other processes open with ``readonly=True``. SQLite's WAL mode
      lets them read while the writer writes; each read sees the last committed state.
      Every write method of a read-only store raises :class:`ReadOnlyStoreError`.
    * **Finished trials are never modified.** Once a trial is SUCCEEDED, FAILED, TIMEOUT,
      CANCELED or INTERRUPTED, any write to it (a metric, a status, anything) raises
      :class:`TrialFinishedError`. Trials are never deleted. SQLite triggers enforce the same
      rules for anything that writes the file directly.
    * **Every write is committed before the method returns**, so whatever a method wrote
      survives the writing process being killed (``SIGKILL`` included); only a power loss can
      lose the last few commits (``synchronous=NORMAL``).
    * **Thread safety.** One store object may be shared by the threads of a process (e.g. the
      experiment loop writing and a web server thread reading): all calls go through one
      connection guarded by a lock, so they are serialized and each call is atomic.
    * **Everything is JSON.** Samples, metrics, configs and states are stored as strict JSON
      (no NaN, no pickles); a value that is not JSON is refused when written, naming it.

    Args:
        path: The database file, conventionally ``<experiment_dir>/experiment.db``. A writer
            creates it (and its directory) if missing; a reader requires it to exist.
        readonly: Open for reading only (the dashboard, the CLI, other processes).
        clock: Returns the current Unix time; injectable for tests.

    Example:
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> with ExperimentStore(os.path.join(d, "experiment.db")) as store:
        ...     _ = store.init_experiment("demo", {}, {}, "maximize")
        ...     tid = store.create_trial({"width": 32})
        ...     store.mark_running(tid, worker=1234)
        ...     store.finish_trial(tid, "SUCCEEDED", final=0.9).final_value
        0.9
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        readonly: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._path = Path(path)
        self._readonly = readonly
        self._clock = clock
        self._lock = threading.RLock()
        self._writer_lock: WriterLock | None = None
        self._conn: sqlite3.Connection | None = None
        if readonly:
            self._conn = open_reader(self._path)
        else:
            self._writer_lock = WriterLock(self._path)
            try:
                self._conn = open_writer(self._path)
            except BaseException:
                self._writer_lock.release()
                raise

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the connection (and give up the writer lock). Closing twice is harmless."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._writer_lock is not None:
                self._writer_lock.release()

    def __enter__(self) -> ExperimentStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "readonly" if self._readonly else "writer"
        return f"ExperimentStore({str(self._path)!r}, {mode})"

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def experiment_dir(self) -> Path:
        """The directory holding the database; trial log paths are relative to it."""
        return self._path.parent

    @property
    def readonly(self) -> bool:
        """Whether this store was opened for reading only."""
        return self._readonly

    # ------------------------------------------------------------------ transactions

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the store {self._path} is closed")
        return self._conn

    @contextmanager
    def _write(self, method: str) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed on success and rolled back on any error."""
        if self._readonly:
            raise ReadOnlyStoreError(
                f"{method}() needs a writable store, but {self._path} was opened with "
                "readonly=True; only the experiment driver writes"
            )
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        with contextlib.suppress(sqlite3.Error):  # a full disk may refuse it too
                            conn.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                if _is_disk_full(exc):
                    raise self._disk_full(method) from None
                raise

    def _disk_full(self, method: str) -> DiskFullError:
        directory = self.experiment_dir
        try:
            free = f"{shutil.disk_usage(directory).free / 2**20:.1f} MiB free"
        except OSError:
            free = "free space unknown"
        return DiskFullError(
            f"the disk holding {directory} is full ({free}): {method}() could not be recorded. "
            "Free some space (a few hundred MB is plenty), then resume the experiment "
            f"(retiarii resume {directory}); nothing recorded before is lost"
        )

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._connection().execute(sql, tuple(params)).fetchall()

    @staticmethod
    def _unfinished_status(conn: sqlite3.Connection, trial_id: Any) -> str:
        """Status of a trial about to be written; raises if it is unknown or finished."""
        row = conn.execute(
            "SELECT status FROM trials WHERE id = ?", (_check_trial_id(trial_id),)
        ).fetchone()
        if row is None:
            raise UnknownTrialError(trial_id)
        status: str = row["status"]
        if status in FINISHED_STATUSES:
            raise TrialFinishedError(trial_id, status)
        return status

    @staticmethod
    def _trial_row(conn: sqlite3.Connection, trial_id: int) -> TrialRecord:
        row = conn.execute("SELECT * FROM trials WHERE id = ?", (trial_id,)).fetchone()
        if row is None:
            raise UnknownTrialError(trial_id)
        return TrialRecord.from_row(row)

    # ------------------------------------------------------------------ experiment (writer)

    def init_experiment(
        self,
        name: str,
        config: Mapping[str, Any],
        search_space: Mapping[str, Any],
        optimize_mode: str = "maximize",
        exp_id: str | None = None,
        *,
        info: Mapping[str, Any] | None = None,
    ) -> ExperimentRecord:
        """Record the experiment (once per store), with status ``'created'``.

        Args:
            name: Human-readable name.
            config: The experiment configuration; must be JSON.
            search_space: The search space in NNI's ``ss-gen`` JSON format.
            optimize_mode: ``'maximize'`` or ``'minimize'`` the final metric.
            exp_id: The experiment's id; a short random one if omitted.
            info: Free-form JSON kept alongside (see :meth:`update_info`).

        Raises:
            StoreError: The store already holds an experiment (resume it instead).
        """
        check_choice(optimize_mode, OPTIMIZE_MODES, "optimize_mode")
        exp_id = _new_experiment_id() if exp_id is None else str(exp_id)
        row = (
            exp_id,
            str(name),
            encode_json(dict(config), "the experiment config"),
            encode_json(dict(search_space), "the search space"),
            optimize_mode,
            encode_json(dict(info or {}), "the experiment info"),
        )
        with self._write("init_experiment") as conn:
            existing = conn.execute("SELECT id FROM experiment").fetchone()
            if existing is not None:
                raise StoreError(
                    f"{self._path} already holds experiment {existing['id']!r}; "
                    "resume it or use a new experiment directory"
                )
            now = self._clock()
            conn.execute(
                "INSERT INTO experiment (singleton, id, name, config, search_space, "
                "optimize_mode, info, status, created_at, updated_at) "
                "VALUES (1, ?, ?, ?, ?, ?, ?, 'created', ?, ?)",
                (*row, now, now),
            )
            return ExperimentRecord.from_row(conn.execute("SELECT * FROM experiment").fetchone())

    def set_status(self, status: str) -> None:
        """Set the experiment's status: one of :data:`EXPERIMENT_STATUSES`."""
        check_choice(status, EXPERIMENT_STATUSES, "experiment status")
        with self._write("set_status") as conn:
            cursor = conn.execute(
                "UPDATE experiment SET status = ?, updated_at = ?", (status, self._clock())
            )
            if cursor.rowcount == 0:
                raise StoreError("set_status(): call init_experiment() first")

    def update_info(self, values: Mapping[str, Any]) -> None:
        """Merge ``values`` into the experiment's free-form JSON ``info``."""
        encode_json(dict(values), "the experiment info")
        with self._write("update_info") as conn:
            row = conn.execute("SELECT info FROM experiment").fetchone()
            if row is None:
                raise StoreError("update_info(): call init_experiment() first")
            info = {**json.loads(row["info"]), **values}
            conn.execute(
                "UPDATE experiment SET info = ?, updated_at = ?",
                (encode_json(info, "the experiment info"), self._clock()),
            )

    # ------------------------------------------------------------------ trials (writer)

    def create_trial(
        self,
        sample: Mapping[str, Any],
        *,
        resumed_from: int | None = None,
        strategy_state: Mapping[str, Any] | None = None,
    ) -> int:
        """Record a new ``WAITING`` trial for ``sample`` and return its id (1, 2, 3, ...).

        Args:
            sample: The ``{label: value}`` dict the trial evaluates (JSON; labels are strings).
            resumed_from: Id of the (interrupted) trial this one re-runs.
            strategy_state: The state of the strategy that proposed ``sample``, saved in the same
                transaction (as :meth:`save_strategy_state`): a driver killed at any moment leaves
                either both or neither, so a resumed strategy never proposes the sample again.
        """
        text = encode_sample(sample)
        state = (
            None
            if strategy_state is None
            else encode_json(dict(strategy_state), "the strategy state")
        )
        with self._write("create_trial") as conn:
            if resumed_from is not None:
                self._trial_row(conn, _check_trial_id(resumed_from))
            cursor = conn.execute(
                "INSERT INTO trials (sample, status, created_at, resumed_from) "
                "VALUES (?, 'WAITING', ?, ?)",
                (text, self._clock(), resumed_from),
            )
            if state is not None:
                self._write_strategy_state(conn, state)
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def mark_running(
        self,
        trial_id: int,
        worker: str | int | None = None,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        """Mark a ``WAITING`` trial ``RUNNING``: a worker has taken it.

        Args:
            trial_id: The trial.
            worker: Which worker runs it (e.g. a pid); stored as text.
            log_path: The trial's log file. A path inside the experiment directory is stored
                relative to it, so the directory can be moved and still be viewed.

        Raises:
            TrialStateError: The trial is already running.
        """
        log = None if log_path is None else self._relative_to_experiment(log_path)
        with self._write("mark_running") as conn:
            status = self._unfinished_status(conn, trial_id)
            if status != "WAITING":
                raise TrialStateError(f"trial {trial_id} is already {status}")
            conn.execute(
                "UPDATE trials SET status = 'RUNNING', started_at = ?, worker = ?, log_path = ? "
                "WHERE id = ?",
                (self._clock(), None if worker is None else str(worker), log, trial_id),
            )

    def _relative_to_experiment(self, path: str | os.PathLike[str]) -> str:
        candidate = Path(path)
        if candidate.is_absolute():
            try:
                return candidate.resolve().relative_to(self.experiment_dir.resolve()).as_posix()
            except ValueError:
                return str(candidate)
        return candidate.as_posix()

    def add_intermediate(self, trial_id: int, metric: Any) -> int:
        """Record an intermediate metric of an unfinished trial; return its sequence (0, 1, ...).

        ``metric`` is a real number or a dict with a numeric ``'default'`` (see
        :func:`retiarii.reporting.normalize_metric`); anything else is refused with the reason.
        """
        text, value = encode_metric(metric, f"intermediate metric of trial {trial_id}")
        with self._write("add_intermediate") as conn:
            self._unfinished_status(conn, trial_id)
            sequence: int = conn.execute(
                "SELECT coalesce(max(sequence) + 1, 0) FROM intermediate WHERE trial_id = ?",
                (trial_id,),
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO intermediate (trial_id, sequence, value, value_num, timestamp) "
                "VALUES (?, ?, ?, ?, ?)",
                (trial_id, sequence, text, value, self._clock()),
            )
            return sequence

    def set_final(self, trial_id: int, metric: Any) -> None:
        """Record the final metric of an unfinished trial.

        A trial reports its final metric before it ends, so this comes before
        :meth:`finish_trial`; a second call replaces the first while the trial is unfinished.
        """
        text, value = encode_metric(metric, f"final metric of trial {trial_id}")
        with self._write("set_final") as conn:
            self._unfinished_status(conn, trial_id)
            conn.execute(
                "UPDATE trials SET final = ?, final_value = ? WHERE id = ?",
                (text, value, trial_id),
            )

    def finish_trial(
        self,
        trial_id: int,
        status: str,
        error: str | None = None,
        *,
        final: Any = None,
    ) -> TrialRecord:
        """End a trial; from now on it is never modified. Returns its final record.

        Args:
            trial_id: A ``WAITING`` or ``RUNNING`` trial.
            status: One of SUCCEEDED, FAILED, TIMEOUT, CANCELED, INTERRUPTED, EARLY_STOPPED.
            error: Why it failed, e.g. the traceback.
            final: The final metric, if not already given to :meth:`set_final`; recorded in the
                same transaction.
        """
        check_choice(status, _FINISHED_IN_ORDER, "finished trial status")
        encoded = None
        if final is not None:
            encoded = encode_metric(final, f"final metric of trial {trial_id}")
        with self._write("finish_trial") as conn:
            self._unfinished_status(conn, trial_id)
            if encoded is not None:
                conn.execute(
                    "UPDATE trials SET final = ?, final_value = ? WHERE id = ?",
                    (encoded[0], encoded[1], trial_id),
                )
            conn.execute(
                "UPDATE trials SET status = ?, ended_at = ?, error = ? WHERE id = ?",
                (status, self._clock(), error, trial_id),
            )
            return self._trial_row(conn, trial_id)

    def interrupt_unfinished(self) -> list[TrialRecord]:
        """Mark every ``WAITING``/``RUNNING`` trial ``INTERRUPTED``; used when resuming.

        Returns:
            The interrupted trials (ids and samples), so the driver can re-run them with
            ``create_trial(t.sample, resumed_from=t.id)``.
        """
        with self._write("interrupt_unfinished") as conn:
            ids = [
                row["id"]
                for row in conn.execute(
                    "SELECT id FROM trials WHERE status IN ('WAITING', 'RUNNING') ORDER BY id"
                )
            ]
            now = self._clock()
            conn.executemany(
                "UPDATE trials SET status = 'INTERRUPTED', ended_at = ? WHERE id = ?",
                [(now, trial_id) for trial_id in ids],
            )
            return [self._trial_row(conn, trial_id) for trial_id in ids]

    # ------------------------------------------------------------------ other writes

    def save_strategy_state(self, state: Mapping[str, Any]) -> None:
        """Replace the saved strategy state (a JSON dict) that a resumed experiment restores."""
        text = encode_json(dict(state), "the strategy state")
        with self._write("save_strategy_state") as conn:
            self._write_strategy_state(conn, text)

    def _write_strategy_state(self, conn: sqlite3.Connection, text: str) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO strategy_state (singleton, state, updated_at) VALUES (1, ?, ?)",
            (text, self._clock()),
        )

    def add_series(
        self, name: str, value: Any, step: int | None = None, epoch: int | None = None
    ) -> int:
        """Append a point to a named progress series; return its step.

        Used by one-shot training to publish e.g. the loss per step or the architecture
        probabilities per epoch, so the dashboard can plot them.

        Args:
            name: The series, e.g. ``'train/loss'``.
            value: Any JSON value (NaN and infinity are refused).
            step: Position in the series; the series' next step (0, 1, ...) if omitted.
            epoch: The training epoch, if meaningful.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"a series name is a non-empty string, got {name!r}")
        text = encode_json(value, f"the value of series {name!r}")
        with self._write("add_series") as conn:
            if step is None:
                at: int = conn.execute(
                    "SELECT coalesce(max(step) + 1, 0) FROM series WHERE name = ?", (name,)
                ).fetchone()[0]
            else:
                at = int(step)
            conn.execute(
                "INSERT INTO series (name, step, epoch, value, value_num, timestamp) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    name,
                    at,
                    None if epoch is None else int(epoch),
                    text,
                    number_or_none(value),
                    self._clock(),
                ),
            )
            return at

    # ------------------------------------------------------------------ readers

    def experiment(self) -> ExperimentRecord:
        """The experiment's record.

        Raises:
            StoreError: ``init_experiment`` has not been called yet.
        """
        rows = self._query("SELECT * FROM experiment")
        if not rows:
            raise StoreError(f"{self._path} holds no experiment yet (init_experiment not called)")
        return ExperimentRecord.from_row(rows[0])

    def trials(self, status: str | Iterable[str] | None = None) -> list[TrialRecord]:
        """All trials in id order, or those with the given status (or any of several)."""
        if status is None:
            rows = self._query("SELECT * FROM trials ORDER BY id")
        else:
            wanted = [status] if isinstance(status, str) else list(status)
            for each in wanted:
                check_choice(each, TRIAL_STATUSES, "trial status")
            marks = ", ".join("?" * len(wanted))
            rows = self._query(
                f"SELECT * FROM trials WHERE status IN ({marks}) ORDER BY id", wanted
            )
        return [TrialRecord.from_row(row) for row in rows]

    def trial_summaries(self, changed_since: float | None = None) -> list[TrialRecord]:
        """Trials in id order without their final metric dict (``final`` is ``None``, the
        ``final_value`` is kept): what a table or a chart needs, cheap for large metric dicts.

        Args:
            changed_since: Only trials created, started or ended at or after this time (the
                store's clock, see :meth:`change_cursor`), and every RUNNING trial.
        """
        columns = (
            "id, sample, status, created_at, started_at, ended_at, NULL AS final, final_value, "
            "error, log_path, worker, resumed_from"
        )
        if changed_since is None:
            rows = self._query(f"SELECT {columns} FROM trials ORDER BY id")
        else:
            rows = self._query(
                f"SELECT {columns} FROM trials WHERE status = 'RUNNING' OR "
                f"{_CHANGED_AT} >= ? ORDER BY id",
                (float(changed_since),),
            )
        return [TrialRecord.from_row(row) for row in rows]

    def data_version(self) -> int:
        """SQLite's ``data_version`` of this connection: it changes when another connection
        (the experiment's writer) commits, so a reader can tell that nothing changed for free."""
        return int(self._query("PRAGMA data_version")[0][0])

    def trial_summaries_of(self, ids: Iterable[int], after_id: int) -> list[TrialRecord]:
        """Like :meth:`trial_summaries`, for the given trials and every trial after ``after_id``
        (a reader that holds the finished trials, which never change, reads only these)."""
        wanted = [_check_trial_id(t) for t in ids]
        marks = f" OR id IN ({', '.join('?' * len(wanted))})" if wanted else ""
        rows = self._query(
            "SELECT id, sample, status, created_at, started_at, ended_at, NULL AS final, "
            "final_value, error, log_path, worker, resumed_from FROM trials "
            f"WHERE id > ?{marks} ORDER BY id",
            [int(after_id), *wanted],
        )
        return [TrialRecord.from_row(row) for row in rows]

    def change_cursor(self) -> tuple[float, int]:
        """``(latest trial timestamp, latest intermediate rowid)``: a reader that remembers it
        asks :meth:`trial_summaries` and :meth:`intermediate_points` only for what came after."""
        stamp = self._query(f"SELECT max({_CHANGED_AT}) AS t FROM trials")[0]["t"]
        return float(stamp or 0.0), self.intermediate_cursor()

    def intermediate_cursor(self) -> int:
        """The latest intermediate metric's rowid (cheap; see :meth:`intermediate_points`)."""
        rowid = self._query("SELECT max(rowid) AS r FROM intermediate")[0]["r"]
        return int(rowid or 0)

    def intermediate_points(
        self, trial_ids: Iterable[int] | None = None, after_rowid: int | None = None
    ) -> dict[int, tuple[list[int], list[float]]]:
        """Intermediate curves as ``{trial id: (sequences, numeric values)}`` (values not decoded).

        Args:
            trial_ids: Only these trials (all if ``None``).
            after_rowid: Only the trials that reported since this intermediate rowid (see
                :meth:`change_cursor`); their whole curves are returned.
        """
        where, params = [], []
        if after_rowid is not None:
            where.append("trial_id IN (SELECT DISTINCT trial_id FROM intermediate WHERE rowid > ?)")
            params.append(int(after_rowid))
        if trial_ids is not None:
            ids = [_check_trial_id(t) for t in trial_ids]
            if not ids:
                return {}
            where.append(f"trial_id IN ({', '.join('?' * len(ids))})")
            params.extend(ids)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._query(
            "SELECT trial_id, sequence, value_num FROM intermediate"
            f"{clause} ORDER BY trial_id, sequence",
            params,
        )
        curves: dict[int, tuple[list[int], list[float]]] = {}
        for row in rows:
            xs, ys = curves.setdefault(row["trial_id"], ([], []))
            xs.append(row["sequence"])
            ys.append(row["value_num"])
        return curves

    def latest_intermediates(self, trial_ids: Iterable[int]) -> dict[int, float]:
        """The last reported numeric intermediate value of each given trial that reported one."""
        ids = [_check_trial_id(t) for t in trial_ids]
        if not ids:
            return {}
        rows = self._query(
            "SELECT i.trial_id, i.value_num FROM intermediate i JOIN (SELECT trial_id, "
            "max(sequence) AS s FROM intermediate WHERE trial_id IN "
            f"({', '.join('?' * len(ids))}) GROUP BY trial_id) m "
            "ON i.trial_id = m.trial_id AND i.sequence = m.s",
            ids,
        )
        return {row["trial_id"]: row["value_num"] for row in rows}

    def trial(self, trial_id: int) -> TrialRecord:
        """One trial by id; raises :class:`UnknownTrialError` (a ``KeyError``) if there is none."""
        with self._lock:
            return self._trial_row(self._connection(), _check_trial_id(trial_id))

    def intermediates(self, trial_id: int | None = None) -> list[IntermediateRecord]:
        """Intermediate metrics of one trial (or all), ordered by trial then sequence."""
        if trial_id is None:
            rows = self._query("SELECT * FROM intermediate ORDER BY trial_id, sequence")
        else:
            rows = self._query(
                "SELECT * FROM intermediate WHERE trial_id = ? ORDER BY sequence",
                (_check_trial_id(trial_id),),
            )
        return [IntermediateRecord.from_row(row) for row in rows]

    def best_trials(self, k: int = 1, optimize_mode: str | None = None) -> list[TrialRecord]:
        """The ``k`` best SUCCEEDED trials with a final metric, best first; ties go to lower ids.

        Args:
            k: How many.
            optimize_mode: ``'maximize'`` or ``'minimize'``; the experiment's own if omitted.
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"k must be a non-negative int, got {k!r}")
        if optimize_mode is None:
            optimize_mode = self.experiment().optimize_mode
        check_choice(optimize_mode, OPTIMIZE_MODES, "optimize_mode")
        order = "DESC" if optimize_mode == "maximize" else "ASC"
        rows = self._query(
            "SELECT * FROM trials WHERE status = 'SUCCEEDED' AND final_value IS NOT NULL "
            f"ORDER BY final_value {order}, id ASC LIMIT ?",
            (k,),
        )
        return [TrialRecord.from_row(row) for row in rows]

    def answer(
        self, k: int = 1, optimize_mode: str | None = None, *, oneshot: bool | None = None
    ) -> list[TrialRecord]:
        """The experiment's answer, best (or newest) first: the ``k`` best SUCCEEDED trials by
        ``optimize_mode`` (:meth:`best_trials`), or for a one-shot search its ``k`` newest exports.

        A one-shot run (the first, each resume) records the architecture it exported as a
        SUCCEEDED trial. The newest is the continued search's answer whatever the metrics say: an
        older run's metric was measured on a supernet trained less, and a run stopped before its
        first epoch ended has no metric at all (never an invented one); the older exports stay
        recorded and follow it (``optimize_mode`` does not rank them). ``oneshot`` says which kind
        of experiment this is when the caller knows; else :func:`~.records.is_oneshot` decides.
        """
        if oneshot is None:
            oneshot = is_oneshot(self.experiment().info, self.series_names())
        if not oneshot:
            return self.best_trials(k, optimize_mode)
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"k must be a non-negative int, got {k!r}")
        return self.trials("SUCCEEDED")[::-1][:k]

    def counts(self) -> dict[str, int]:
        """Number of trials per status, every status present (zeros included)."""
        counts = dict.fromkeys(TRIAL_STATUSES, 0)
        for row in self._query("SELECT status, count(*) AS n FROM trials GROUP BY status"):
            counts[row["status"]] = row["n"]
        return counts

    def strategy_state(self) -> dict[str, Any] | None:
        """The last saved strategy state, or ``None`` if none was saved."""
        rows = self._query("SELECT state FROM strategy_state")
        if not rows:
            return None
        state: dict[str, Any] = json.loads(rows[0]["state"])
        return state

    def series(self, name: str | None = None) -> list[SeriesPoint]:
        """Points of one series (or all), ordered by name, step, then insertion."""
        if name is None:
            rows = self._query("SELECT * FROM series ORDER BY name, step, id")
        else:
            rows = self._query("SELECT * FROM series WHERE name = ? ORDER BY step, id", (name,))
        return [SeriesPoint.from_row(row) for row in rows]

    def last_series_point(self, name: str) -> SeriesPoint | None:
        """The last point of one series (highest step, then the latest written), or ``None``:
        a poll reads where a long series (e.g. the loss every step) has got to, not all of it."""
        rows = self._query(
            "SELECT * FROM series WHERE name = ? ORDER BY step DESC, id DESC LIMIT 1", (name,)
        )
        return SeriesPoint.from_row(rows[0]) if rows else None

    def series_names(self) -> list[str]:
        """The names of all series, sorted."""
        return [
            row["name"] for row in self._query("SELECT DISTINCT name FROM series ORDER BY name")
        ]
