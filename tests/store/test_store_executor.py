"""A real TaskExecutor persisting through SQLiteStore (behaviours 50, 51, 52 and 59)."""

from __future__ import annotations

import pytest

from webapp.engine import Task, TaskStatus, TaskType
from webapp.engine.events import TaskEventType
from webapp.engine.executor import TaskExecutor
from webapp.engine.graph import TaskGraph
from webapp.store.sqlite import SQLiteStore


class CountingStore(SQLiteStore):
    """Records every status it writes; raises ``fail_with`` instead when that is set."""

    fail_with: BaseException | None = None

    def __init__(self, path):
        super().__init__(path)
        self.saved: list[str] = []

    def _after_task_save(self, db, task, previous_status):
        if self.fail_with is not None:
            raise self.fail_with
        self.saved.append(task.status.value)


@pytest.fixture
def store(tmp_path):
    return CountingStore(tmp_path / "app.db")


def test_each_transition_is_stored_before_its_event_and_progress_is_not_saved(store):
    executor = TaskExecutor.empty(store)

    def handler(context):
        context.emit_progress(50, "half way")
        return "done\n"

    executor.register(TaskType.BASH, handler)
    seen = []

    def record(event):
        seen.append((event.type, store.tasks[event.task_id].status))

    executor.events.subscribe(record)
    executor.activity.subscribe(record)  # progress and output: their own bus
    task = Task.bash("work")
    executor.execute(task)
    assert seen == [
        (TaskEventType.STARTED, TaskStatus.RUNNING),
        (TaskEventType.PROGRESS, TaskStatus.RUNNING),
        (TaskEventType.SUCCEEDED, TaskStatus.DONE),
    ]
    assert store.saved == ["running", "done"]
    assert store.tasks[task.id].result.output == "done\n"


def test_a_bash_task_and_its_output_land_in_the_database(store):
    task = Task.bash("echo hi; echo oops >&2; exit 3", title="fails")
    with pytest.raises(Exception, match="oops"):
        TaskExecutor(store).execute(task)
    loaded = SQLiteStore(store.path).tasks[task.id]
    assert loaded.is_failed
    assert (loaded.result.output, loaded.result.returncode) == ("hi\n", 3)
    assert loaded.result.termination_reason == "exit_code"
    assert store.saved == ["running", "failed"]


def test_cancelling_a_pending_task_is_stored_once(store):
    task = Task.bash("sleep 10")
    store.tasks.save(task)
    TaskExecutor(store).cancel(task)
    assert store.saved == ["pending", "cancelled"]
    loaded = store.tasks[task.id]
    assert loaded.is_cancelled and loaded.result.termination_reason == "cancelled"


def test_a_failing_save_never_changes_the_outcome_and_stores_nothing(store):
    store.fail_with = OSError("nope")
    executor = TaskExecutor.empty(store)
    executor.register(TaskType.BASH, lambda context: "fine")
    seen = []
    executor.events.subscribe(lambda event: seen.append((event.type, event.error)))
    task = Task.bash("work")
    executor.execute(task)
    assert task.is_done
    assert [(task_id, str(error)) for task_id, error in executor.persistence_errors] == [
        (task.id, "nope"),
        (task.id, "nope"),
    ]
    assert seen == [
        (TaskEventType.PERSISTENCE_FAILED, "nope"),
        (TaskEventType.STARTED, None),
        (TaskEventType.PERSISTENCE_FAILED, "nope"),
        (TaskEventType.SUCCEEDED, None),
    ]
    assert task.id not in store.tasks


def test_a_graph_is_stored_before_any_handler_runs_and_again_at_the_end(store):
    graph = TaskGraph(title="before")
    seen_by_handler = []

    def handler(context):
        seen_by_handler.append(store.graphs[graph.id].title)  # read on a pool thread
        graph.title = "after"
        return "ok"

    executor = TaskExecutor.empty(store)
    executor.register(TaskType.BASH, handler)
    graph.add(Task.bash("work"))
    graph.run(executor)
    assert seen_by_handler == ["before"]
    assert store.graphs[graph.id].title == "after"
    assert executor.graph_persistence_errors == []


def test_a_failing_graph_save_is_recorded_and_warned_but_never_raises(store):
    graph = TaskGraph(title="x")
    graph.add(Task.bash("echo hi"))
    graph.title = None  # the graphs table refuses a NULL title
    executor = TaskExecutor(store)
    with pytest.warns(UserWarning, match="graph persistence failed"):
        graph.run(executor)
    assert graph.ok
    assert [graph_id for graph_id, _ in executor.graph_persistence_errors] == [graph.id] * 2
    graph.run(executor)  # warnings are errors in this suite: still nothing raises
    assert graph.id not in store.graphs


def test_a_graph_with_a_cycle_is_not_stored(store):
    graph = TaskGraph(title="loop")
    first, second = Task.bash("echo 1"), Task.bash("echo 2")
    graph.add(first, after=[second])
    graph.add(second, after=[first])
    with pytest.raises(ValueError, match="cycle"):
        graph.run(TaskExecutor(store))
    assert len(store.graphs) == 0 and len(store.tasks) == 0


def test_a_wide_graph_leaves_every_task_and_result_in_the_database(tmp_path):
    store = SQLiteStore(tmp_path / "app.db")
    graph = TaskGraph(title="wide")
    root = graph.add(Task.bash("echo root", title="root"))
    for number in range(8):
        graph.add(Task.bash(f"echo leaf {number}", title=f"leaf {number}"), after=[root])
    executor = TaskExecutor(store)
    graph.run(executor, max_workers=4)
    assert graph.ok and executor.persistence_errors == []
    reopened = SQLiteStore(tmp_path / "app.db")
    stored = reopened.graphs[graph.id]
    assert all(task.is_done for task in stored)
    outputs = sorted(reopened.tasks[task.id].result.output for task in graph)
    assert outputs == sorted(["root\n"] + [f"leaf {n}\n" for n in range(8)])


def test_every_lifecycle_event_sees_its_stored_status_and_attached_result(store):  # 48, 50
    from webapp.engine import TaskCancelled

    executor = TaskExecutor.empty(store)

    def handler(context):
        if context.payload == "stop":
            raise TaskCancelled("stop")
        if context.payload.startswith("fail"):
            raise RuntimeError("boom")
        return "ok"

    executor.register(TaskType.BASH, handler)
    seen = []

    def check(event):
        stored = store.tasks[event.task_id]
        result = event.task.result
        seen.append((event.type, event.task.payload, stored.status, result and result.status))

    executor.events.subscribe(check)
    ok, fail, stop, pending = (Task.bash(p) for p in ("ok", "fail", "stop", "pending"))
    executor.execute(ok)
    with pytest.raises(RuntimeError):
        executor.execute(fail)
    with pytest.raises(TaskCancelled):
        executor.execute(stop)
    executor.cancel(pending)
    graph = TaskGraph()
    parent = graph.add(Task.bash("fail parent"))
    graph.add(Task.bash("child"), after=[parent])
    graph.run(executor)
    E, S = TaskEventType, TaskStatus
    assert seen == [
        (E.STARTED, "ok", S.RUNNING, None),
        (E.SUCCEEDED, "ok", S.DONE, S.DONE),
        (E.STARTED, "fail", S.RUNNING, None),
        (E.FAILED, "fail", S.FAILED, S.FAILED),
        (E.STARTED, "stop", S.RUNNING, None),
        (E.CANCELLED, "stop", S.CANCELLED, S.CANCELLED),
        (E.CANCELLED, "pending", S.CANCELLED, S.CANCELLED),
        (E.STARTED, "fail parent", S.RUNNING, None),
        (E.FAILED, "fail parent", S.FAILED, S.FAILED),
        (E.BLOCKED, "child", S.BLOCKED, None),
    ]
