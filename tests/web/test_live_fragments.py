"""What live pages poll says everything the page needs to stay honest (browser side:
tests/browser/test_live_pages.py)."""

from __future__ import annotations

from webapp import orchestration
from webapp.web.logview import ansi_stylesheet


def test_a_deleted_tasks_status_poll_says_gone_and_updates_the_counts(admin_client, project):
    kept = orchestration.task_new("demo", name="kept", payload="echo hi", actor="test")
    gone = orchestration.task_new("demo", name="gone", payload="echo hi", actor="test")
    orchestration.task_delete("demo", gone.task_id, actor="test")
    response = admin_client.get(f"/projects/demo/tasks/{gone.task_id}/status?v=1")
    assert response.headers["HX-Trigger"] == "task-gone"  # log.js stops on this event
    body = response.get_data(as_text=True)
    assert 'data-status="gone" data-terminal' in body and "hx-get" not in body
    assert 'id="task-counts" class="counts" hx-swap-oob="true"' in body
    assert "1 queued" in body and kept.task_id  # the deleted task is no longer counted


def test_the_log_poll_of_a_deleted_task_is_a_404(admin_client, project):
    task = orchestration.task_new("demo", name="gone", payload="echo hi", actor="test")
    orchestration.task_delete("demo", task.task_id, actor="test")
    response = admin_client.get(
        f"/projects/demo/tasks/{task.task_id}/log?offset=0", headers={"X-Log-Fragment": "1"}
    )
    assert response.status_code == 404


def test_a_stop_still_to_come_is_a_pending_flash(operator_client, project, worker, wait_for):
    task = orchestration.task_new("demo", name="job", payload="sleep 30", actor="test")
    wait_for(
        lambda: orchestration.get_task_meta("demo", task.task_id).status == "running",
        step=worker.run_once,
    )
    response = operator_client.post(f"/projects/demo/tasks/{task.task_id}/stop",
                                    follow_redirects=True)  # fmt: skip
    html = response.get_data(as_text=True)
    # app.js removes .flash-pending once the status poll shows the task ended.
    assert '<p class="flash flash-pending" role="status">Stop requested' in html


def test_ansi_colours_follow_the_chosen_theme():
    css = ansi_stylesheet()
    assert ":root.theme-dark .log .ansi31" in css  # dark when the reader chose dark
    assert ":root:not(.theme-light) .log .ansi31" in css  # and when the system is dark
