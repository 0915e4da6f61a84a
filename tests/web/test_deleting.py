"""Deleting never waits on a task: a running one shows "deleting" at once and a worker
finishes it; a finished or queued one is archived during the request. Page, bulk and API."""

from __future__ import annotations

import pytest

from webapp import orchestration
from webapp.accounts import audit
from webapp.orchestration import recovery

GRACE = 1.0


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WORKER_HEARTBEAT_INTERVAL": 0.1}  # finishes deletes on its beats


@pytest.fixture
def sleeping(project, worker, wait_for):
    """A running ``sleep 600`` task of project demo (1 s grace), claimed by ``worker``."""
    orchestration.project_update("demo", shutdown_grace=GRACE, actor="test")
    task = orchestration.task_new("demo", name="sleeper", payload="sleep 600", actor="test")
    wait_for(
        lambda: orchestration.get_task_meta("demo", task.task_id).status == "running",
        step=worker.run_once,
    )
    wait_for(lambda: still_running(task))  # its process is up
    return task


def gone(task_id: str) -> bool:
    try:
        orchestration.get_task_meta("demo", task_id)
    except LookupError:
        return True
    return False


def still_running(task) -> bool:
    """The task's process is alive: whatever answered did not wait for it to stop."""
    run_id = orchestration.get_task_meta("demo", task.task_id).run_id
    return bool(recovery.run_processes([run_id]))


def test_deleting_a_running_task_answers_at_once_and_the_worker_finishes(
    admin_client, sleeping, worker, wait_for, accounts_db
):
    response = admin_client.post(f"/projects/demo/tasks/{sleeping.task_id}/delete")
    assert still_running(sleeping)  # the answer came without waiting for the process to stop
    assert response.status_code == 303
    assert response.location == f"/projects/demo/tasks/{sleeping.task_id}"
    page = admin_client.get(response.location).get_data(as_text=True)
    assert 'data-status="deleting"' in page and "is being deleted" in page
    assert "Delete…" not in page  # nothing more to ask for
    assert 'hx-get="/projects/demo/tasks/' in page  # still polling: it is not over
    entry = audit.query(accounts_db, limit=1).items[0]
    assert (entry.action, entry.detail) == (
        "task.delete",
        "deleting: stop requested, a worker archives it",
    )
    wait_for(lambda: gone(sleeping.task_id), step=worker.run_once, timeout=GRACE + 10)
    poll = admin_client.get(f"/projects/demo/tasks/{sleeping.task_id}/status?v=1")
    assert "no longer exists" in poll.get_data(as_text=True)
    archived = orchestration.list_archived_tasks("demo")
    assert [a.task_id for a in archived] == [sleeping.task_id]
    assert archived[0].status == "cancelled"


def test_deleting_a_queued_task_archives_it_during_the_request(admin_client, project):
    task = orchestration.task_new("demo", name="waiting", payload="true", actor="test")
    response = admin_client.post(f"/projects/demo/tasks/{task.task_id}/delete")
    assert response.status_code == 303 and "/projects/demo/archive/" in response.location
    assert gone(task.task_id)


def test_a_member_of_an_unfinished_workflow_cannot_be_deleted_409(admin_client, project):
    graph = orchestration.graph_new("demo", {"tasks": [{"key": "a", "payload": "true"}]})
    member = graph.members[0].task_id
    response = admin_client.post(f"/projects/demo/tasks/{member}/delete")
    assert response.status_code == 409
    assert "cancel the graph before deleting" in response.get_data(as_text=True)
    assert orchestration.get_task_meta("demo", member).status == "queued"


def test_bulk_delete_of_a_running_and_a_finished_task(
    admin_client, sleeping, worker, wait_for, run_to_end
):
    done = orchestration.task_new("demo", name="done", payload="true", actor="test")
    run_to_end("demo", done.task_id)
    form = {"action": "delete", "task": [sleeping.task_id, done.task_id], "confirm": "yes"}
    response = admin_client.post("/projects/demo/bulk", data=form, follow_redirects=True)
    assert still_running(sleeping)
    html = response.get_data(as_text=True)
    assert f"Deleted 1 task: {done.task_id}." in html
    assert f"Deleting 1 running task once stopped: {sleeping.task_id}." in html
    assert gone(done.task_id)
    assert orchestration.get_task_meta("demo", sleeping.task_id).status == "deleting"
    wait_for(lambda: gone(sleeping.task_id), step=worker.run_once, timeout=GRACE + 10)


def test_api_delete_of_a_running_task_is_202_deleting(
    client, api_headers, sleeping, worker, wait_for
):
    path = f"/api/v1/projects/demo/tasks/{sleeping.task_id}"
    response = client.delete(path, headers=api_headers("admin"))
    assert still_running(sleeping)
    assert response.status_code == 202
    assert response.json == {
        "task_id": sleeping.task_id,
        "status": "deleting",
        "warnings": [],
        "archive_id": None,
    }
    assert client.get(path, headers=api_headers("viewer")).json["status"] == "deleting"
    wait_for(lambda: gone(sleeping.task_id), step=worker.run_once, timeout=GRACE + 10)
    assert client.get(path, headers=api_headers("viewer")).status_code == 404


def test_api_delete_of_a_finished_task_is_200_deleted(client, api_headers, project, run_to_end):
    task = orchestration.task_new("demo", name="done", payload="true", actor="test")
    run_to_end("demo", task.task_id)
    response = client.delete(f"/api/v1/projects/demo/tasks/{task.task_id}",
                             headers=api_headers("admin"))  # fmt: skip
    assert response.status_code == 200
    assert response.json["status"] == "deleted" and response.json["archive_id"]


def test_renaming_a_task_that_is_being_deleted_is_a_conflict(admin_client, sleeping):
    orchestration.mark_task_deleting("demo", sleeping.task_id, actor="test")
    path = f"/projects/demo/tasks/{sleeping.task_id}/rename"
    response = admin_client.post(path, data={"name": "late"})
    assert response.status_code == 409 and "being deleted" in response.get_data(as_text=True)
    inline = admin_client.post(path, data={"name": "late"}, headers={"HX-Request": "true"})
    assert inline.status_code == 200 and "being deleted" in inline.get_data(as_text=True)
    assert orchestration.get_task_meta("demo", sleeping.task_id).name == "sleeper"
