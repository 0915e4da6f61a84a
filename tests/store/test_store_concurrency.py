"""Several threads and several processes writing one store: no errors, no lost rows."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from webapp.store.sqlite import SQLiteStore

TASKS_PER_WRITER = 40

# Each writer runs its tasks through RUNNING and DONE, saving every transition, and reads the
# store in between, the way executor threads and pollers share one database.
WRITER = textwrap.dedent(
    """
    import sys, threading
    from datetime import datetime
    from webapp.engine import Task, TaskResult, TaskStatus
    from webapp.store.sqlite import SQLiteStore

    def write(store, label, count):
        for number in range(count):
            task = Task.bash("true", title=f"{label}-{number}")
            store.tasks.save(task)
            task.transition_to(TaskStatus.RUNNING)
            store.tasks.save(task)
            now = datetime.now()
            task.set_result(TaskResult(task.id, TaskStatus.DONE, now, now, 0.0, output=label))
            task.transition_to(TaskStatus.DONE)
            store.tasks.save(task)
            assert store.tasks[task.id].is_done
            len(store.tasks)
    """
)

PROCESS = WRITER + textwrap.dedent(
    """
    print("ready", flush=True)
    sys.stdin.readline()  # "go": both processes start together
    store = SQLiteStore(sys.argv[1])
    threads = [
        threading.Thread(target=write, args=(store, f"{sys.argv[2]}.{n}", int(sys.argv[3])))
        for n in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print("ok", flush=True)
    """
)


def _write(store, label, count, errors):
    namespace = {}
    exec(WRITER, namespace)
    try:
        namespace["write"](store, label, count)
    except BaseException as error:  # reported by the test, never swallowed
        errors.append(error)


@pytest.mark.parametrize("where", ["file", "memory"])
def test_four_threads_share_one_store_without_errors_or_lost_rows(tmp_path, where):
    store = SQLiteStore(tmp_path / "app.db" if where == "file" else ":memory:")
    errors = []
    threads = [
        threading.Thread(target=_write, args=(store, f"t{n}", TASKS_PER_WRITER, errors))
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    tasks = store.tasks.values()
    assert len(tasks) == 4 * TASKS_PER_WRITER
    assert all(task.is_done and task.result.output for task in tasks)


def _run_writers(path, count):
    """Start two writer processes, release them together, and check that both succeed."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS, path, f"p{n}", str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    for process in processes:
        assert process.stdout.readline().strip() == "ready", process.stderr.read()
    outputs = [process.communicate("go\n", timeout=60) for process in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
        assert out.strip() == "ok", err


def test_two_processes_with_two_threads_each_share_one_file(tmp_path):
    path = str(tmp_path / "app.db")
    SQLiteStore(path).close()
    _run_writers(path, TASKS_PER_WRITER)
    store = SQLiteStore(path)
    titles = {task.title for task in store.tasks.values() if task.is_done}
    expected = {
        f"p{p}.{t}-{n}" for p in range(2) for t in range(2) for n in range(TASKS_PER_WRITER)
    }
    assert titles == expected


def test_two_processes_creating_a_fresh_file_at_once_both_succeed(tmp_path):
    path = str(tmp_path / "fresh.db")
    _run_writers(path, 1)
    assert len(SQLiteStore(path).tasks) == 4
