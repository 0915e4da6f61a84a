"""The server's hook: ``_after_task_save`` writes its own rows in the task save's transaction."""

from __future__ import annotations

import pytest
from sqlite_utils.migrations import Migrations

from webapp.engine import Task, TaskStatus
from webapp.store.db import apply_migrations
from webapp.store.sqlite import SQLiteStore

transitions_migrations = Migrations("webapp.test_transitions")


@transitions_migrations()
def m001_transitions(db):
    db["transitions"].create(
        {"id": int, "task_id": str, "from_status": str, "to_status": str},
        pk="id",
        if_not_exists=True,
    )


class LoggingStore(SQLiteStore):
    """A worker-like store: every task save also appends to a transitions log."""

    fail_for: str | None = None

    def __init__(self, path):
        super().__init__(path)
        with self.lock:
            apply_migrations(self.db, transitions_migrations)

    def _after_task_save(self, db, task, previous_status):
        db["transitions"].insert(
            {
                "task_id": task.id,
                "from_status": previous_status and previous_status.value,
                "to_status": task.status.value,
            }
        )
        if task.id == self.fail_for:
            raise RuntimeError("record update failed")


def _log(store):
    return [
        (row["from_status"], row["to_status"])
        for row in store.db["transitions"].rows_where(order_by="id")
    ]


@pytest.fixture(params=["file", "memory"])
def store(request, tmp_path):
    return LoggingStore(tmp_path / "app.db" if request.param == "file" else ":memory:")


def test_the_hook_sees_the_previous_status_of_every_save(store):
    task = Task.bash("echo hi")
    store.tasks.save(task)
    task.transition_to(TaskStatus.RUNNING)
    store.tasks.save(task)
    store.tasks.cancel(task.id)
    assert _log(store) == [(None, "pending"), ("pending", "running"), ("running", "cancelled")]


def test_a_hook_that_raises_rolls_the_task_save_back(store):
    task = Task.bash("echo hi")
    store.tasks.save(task)
    task.transition_to(TaskStatus.RUNNING)
    store.fail_for = task.id
    with pytest.raises(RuntimeError, match="record update failed"):
        store.tasks.save(task)
    assert store.tasks[task.id].is_pending
    assert _log(store) == [(None, "pending")]
    fresh = Task.bash("echo new")
    store.fail_for = fresh.id
    with pytest.raises(RuntimeError):
        store.tasks.save(fresh)
    assert fresh.id not in store.tasks


def test_a_save_without_a_hook_is_two_statements(tmp_path):
    store = SQLiteStore(tmp_path / "app.db")
    task = Task.bash("echo hi")
    statements = []
    with store.db.tracer(lambda sql, params: statements.append(sql.split()[:3])):
        store.tasks.save(task)
    assert statements == [["INSERT", "INTO", "tasks"], ["DELETE", "FROM", "task_results"]]
