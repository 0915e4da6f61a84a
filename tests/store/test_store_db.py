"""Opening databases: configuration, per-thread connections, memory isolation, migrations."""

from __future__ import annotations

import gc
import sqlite3
import threading

import pytest
from sqlite_utils.migrations import Migrations

from webapp.store.db import ThreadDatabases, apply_migrations, immediate, open_database


def test_open_database_configures_wal_busy_timeout_sync_and_foreign_keys(tmp_path):
    db = open_database(tmp_path / "nested" / "dir" / "app.db")
    assert db.journal_mode == "wal"
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    db.close()


def test_each_thread_gets_its_own_database_and_keeps_it(tmp_path):
    databases = ThreadDatabases(tmp_path / "app.db")
    mine = databases.get()
    assert databases.get() is mine
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(databases.get()))
    thread.start()
    thread.join()
    assert theirs[0] is not mine
    databases.close()


def _is_closed(db) -> bool:
    try:
        db.execute("SELECT 1")
    except sqlite3.ProgrammingError as error:
        return "closed" in str(error)
    return False


@pytest.mark.parametrize("path", ["app.db", ":memory:"])
def test_connections_are_closed_with_their_thread_and_with_the_databases(tmp_path, path):
    # Closed, never garbage-collected open (Python 3.13+ warns about an unclosed database,
    # in whichever later test the collector happens to run).
    databases = ThreadDatabases(tmp_path / path if path != ":memory:" else path)
    theirs = []
    thread = threading.Thread(target=lambda dbs=databases: theirs.append(dbs.get()))
    thread.start()
    thread.join()
    assert _is_closed(theirs[0])  # its thread ended
    mine = databases.get()
    assert not _is_closed(mine)
    anchor = databases._anchor
    del databases
    gc.collect()
    assert _is_closed(mine)  # the rest, when the ThreadDatabases goes
    assert anchor is None or _is_closed(anchor)


def test_two_memory_databases_are_isolated_and_shared_between_threads():
    first, second = ThreadDatabases(":memory:"), ThreadDatabases(":memory:")
    first.get()["notes"].insert({"text": "first"})
    assert not second.get()["notes"].exists()
    seen = []

    def read():
        with first.lock:
            seen.extend(row["text"] for row in first.get()["notes"].rows)

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert seen == ["first"]
    first.close()
    second.close()


def test_apply_migrations_runs_each_set_once_and_in_order(tmp_path):
    calls = []
    records = Migrations("webapp.test_records")

    @records()
    def m001_records(db):
        calls.append("records")
        db["records"].create({"id": int, "task_id": str}, pk="id", if_not_exists=True)

    audit = Migrations("webapp.test_audit")

    @audit()
    def m001_audit(db):
        calls.append("audit")
        db["audit"].create({"id": int, "what": str}, pk="id", if_not_exists=True)

    db = open_database(tmp_path / "app.db", migrations=(records, audit))
    apply_migrations(db, records, audit)
    assert calls == ["records", "audit"]
    assert db["records"].exists() and db["audit"].exists()
    db.close()


def test_a_failing_migration_set_leaves_no_tables_and_no_record(tmp_path):
    broken = Migrations("webapp.test_broken")

    @broken()
    def m001_half(db):
        db["half"].create({"id": int}, pk="id")
        raise RuntimeError("migration bug")

    db = open_database(tmp_path / "app.db")
    with pytest.raises(RuntimeError, match="migration bug"):
        apply_migrations(db, broken)
    assert not db["half"].exists()
    assert broken.applied(db) == []
    db.close()


def test_immediate_commits_on_success_and_rolls_back_on_error(tmp_path):
    db = open_database(tmp_path / "app.db")
    db["notes"].create({"id": int, "text": str}, pk="id")
    with immediate(db):
        db["notes"].insert({"id": 1, "text": "kept"})
    with pytest.raises(ValueError), immediate(db):
        db["notes"].insert({"id": 2, "text": "lost"})
        raise ValueError("abort")
    assert [row["text"] for row in db["notes"].rows] == ["kept"]
    db.close()


def test_immediate_takes_the_write_lock_at_begin(tmp_path):
    path = tmp_path / "app.db"
    db = open_database(path)
    db["notes"].create({"id": int}, pk="id")
    other = open_database(path)
    other.execute("PRAGMA busy_timeout = 0")
    with immediate(db), pytest.raises(sqlite3.OperationalError, match="locked"):
        other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")
    db.close()
    other.close()


def test_immediate_nests_as_a_savepoint(tmp_path):
    db = open_database(tmp_path / "app.db")
    db["notes"].create({"id": int, "text": str}, pk="id")
    with immediate(db):
        db["notes"].insert({"id": 1, "text": "outer"})
        with pytest.raises(ValueError), immediate(db):
            db["notes"].insert({"id": 2, "text": "inner"})
            raise ValueError("undo inner only")
    assert [row["text"] for row in db["notes"].rows] == ["outer"]
    db.close()


def test_empty_path_is_refused():
    with pytest.raises(ValueError, match="path"):
        open_database("")
