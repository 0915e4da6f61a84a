"""``from webapp import ...`` gives the engine's public API without loading Flask."""

from __future__ import annotations

import subprocess
import sys

ENGINE_NAMES = [
    "Task", "TaskType", "TaskStatus", "TaskResult", "TaskContext", "RetryPolicy",
    "TaskExecutor", "TaskGraph", "EventBus", "TaskEvent", "TaskEventType", "TaskCancelled",
    "TaskExecutionError", "TaskTimeoutError", "Store", "InMemoryStore", "SQLiteStore",
    "make_copilot_prompt_handler", "make_copilot_agent_handler",
]  # fmt: skip


def test_engine_names_import_from_the_top_level_package():
    import webapp
    from webapp.store.sqlite import SQLiteStore

    for name in ENGINE_NAMES:
        assert hasattr(webapp, name), name
        assert name in webapp.__all__
    assert webapp.SQLiteStore is SQLiteStore


def test_engine_import_does_not_load_flask():
    code = "import sys, webapp; webapp.Task.bash('true'); print('flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_seed_import_path_of_the_sqlite_store(tmp_path):
    import webapp
    from webapp.storage.sqlite import SQLiteStore

    assert SQLiteStore is webapp.SQLiteStore
    store = SQLiteStore(str(tmp_path / "seed.db"))
    task = webapp.Task.bash("echo hi", title="hi")
    webapp.TaskExecutor(store=store).execute(task)
    assert SQLiteStore(str(tmp_path / "seed.db")).tasks[task.id].status.value == "done"


def test_the_event_bus_carries_only_lifecycle_events_output_goes_to_activity():
    import webapp

    executor = webapp.TaskExecutor()
    seen, activity = [], []
    executor.activity.subscribe(activity.append)
    with executor.events.subscribed(seen.append):
        executor.execute(webapp.Task.bash("echo hello", title="Say hello"))
    E = webapp.TaskEventType
    assert [event.type for event in seen] == [E.STARTED, E.SUCCEEDED]
    assert [(e.type, e.output_chunk) for e in activity] == [(E.OUTPUT, "hello\n")]
