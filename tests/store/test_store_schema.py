"""The file format: schema versioning, foreign files, and rules the database itself enforces."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from retiarii.store import SCHEMA_VERSION, ExperimentStore, SchemaVersionError, StoreError


def _set_meta(db_path: Path, key: str, value: str) -> None:
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))
    conn.close()


def test_the_file_is_wal_and_versioned(store: ExperimentStore, db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    assert meta == {"schema_version": str(SCHEMA_VERSION), "application": "retiarii"}
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"meta", "experiment", "trials", "intermediate", "strategy_state", "series"} <= tables
    conn.close()


def test_newer_schema_version_is_refused(db_path: Path) -> None:
    ExperimentStore(db_path).close()
    _set_meta(db_path, "schema_version", str(SCHEMA_VERSION + 98))
    for readonly in (False, True):
        with pytest.raises(SchemaVersionError, match=f"version {SCHEMA_VERSION + 98}.*newer"):
            ExperimentStore(db_path, readonly=readonly)


def test_reopening_keeps_everything(db_path: Path) -> None:
    with ExperimentStore(db_path) as store:
        store.init_experiment("e", {}, {}, "maximize", exp_id="same")
        store.create_trial({"a": 1})
    with ExperimentStore(db_path) as store:
        assert store.experiment().id == "same"
        assert store.create_trial({"a": 2}) == 2


def test_other_files_are_not_stores(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.close()
    for readonly in (False, True):
        with pytest.raises(StoreError, match="not a retiarii experiment store"):
            ExperimentStore(other, readonly=readonly)

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="cannot open"):
        ExperimentStore(garbage, readonly=True)
    with pytest.raises(StoreError, match="cannot open"):
        ExperimentStore(garbage)

    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(StoreError, match="empty"):
        ExperimentStore(empty, readonly=True)


def test_database_enforces_immutability_for_direct_writers(
    store: ExperimentStore, db_path: Path
) -> None:
    """Code that bypasses the store (a script, a migration) still cannot rewrite history."""
    trial_id = store.create_trial({"a": 1})
    store.finish_trial(trial_id, "SUCCEEDED", final=1.0)
    conn = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.IntegrityError, match="finished trials are never modified"):
        conn.execute("UPDATE trials SET final_value = 2 WHERE id = ?", (trial_id,))
    with pytest.raises(sqlite3.IntegrityError, match="finished trials are never modified"):
        conn.execute(
            "INSERT INTO intermediate VALUES (?, 5, '1.0', 1.0, 0)",
            (trial_id,),
        )
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        conn.execute("DELETE FROM trials")
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute("INSERT INTO trials (sample, status, created_at) VALUES ('{}', 'DONE', 0)")
    conn.close()
    assert store.trial(trial_id).final_value == 1.0
