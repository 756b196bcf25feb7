"""The database schema, its version, and the checks made when a store is opened.

The schema is versioned in the ``meta`` table. A writer creates the tables in a new file and
upgrades older versions (there are none yet); anyone refuses a file written by a newer version,
because reading a schema it does not know could silently misreport an experiment.

Two rules are also enforced by SQLite triggers, so that they hold even for code that writes the
file directly: finished trials are never modified, and no trial is ever deleted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from .errors import SchemaVersionError, StoreError
from .records import EXPERIMENT_STATUSES, FINISHED_STATUSES, OPTIMIZE_MODES, TRIAL_STATUSES

__all__ = ["APPLICATION", "SCHEMA_VERSION", "check_schema", "create_schema"]

#: Version of the layout below; bump it (and add an upgrade step) when the layout changes.
#: 2: trials may be ``EARLY_STOPPED`` (version 1 stores are upgraded when opened for writing).
SCHEMA_VERSION = 2
#: Written to ``meta`` so that a file can be recognised as a retiarii experiment store.
APPLICATION = "retiarii"


def _sql_list(values: Iterable[str]) -> str:
    return ", ".join(f"'{value}'" for value in sorted(values))


_FINISHED = _sql_list(FINISHED_STATUSES)

_DDL: tuple[str, ...] = (
    """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
)
""",
    f"""
CREATE TABLE experiment (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ({_sql_list(EXPERIMENT_STATUSES)})),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    config TEXT NOT NULL,
    search_space TEXT NOT NULL,
    optimize_mode TEXT NOT NULL CHECK (optimize_mode IN ({_sql_list(OPTIMIZE_MODES)})),
    info TEXT NOT NULL DEFAULT '{{}}'
)
""",
    f"""
CREATE TABLE trials (
    id INTEGER PRIMARY KEY,
    sample TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ({_sql_list(TRIAL_STATUSES)})),
    created_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    final TEXT,
    final_value REAL,
    error TEXT,
    log_path TEXT,
    worker TEXT,
    resumed_from INTEGER REFERENCES trials (id)
)
""",
    """
CREATE INDEX trials_by_status ON trials (status)
""",
    """
CREATE TABLE intermediate (
    trial_id INTEGER NOT NULL REFERENCES trials (id),
    sequence INTEGER NOT NULL,
    value TEXT NOT NULL,
    value_num REAL NOT NULL,
    timestamp REAL NOT NULL,
    PRIMARY KEY (trial_id, sequence)
)
""",
    """
CREATE TABLE strategy_state (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    state TEXT NOT NULL,
    updated_at REAL NOT NULL
)
""",
    """
CREATE TABLE series (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    step INTEGER NOT NULL,
    epoch INTEGER,
    value TEXT NOT NULL,
    value_num REAL,
    timestamp REAL NOT NULL
)
""",
    """
CREATE INDEX series_by_name ON series (name, step)
""",
    f"""
CREATE TRIGGER finished_trials_are_never_modified
BEFORE UPDATE ON trials WHEN OLD.status IN ({_FINISHED})
BEGIN
    SELECT RAISE(ABORT, 'finished trials are never modified');
END;
""",
    """
CREATE TRIGGER trials_are_never_deleted
BEFORE DELETE ON trials
BEGIN
    SELECT RAISE(ABORT, 'trials are never deleted');
END;
""",
    f"""
CREATE TRIGGER no_intermediate_after_finish
BEFORE INSERT ON intermediate
WHEN (SELECT status FROM trials WHERE id = NEW.trial_id) IN ({_FINISHED})
BEGIN
    SELECT RAISE(ABORT, 'finished trials are never modified');
END;
""",
)


def create_schema(conn: sqlite3.Connection) -> None:
    """Create every table in an empty database. The caller holds a write transaction."""
    for statement in _DDL:
        conn.execute(statement)
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?)",
        [("schema_version", str(SCHEMA_VERSION)), ("application", APPLICATION)],
    )


def _has_meta(conn: sqlite3.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    return row is not None


def _statement(fragment: str) -> str:
    (statement,) = [ddl for ddl in _DDL if fragment in ddl]
    return statement


def _upgrade_1_to_2(conn: sqlite3.Connection) -> None:
    """Version 1 did not allow ``EARLY_STOPPED`` trials; SQLite cannot alter a CHECK constraint,
    so the trials table is rebuilt with the rows kept as they are (ids, finished trials and
    their intermediates unchanged). The caller holds a write transaction, with foreign keys not
    yet enforced (SQLite's procedure for changing a table's definition)."""
    for trigger in (
        "finished_trials_are_never_modified",
        "trials_are_never_deleted",
        "no_intermediate_after_finish",
    ):
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    conn.execute(
        _statement("CREATE TABLE trials (").replace(
            "CREATE TABLE trials (", "CREATE TABLE trials_v2 (", 1
        )
    )
    conn.execute("INSERT INTO trials_v2 SELECT * FROM trials")
    conn.execute("DROP TABLE trials")
    conn.execute("ALTER TABLE trials_v2 RENAME TO trials")
    for fragment in (
        "CREATE INDEX trials_by_status",
        "CREATE TRIGGER finished_trials_are_never_modified",
        "CREATE TRIGGER trials_are_never_deleted",
        "CREATE TRIGGER no_intermediate_after_finish",
    ):
        conn.execute(_statement(fragment))
    broken = conn.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise StoreError(f"upgrading the store would break references: {broken[:3]}")
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")


def check_schema(conn: sqlite3.Connection, path: str, upgrade: bool = False) -> bool:
    """Check that ``conn`` holds a store this code can read (and, with ``upgrade``, write).

    An older version is read as it is; with ``upgrade`` (a writer, inside its write
    transaction) it is brought to :data:`SCHEMA_VERSION` first.

    Returns:
        ``True`` if the schema is there and current, ``False`` if the database is empty (so a
        writer should create it).

    Raises:
        SchemaVersionError: The file was written by a newer version of the schema.
        StoreError: The file is some other SQLite database.
    """
    if not _has_meta(conn):
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables:
            raise StoreError(f"{path} is a SQLite database but not a retiarii experiment store")
        return False
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    if meta.get("application") != APPLICATION or "schema_version" not in meta:
        raise StoreError(f"{path} is a SQLite database but not a retiarii experiment store")
    version = int(meta["schema_version"])
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path} uses experiment-store schema version {version}, but this retiarii only "
            f"knows versions up to {SCHEMA_VERSION}; open it with a newer retiarii"
        )
    if version < 1:
        raise SchemaVersionError(f"{path} uses unknown old schema version {version}")
    if version == 1 and upgrade:
        _upgrade_1_to_2(conn)
    return True
