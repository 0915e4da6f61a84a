"""Engine schema versioning (behaviour 58): unknown schemas are refused or rebuilt on request."""

from __future__ import annotations

import pytest
from sqlite_utils.migrations import Migrations

from webapp.engine import Task
from webapp.store.db import open_database
from webapp.store.schema import ENGINE_TABLES, KNOWN_MIGRATIONS, schema_version
from webapp.store.sqlite import SQLiteStore


def test_a_fresh_file_gets_every_engine_table_and_the_current_schema_version(tmp_path):
    store = SQLiteStore(tmp_path / "app.db")
    assert all(store.db[name].exists() for name in ENGINE_TABLES)
    assert schema_version(store.db) == list(KNOWN_MIGRATIONS)


def test_reopening_a_current_database_keeps_its_data(tmp_path):
    task = Task.bash("echo hi", title="kept")
    SQLiteStore(tmp_path / "app.db").tasks.save(task)
    assert SQLiteStore(tmp_path / "app.db").tasks[task.id].title == "kept"


def test_other_tables_without_engine_tables_are_accepted_and_left_alone(tmp_path):
    db = open_database(tmp_path / "app.db")
    db["projects"].insert({"id": 1, "name": "mine"}, pk="id")
    db.close()
    store = SQLiteStore(tmp_path / "app.db")
    assert [row["name"] for row in store.db["projects"].rows] == ["mine"]


def _legacy_database(path):
    """Engine tables made by something that recorded no migrations (an older release)."""
    db = open_database(path)
    db["tasks"].insert({"id": "old", "title": "legacy"}, pk="id")
    db.close()


def _future_database(path):
    """A current database on which a newer release has recorded one more migration."""
    store = SQLiteStore(path)
    store.tasks.save(Task.bash("echo hi"))
    store.db[Migrations.migrations_table].insert(
        {"migration_set": "webapp.engine", "name": "m999_from_the_future", "applied_at": "x"}
    )
    store.close()


@pytest.mark.parametrize("make", [_legacy_database, _future_database])
def test_an_unknown_schema_version_is_refused_without_touching_the_data(tmp_path, make):
    path = tmp_path / "app.db"
    make(path)
    with pytest.raises(RuntimeError) as caught:
        SQLiteStore(path)
    assert "schema_version" in str(caught.value)
    assert "allow_destructive_migration=True" in str(caught.value)
    assert str(path) in str(caught.value)
    db = open_database(path)
    assert db["tasks"].count == 1
    db.close()


@pytest.mark.parametrize("make", [_legacy_database, _future_database])
def test_destructive_migration_warns_and_starts_empty(tmp_path, make):
    path = tmp_path / "app.db"
    make(path)
    db = open_database(path)
    db["projects"].insert({"id": 1, "name": "not an engine table"}, pk="id")
    db.close()
    with pytest.warns(UserWarning, match="rebuilding them empty"):
        store = SQLiteStore(path, allow_destructive_migration=True)
    assert len(store.tasks) == 0
    assert schema_version(store.db) == list(KNOWN_MIGRATIONS)
    assert store.db["projects"].count == 1
    store.tasks.save(Task.bash("echo after rebuild"))
    assert len(SQLiteStore(path).tasks) == 1


def test_missing_engine_tables_with_a_recorded_version_are_refused(tmp_path):
    path = tmp_path / "app.db"
    SQLiteStore(path).close()
    db = open_database(path)
    db["graph_dependencies"].drop()
    db.close()
    with pytest.raises(RuntimeError, match="schema_version"):
        SQLiteStore(path)
