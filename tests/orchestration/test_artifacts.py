"""A task's files as orchestration serves them: each run's log (read, tail, search), its
workspace diff, and the same reads on the archived copy after a delete."""

from __future__ import annotations

import threading
import time

import pytest

from webapp import orchestration as orch
from webapp.limits import LOG_TAIL_MAX_LINES
from webapp.orchestration import artifacts
from webapp.orchestration.errors import InvalidTaskRequest, TaskNotFound
from webapp.worker import Worker

SCRIPT = "for i in 1 2 3; do echo line-$i; done; echo oops >&2"


@pytest.fixture
def worker(settings):
    w = Worker(settings, threads=1)
    yield w
    w.stop(10.0)


def run_to_end(worker: Worker, task_id: str, timeout: float = 30.0) -> None:
    """Step the worker until the run is over and its log has the worker's exit note."""
    deadline, pause = time.monotonic() + timeout, threading.Event()
    while not (
        orch.get_task_meta("demo", task_id).is_terminal
        and "[webapp]" in orch.read_task_log("demo", task_id).text
    ):
        assert time.monotonic() < deadline, "the run did not finish"
        worker.run_once()
        pause.wait(0.02)


def test_each_run_has_its_own_log_read_by_offset_tail_and_search(project, worker):
    task = orch.task_new("demo", payload=SCRIPT)
    run_to_end(worker, task.task_id)
    orch.task_retry("demo", task.task_id)
    run_to_end(worker, task.task_id)
    first, second = (orch.task_log_path("demo", task.task_id, run_no=n) for n in (1, 2))
    assert first.name == "task.log" and second.name == "run-2.log"
    assert first.is_file() and second.is_file()
    assert orch.task_log_path("demo", task.task_id) == second  # the current run by default
    whole = orch.read_task_log("demo", task.task_id, run_no=1)
    assert whole.text.startswith("line-1\nline-2\nline-3\n") and whole.eof
    assert ("stderr", "oops\n") in whole.segments
    same = orch.read_run_log("demo", task.task_id, 1)
    assert same.text == whole.text
    later = orch.read_task_log("demo", task.task_id, offset=len("line-1\n"))
    assert later.text.startswith("line-2\n")
    tail = orch.tail_task_log("demo", task.task_id, lines=1)
    assert tail.text.startswith("[webapp] exited with code 0")
    found = orch.search_task_log("demo", task.task_id, "LINE-2")
    assert [(m.line_number, m.text) for m in found] == [(2, "line-2")]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: orch.task_log_path("demo", t, run_no=2), "there is no run 2"),
        (lambda t: orch.tail_task_log("demo", t, lines=LOG_TAIL_MAX_LINES + 1), "lines must"),
        (lambda t: orch.read_task_log("demo", t, offset=-1), "offset must be 0 or more"),
        (lambda t: orch.search_task_log("demo", t, "  "), "Search text must not be empty"),
        (lambda t: orch.run_log_path("demo", t, 0), "run_no must be a run number"),
    ],
)
def test_bad_log_requests_say_what_is_wrong(project, call, message):
    task = orch.task_new("demo", payload="true")
    with pytest.raises(InvalidTaskRequest, match=message):
        call(task.task_id)


def test_a_task_without_output_reads_as_an_empty_log(project):
    task = orch.task_new("demo", payload="true")
    chunk = orch.read_task_log("demo", task.task_id)
    assert (chunk.text, chunk.size, chunk.eof) == ("", 0, True)
    with pytest.raises(TaskNotFound):
        orch.read_task_log("demo", "zzzzz")


def test_a_workspace_that_is_not_a_git_checkout_has_no_diff(project):
    task = orch.task_new("demo", payload="true")
    assert orch.get_workspace_git_diff("demo", task.task_id) is None


def test_archived_logs_read_like_live_ones(project, worker):
    task = orch.task_new("demo", payload=SCRIPT)
    run_to_end(worker, task.task_id)
    live = orch.read_task_log("demo", task.task_id).text
    orch.task_delete("demo", task.task_id)
    archived = orch.get_archived_task("demo", task.task_id[:3])
    assert orch.read_archived_log("demo", archived.archive_id).text == live
    assert orch.task_archive_logs("demo", archived.archive_id).name == "task.log"
    tail = artifacts.tail_archived_log("demo", archived.archive_id, lines=2)
    assert tail.text.startswith("oops\n")
    assert [a.task_id for a in orch.list_archived_tasks("demo")] == [task.task_id]
