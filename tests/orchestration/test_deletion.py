"""Deleting: archive first, then remove; a running task is stopped; an interrupted delete
is finished later; members of an unfinished graph are refused."""

from __future__ import annotations

import threading
import time

import pytest

from webapp import orchestration as orch
from webapp.orchestration import deletion, recovery
from webapp.orchestration.errors import TaskNotFound, TaskStateConflict
from webapp.worker import Worker


def until_terminal(worker: Worker, task, timeout: float = 30.0) -> None:
    """Step the worker until the task is over (a deadline loop: a real process runs)."""
    deadline, pause = time.monotonic() + timeout, threading.Event()
    while not orch.get_task_meta("demo", task.task_id).is_terminal:
        assert time.monotonic() < deadline, "the task did not finish"
        worker.run_once()
        pause.wait(0.02)


def test_deleting_a_finished_task_archives_its_log_and_removes_it(project, settings):
    task = orch.task_new("demo", name="short", payload="echo kept-in-the-archive")
    worker = Worker(settings, threads=1)
    try:
        until_terminal(worker, task)
    finally:
        worker.stop(10.0)
    result = orch.task_delete("demo", task.task_id, actor="alice")
    assert result.warnings == [] and result.archive_dir is not None
    with pytest.raises(TaskNotFound):
        orch.get_task_meta("demo", task.task_id)
    archived = orch.get_archived_task("demo", task.task_id)
    assert archived.status == "completed" and archived.name == "short"
    assert "kept-in-the-archive" in orch.read_archived_log("demo", archived.archive_id).text
    assert not (settings.tasks_root / "demo" / task.task_id).exists()


def test_a_queued_task_is_archived_as_it_was_and_never_runs(project, settings):
    task = orch.task_new("demo", payload="true")
    orch.task_delete("demo", task.task_id)
    assert orch.get_archived_task("demo", task.task_id).status == "queued"
    assert orch.task_list("demo").total == 0
    worker = Worker(settings, threads=1)
    try:
        assert worker.run_once() == 0  # nothing left to claim
    finally:
        worker.stop(10.0)


def test_a_member_of_an_unfinished_graph_cannot_be_deleted(project):
    graph = orch.graph_new("demo", {"tasks": [{"key": "a", "payload": "true"}]})
    member = graph.members[0].task_id
    with pytest.raises(TaskStateConflict, match="cancel the graph before deleting"):
        orch.task_delete("demo", member)
    assert orch.get_task_meta("demo", member).status == "queued"


def test_a_delete_left_to_a_worker_is_finished_by_resume(project):
    task = orch.task_new("demo", payload="true")
    orch.mark_task_deleting("demo", task.task_id, actor="alice")  # no owner: a worker's job
    assert orch.get_task_meta("demo", task.task_id).status == "deleting"
    finished = deletion.resume_interrupted_deletes()
    assert [r.task_id for r in finished] == [task.task_id]
    with pytest.raises(TaskNotFound):
        orch.get_task_meta("demo", task.task_id)


def test_a_delete_owned_by_a_live_process_is_not_taken_over(project):
    task = orch.task_new("demo", payload="true")
    orch.mark_task_deleting("demo", task.task_id, owner=recovery.process_token())
    assert deletion.resume_interrupted_deletes() == []
    assert orch.get_task_meta("demo", task.task_id).status == "deleting"
