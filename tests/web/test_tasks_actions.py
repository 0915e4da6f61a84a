"""Stop, retry, rename (inline and plain), delete to the archive, and bulk actions."""

from __future__ import annotations

import re

from webapp import orchestration

HTMX = {"HX-Request": "true"}


def new_task(name: str = "job", payload: str = "echo hi"):
    return orchestration.task_new("demo", name=name, payload=payload, actor="test")


def test_stop_a_queued_task_cancels_it_and_says_who(operator_client, project):
    task = new_task()
    response = operator_client.post(f"/projects/demo/tasks/{task.task_id}/stop")
    assert response.status_code == 303
    html = operator_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "cancelled" in html and "⏹" in html
    history = html[html.index('<table class="history">') :]
    assert "operator" in history


def test_stopping_a_finished_task_is_a_conflict_not_a_500(operator_client, project):
    task = new_task()
    orchestration.task_stop("demo", task.task_id, actor="test")
    response = operator_client.post(f"/projects/demo/tasks/{task.task_id}/stop")
    assert response.status_code in (400, 409)
    assert "only queued or running tasks can be stopped" in response.get_data(as_text=True)


def test_retry_queues_a_new_run_and_offers_each_runs_log(operator_client, project, run_to_end):
    task = new_task(payload="echo run-output")
    run_to_end("demo", task.task_id)
    response = operator_client.post(f"/projects/demo/tasks/{task.task_id}/retry")
    assert response.status_code == 303
    run_to_end("demo", task.task_id)
    html = operator_client.get(f"/projects/demo/tasks/{task.task_id}").get_data(as_text=True)
    assert "Run</dt><dd>2 of 2" in html
    assert f'href="/projects/demo/tasks/{task.task_id}?run=1#log"' in html
    first = operator_client.get(f"/projects/demo/tasks/{task.task_id}?run=1")
    assert "run-output" in first.get_data(as_text=True)
    assert operator_client.get(f"/projects/demo/tasks/{task.task_id}?run=7").status_code == 404


def test_inline_rename_returns_the_name_fragment(operator_client, project):
    task = new_task("before")
    form = operator_client.get(f"/projects/demo/tasks/{task.task_id}/rename", headers=HTMX)
    assert form.status_code == 200
    body = form.get_data(as_text=True)
    assert body.lstrip().startswith('<form id="task-name"') and 'value="before"' in body
    response = operator_client.post(
        f"/projects/demo/tasks/{task.task_id}/rename", data={"name": "After Rename"}, headers=HTMX
    )
    assert response.status_code == 200
    assert "<h1>after-rename</h1>" in response.get_data(as_text=True)
    assert orchestration.get_task_meta("demo", task.task_id).name == "after-rename"
    listing = operator_client.get("/projects/demo").get_data(as_text=True)
    assert "after-rename" in listing


def test_inline_rename_with_a_bad_name_keeps_the_form_with_the_message(operator_client, project):
    task = new_task("before")
    response = operator_client.post(
        f"/projects/demo/tasks/{task.task_id}/rename", data={"name": "!!!"}, headers=HTMX
    )
    assert response.status_code == 200  # htmx swaps only 2xx: the form comes back in place
    body = response.get_data(as_text=True)
    assert 'id="rename-error"' in body and "Invalid task name" in body and 'value="!!!"' in body
    assert orchestration.get_task_meta("demo", task.task_id).name == "before"


def test_rename_without_javascript_is_a_form_page_and_a_redirect(operator_client, project):
    task = new_task("before")
    page = operator_client.get(f"/projects/demo/tasks/{task.task_id}/rename")
    assert "<!doctype html>" in page.get_data(as_text=True)
    response = operator_client.post(
        f"/projects/demo/tasks/{task.task_id}/rename", data={"name": "plain"}
    )
    assert response.status_code == 303
    bad = operator_client.post(f"/projects/demo/tasks/{task.task_id}/rename", data={"name": ""})
    assert bad.status_code == 422


def test_delete_asks_first_then_shows_the_archived_copy(admin_client, project, run_to_end):
    task = new_task("doomed", "for i in 1 2 3; do echo line $i; done")
    run_to_end("demo", task.task_id)
    confirm = admin_client.get(f"/projects/demo/tasks/{task.task_id}/delete")
    assert f"Delete task {task.task_id}" in confirm.get_data(as_text=True)
    response = admin_client.post(f"/projects/demo/tasks/{task.task_id}/delete")
    assert response.status_code == 303
    assert "/projects/demo/archive/" in response.headers["Location"]
    archived = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "line 1\nline 2\nline 3" in archived and "doomed" in archived
    listing = admin_client.get("/projects/demo").get_data(as_text=True)
    assert f'id="task-{task.task_id}"' not in listing


def test_operators_cannot_delete(operator_client, project):
    task = new_task()
    html = operator_client.get(f"/projects/demo/tasks/{task.task_id}").get_data(as_text=True)
    assert "Delete…" not in html
    assert operator_client.post(f"/projects/demo/tasks/{task.task_id}/delete").status_code == 403
    response = operator_client.post(
        "/projects/demo/bulk", data={"action": "delete", "task": [task.task_id], "confirm": "yes"}
    )
    assert response.status_code == 403
    assert orchestration.task_list("demo").total == 1


def test_bulk_delete_confirms_how_many_and_which_then_deletes(admin_client, project):
    tasks = [new_task(f"bulk{n}") for n in range(4)]
    chosen = [t.task_id for t in tasks[:3]]
    confirm = admin_client.post(
        "/projects/demo/bulk",
        data={"action": "delete", "task": chosen, "next": "/projects/demo?type=bash"},
    )
    assert confirm.status_code == 200
    html = confirm.get_data(as_text=True)
    assert "Delete 3 tasks?" in html
    for task_id in chosen:
        assert task_id in html
    assert tasks[3].task_id not in html
    done = admin_client.post(
        "/projects/demo/bulk",
        data={"action": "delete", "task": chosen, "confirm": "yes",
              "next": "/projects/demo?type=bash"},
    )  # fmt: skip
    assert done.status_code == 303 and done.headers["Location"] == "/projects/demo?type=bash"
    left = [t.task_id for t in orchestration.task_list("demo").items]
    assert left == [tasks[3].task_id]
    page = admin_client.get("/projects/demo").get_data(as_text=True)
    assert re.search(r"Deleted 3 tasks: " + ", ".join(chosen), page)


def test_bulk_stop_and_retry(operator_client, project):
    tasks = [new_task(f"b{n}") for n in range(2)]
    ids = [t.task_id for t in tasks]
    confirm = operator_client.post("/projects/demo/bulk", data={"action": "stop", "task": ids})
    assert "Stop 2 tasks?" in confirm.get_data(as_text=True)
    operator_client.post(
        "/projects/demo/bulk", data={"action": "stop", "task": ids, "confirm": "yes"}
    )
    assert {orchestration.get_task_meta("demo", i).status for i in ids} == {"cancelled"}
    response = operator_client.post("/projects/demo/bulk", data={"action": "retry", "task": ids})
    assert response.status_code == 303
    assert {orchestration.get_task_meta("demo", i).status for i in ids} == {"queued"}


def test_bulk_refuses_unknown_actions_empty_selections_and_foreign_redirects(
    operator_client, project
):
    task = new_task()
    bad = operator_client.post(
        "/projects/demo/bulk", data={"action": "explode", "task": [task.task_id]}
    )
    assert bad.status_code == 400 and "explode" in bad.get_data(as_text=True)
    empty = operator_client.post("/projects/demo/bulk", data={"action": "retry"})
    assert empty.status_code == 303
    offsite = operator_client.post(
        "/projects/demo/bulk",
        data={"action": "retry", "task": [task.task_id], "next": "https://evil.example/"},
    )
    assert offsite.headers["Location"] == "/projects/demo"


def test_rename_accepts_an_id_prefix_like_every_other_action(operator_client, project):
    task = new_task(name="before")
    prefix = task.task_id[:5]
    form = operator_client.get(f"/projects/demo/tasks/{prefix}/rename")
    assert form.status_code == 200 and 'value="before"' in form.get_data(as_text=True)
    response = operator_client.post(f"/projects/demo/tasks/{prefix}/rename", data={"name": "after"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/projects/demo/tasks/{task.task_id}")
    assert orchestration.get_task_meta("demo", task.task_id).name == "after"
