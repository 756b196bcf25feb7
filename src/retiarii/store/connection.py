"""Opening the SQLite file: the writer's connection, readers' connections, the writer lock.

Kept apart from :mod:`.store` because these are the engineering details (journal mode, URIs,
file locks) that the store's API should not have to think about.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import IO

from .errors import StoreError, StoreLockedError
from .schema import check_schema, create_schema

try:  # POSIX only; elsewhere the one-writer rule is documented but not enforced.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["WriterLock", "open_reader", "open_writer"]

# Readers never wait on the writer in WAL mode; the writer waits only on a checkpoint or a reader
# recovering the WAL index, which takes milliseconds. The timeout is a backstop, not a pace.
_BUSY_TIMEOUT_S = 30.0


def _connect(target: str, *, uri: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(
        target,
        uri=uri,
        timeout=_BUSY_TIMEOUT_S,
        isolation_level=None,  # the store issues BEGIN/COMMIT itself
        check_same_thread=False,  # shared across threads, serialized by the store's lock
    )
    conn.row_factory = sqlite3.Row
    return conn


def open_writer(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the store for writing, in WAL mode, with a current schema."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = _connect(str(path), uri=False)
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"cannot use WAL journal mode for {path} (got {mode!r})")
        # WAL + NORMAL: a commit survives the process being killed; only an OS crash or power
        # loss can lose the last commits. Good enough for an experiment log, and much faster.
        conn.execute("PRAGMA synchronous = NORMAL")
        # foreign keys are enforced from here on, once the schema is current: an upgrade
        # rebuilds a table that rows refer to (SQLite's documented ALTER TABLE procedure)
        conn.execute("BEGIN IMMEDIATE")
        try:
            if not check_schema(conn, str(path), upgrade=True):
                create_schema(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"cannot open {path} as an experiment store: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def open_reader(path: Path) -> sqlite3.Connection:
    """Open an existing store read-only (``mode=ro``); it sees each commit of the writer.

    A reader needs the WAL's shared-memory file, which it creates if the writer is gone. In a
    directory it cannot write (e.g. an archived experiment) and with no WAL left behind, the file
    cannot change any more, so it is opened ``immutable`` instead.
    """
    if not path.is_file():
        raise FileNotFoundError(f"no experiment store at {path}")
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        return _open_checked_reader(uri, path)
    except sqlite3.OperationalError:
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StoreError(f"cannot read {path}: its WAL is not readable here") from None
        return _open_checked_reader(uri + "&immutable=1", path)


def _open_checked_reader(uri: str, path: Path) -> sqlite3.Connection:
    conn = _connect(uri, uri=True)
    try:
        initialized = check_schema(conn, str(path))
    except sqlite3.OperationalError:
        conn.close()
        raise  # the caller may retry as immutable
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"cannot open {path} as an experiment store: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    if not initialized:
        conn.close()
        raise StoreError(f"{path} is empty: no experiment store was created in it")
    return conn


class WriterLock:
    """An exclusive ``flock`` on ``<db>.lock``, so that only one process writes a store.

    The kernel releases it when the process dies, so a killed driver never leaves a stale lock.
    """

    def __init__(self, db_path: Path) -> None:
        self._handle: IO[bytes] | None = None
        if fcntl is None:  # pragma: no cover - Windows
            return
        db_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(db_path.with_name(db_path.name + ".lock"), "a+b")  # noqa: SIM115
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise StoreLockedError(
                f"{db_path} is already open for writing (by another process or another "
                "ExperimentStore); only the experiment driver writes, others open it with "
                "readonly=True"
            ) from None
        self._handle = handle

    def release(self) -> None:
        """Give the lock up; releasing twice is harmless."""
        if self._handle is not None:
            self._handle.close()  # closing the file releases the flock
            self._handle = None
