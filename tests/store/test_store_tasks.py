"""SQLiteStore.tasks: the mapping surface and detached snapshots (behaviours 55 and 57)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from webapp.engine import Task, TaskResult, TaskStatus, TaskType
from webapp.store import Store
from webapp.store.sqlite import SQLiteStore


@pytest.fixture
def store(tmp_path):
    return SQLiteStore(tmp_path / "app.db")


def _finish(task, status, **fields):
    """Drive ``task`` through the state machine to ``status`` with a result attached."""
    task.transition_to(TaskStatus.RUNNING)
    started = datetime(2024, 5, 1, 12, 0, 0, 123456)
    result = TaskResult(
        task_id=task.id,
        status=status,
        started_at=started,
        finished_at=started + timedelta(seconds=1.5),
        duration=1.5,
        raw=object(),
        **fields,
    )
    task.set_result(result)
    task.transition_to(status, error=fields.get("error"))
    return result


def test_every_field_round_trips_into_a_detached_snapshot(store):
    task = Task(
        "build",
        "make all",
        TaskType.POWERSHELL,
        description="the whole tree",
        timeout=2.5,
        created_at=datetime(2024, 1, 2, 3, 4, 5, 6),
    )
    result = _finish(task, TaskStatus.DONE, output="ok\n", returncode=0)
    store.tasks.save(task)
    loaded = store.tasks[task.id]
    assert loaded is not task and loaded == task
    for name in ("id", "title", "description", "payload", "type", "status", "error"):
        assert getattr(loaded, name) == getattr(task, name), name
    assert loaded.timeout == 2.5
    assert loaded.created_at == task.created_at
    assert loaded.result is not result
    for name in ("task_id", "status", "started_at", "finished_at", "duration", "output"):
        assert getattr(loaded.result, name) == getattr(result, name), name
    assert loaded.result.returncode == 0 and loaded.result.error is None
    assert loaded.result.raw is None
    assert loaded.is_done and loaded.is_succeeded


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (TaskStatus.DONE, None),
        (TaskStatus.FAILED, "exit_code"),
        (TaskStatus.FAILED, "timeout"),
        (TaskStatus.FAILED, "handler"),
        (TaskStatus.CANCELLED, "cancelled"),
    ],
)
def test_every_termination_reason_round_trips(store, status, reason):
    task = Task.bash("exit 7", title="t")
    error = None if status is TaskStatus.DONE else "went wrong"
    _finish(task, status, output="partial", error=error, returncode=7, termination_reason=reason)
    store.tasks.save(task)
    loaded = store.tasks[task.id]
    assert loaded.status is status
    assert loaded.error == error
    assert loaded.result.termination_reason == reason
    assert loaded.result.error == error
    assert loaded.result.returncode == 7


def test_a_loaded_snapshot_does_not_write_back(store):
    task = Task.bash("echo hi", title="original")
    store.tasks.save(task)
    loaded = store.tasks[task.id]
    loaded.title = "changed"
    loaded.transition_to(TaskStatus.RUNNING)
    assert store.tasks[task.id].title == "original"
    assert store.tasks[task.id].status is TaskStatus.PENDING
    store.tasks.save(loaded)
    assert store.tasks[task.id].title == "changed"


def test_a_loaded_done_task_is_still_immutable(store):
    task = Task.bash("echo hi")
    _finish(task, TaskStatus.DONE)
    store.tasks.save(task)
    with pytest.raises(AttributeError, match="immutable"):
        store.tasks[task.id].title = "nope"


def test_blocked_by_round_trips_and_rerunning_clears_the_stored_result(store):
    parent, child = Task.bash("exit 1"), Task.bash("echo child")
    child.transition_to(TaskStatus.BLOCKED)
    child._set_blocked_by(parent.id)
    store.tasks.save(child)
    assert store.tasks[child.id].blocked_by == parent.id
    assert store.tasks[child.id].is_blocked
    _finish(parent, TaskStatus.FAILED, error="boom")
    store.tasks.save(parent)
    parent.transition_to(TaskStatus.RUNNING)
    store.tasks.save(parent)
    loaded = store.tasks[parent.id]
    assert loaded.is_running and loaded.result is None and loaded.error is None


def test_iteration_is_by_created_at_then_id_not_insertion_order(store):
    base = datetime(2024, 1, 1)
    late = Task("late", "x", TaskType.BASH, created_at=base + timedelta(hours=1))
    early = Task("early", "x", TaskType.BASH, created_at=base)
    same_b = Task("b", "x", TaskType.BASH, _id="b", created_at=base + timedelta(minutes=1))
    same_a = Task("a", "x", TaskType.BASH, _id="a", created_at=base + timedelta(minutes=1))
    for task in (late, same_b, early, same_a):
        store.tasks.save(task)
    expected = [early.id, "a", "b", late.id]
    assert list(store.tasks) == expected
    assert [task.id for task in store.tasks.values()] == expected
    assert [task_id for task_id, _ in store.tasks.items()] == expected
    assert dict(store.tasks).keys() == set(expected)
    assert len(store.tasks) == 4


def test_membership_keys_and_value_checks(store):
    task = Task.bash("echo hi")
    store.tasks[task.id] = task
    assert task.id in store.tasks and task in store.tasks
    assert "missing" not in store.tasks
    assert 42 not in store.tasks and ["unhashable"] not in store.tasks
    with pytest.raises(KeyError):
        store.tasks["missing"]
    with pytest.raises(ValueError, match="task_id must match task.id"):
        store.tasks["other"] = task
    with pytest.raises(TypeError, match="Expected Task, got str"):
        store.tasks[task.id] = "not a task"
    with pytest.raises(TypeError, match="Expected Task"):
        store.tasks.save("not a task")


def test_delete_removes_the_task_and_its_result_and_missing_ids_raise(store):
    task = Task.bash("echo hi")
    _finish(task, TaskStatus.DONE)
    store.tasks.save(task)
    del store.tasks[task.id]
    assert task.id not in store.tasks
    assert store.db["task_results"].count == 0
    with pytest.raises(KeyError):
        del store.tasks[task.id]


def test_cancel_updates_the_row_but_not_live_objects(store):
    task = Task.bash("sleep 10")
    store.tasks.save(task)
    store.tasks.cancel(task.id)
    assert store.tasks[task.id].is_cancelled
    assert store.tasks[task.id].result is None
    assert task.is_pending
    with pytest.raises(KeyError):
        store.tasks.cancel("missing")


def test_data_persists_across_store_instances_and_reprs_name_the_path(tmp_path):
    path = tmp_path / "app.db"
    task = Task.bash("echo hi")
    SQLiteStore(path).tasks.save(task)
    reopened = SQLiteStore(path)
    assert reopened.tasks[task.id] == task
    assert repr(reopened) == f"SQLiteStore({path})"
    assert repr(reopened.tasks) == "SQLiteTaskCollection(1 tasks)"
    assert repr(reopened.graphs) == "SQLiteGraphCollection(0 graphs)"


def test_memory_stores_are_isolated_per_instance():
    first, second = SQLiteStore(":memory:"), SQLiteStore(":memory:")
    task = Task.bash("echo hi")
    first.tasks.save(task)
    assert task.id in first.tasks
    assert task.id not in second.tasks
    assert repr(first) == "SQLiteStore(:memory:)"
    assert isinstance(first, Store)
