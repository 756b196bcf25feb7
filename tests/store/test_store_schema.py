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


def _version_1_store(db_path: Path) -> None:
    """A store as version 1 wrote it: EARLY_STOPPED not allowed in trials."""
    from retiarii.store import schema

    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path)
    with conn:
        for ddl in schema._DDL:
            conn.execute(ddl.replace("'EARLY_STOPPED', ", ""))
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("schema_version", "1"), ("application", "retiarii")],
        )
    conn.close()
    old_rule = pytest.raises(sqlite3.IntegrityError)  # the old constraint, as in old stores
    with old_rule, sqlite3.connect(db_path) as raw:
        raw.execute(
            "INSERT INTO trials (sample, status, created_at) VALUES ('{}', 'EARLY_STOPPED', 0)"
        )


def test_a_version_1_store_is_read_as_is_and_upgraded_by_a_writer(db_path: Path) -> None:
    _version_1_store(db_path)
    with sqlite3.connect(db_path) as raw:  # an old experiment: one finished, one running trial
        raw.execute(
            "INSERT INTO experiment VALUES (1, 'old', 'old', 'running', 0, 0, '{}', '{}', "
            "'maximize', '{}')"
        )
        raw.execute(
            "INSERT INTO trials (sample, status, created_at, final, final_value) "
            "VALUES ('{\"a\": 1}', 'SUCCEEDED', 0, '0.5', 0.5)"
        )
        raw.execute(
            "INSERT INTO trials (sample, status, created_at) VALUES ('{\"a\": 2}', 'RUNNING', 0)"
        )
        raw.execute("INSERT INTO intermediate VALUES (2, 0, '0.25', 0.25, 0)")
    with ExperimentStore(db_path, readonly=True) as reader:  # readers do not change the file
        assert [t.status for t in reader.trials()] == ["SUCCEEDED", "RUNNING"]
    with ExperimentStore(db_path) as store:  # a writer upgrades it (resume with a pruner)
        store.finish_trial(2, "EARLY_STOPPED", "stopped early", final=0.25)
        assert [t.status for t in store.trials()] == ["SUCCEEDED", "EARLY_STOPPED"]
        assert store.intermediates(2)[0].value == 0.25
        with pytest.raises(Exception, match="never modified"):  # the rules survive the rebuild
            store.finish_trial(1, "FAILED", "no")
    meta = dict(sqlite3.connect(db_path).execute("SELECT key, value FROM meta"))
    assert meta["schema_version"] == str(SCHEMA_VERSION) == "2"
