"""The new-task form and a task's page: status, history, prefixes, errors, live status poll."""

from __future__ import annotations

import re

from webapp import orchestration


def new_task(name: str = "job", payload: str = "echo hi", **kwargs):
    return orchestration.task_new("demo", name=name, payload=payload, actor="operator", **kwargs)


def test_new_task_form_offers_a_generated_name_as_placeholder(operator_client, project):
    html = operator_client.get("/projects/demo/tasks/new").get_data(as_text=True)
    placeholder = re.search(r'<input[^>]*id="name"[^>]*placeholder="([a-z0-9_-]+)"', html)
    assert placeholder, html
    for kind in ("bash", "powershell", "prompt", "agent"):
        assert re.search(rf'<option[^>]* value="{kind}"', html)
    assert 'name="csrf_token"' in html


def test_new_task_runs_and_lands_on_its_page(operator_client, project):
    response = operator_client.post(
        "/projects/demo/tasks/new",
        data={"type": "bash", "payload": "echo made", "name": "My Task", "timeout": "30",
              "description": "why it exists"},
    )  # fmt: skip
    assert response.status_code == 303
    task_id = response.headers["Location"].rsplit("/", 1)[1]
    task = orchestration.get_task_meta("demo", task_id)
    assert (task.name, task.timeout, task.created_by) == ("my-task", 30.0, "operator")
    html = operator_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "my-task" in html and "echo made" in html and "why it exists" in html
    assert "queued" in html


def test_invalid_new_task_shows_messages_by_the_fields_and_keeps_input(operator_client, project):
    response = operator_client.post(
        "/projects/demo/tasks/new",
        data={"type": "bash", "payload": "", "name": "kept", "timeout": "-5",
              "description": "keep me"},
    )  # fmt: skip
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="payload".*?field-error" id="payload-error">Say what to run', html, re.S)
    assert re.search(r'id="timeout".*?field-error" id="timeout-error">', html, re.S)
    assert 'value="kept"' in html and "keep me" in html and 'value="-5"' in html
    assert orchestration.task_list("demo").total == 0


def test_a_name_orchestration_rejects_is_shown_by_the_name_field(operator_client, project):
    response = operator_client.post(
        "/projects/demo/tasks/new", data={"type": "bash", "payload": "true", "name": "-bad"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="name-error">Invalid task name', html)
    assert "true</textarea>" in html


def test_task_page_shows_status_history_command_and_who(operator_client, project, run_to_end):
    task = new_task(payload="echo out; echo problem >&2; exit 3", description="explains")
    run_to_end("demo", task.task_id)
    html = operator_client.get(f"/projects/demo/tasks/{task.task_id}").get_data(as_text=True)
    assert "failed" in html and 'icons.svg#failed"' in html
    assert re.search(r"Exit code</dt><dd[^>]*>3<", html)
    assert "echo out; echo problem &gt;&amp;2; exit 3" in html
    assert "explains" in html
    history = html[html.index('<table class="history">') :].split("</table>")[0]
    assert "operator" in history and "queued" in history and "failed" in history
    assert '<span class="stderr" data-stream="stderr">problem' in html
    assert "Retry" in html and "Stop</button>" not in html
    assert "hx-trigger" not in html[html.index('id="task-status"') :].split(">")[0]


def test_unique_prefix_redirects_to_the_full_id(operator_client, project):
    task = new_task()
    response = operator_client.get(f"/projects/demo/tasks/{task.task_id[:3]}?q=x")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/projects/demo/tasks/{task.task_id}?q=x")


def test_ambiguous_prefix_lists_the_matches(operator_client, project):
    ids = set()
    while True:  # IDs are random: add tasks until two share their first letter
        ids.add(new_task().task_id)
        heads = [i[0] for i in ids]
        shared = {h for h in heads if heads.count(h) > 1}
        if shared:
            break
    head = shared.pop()
    response = operator_client.get(f"/projects/demo/tasks/{head}")
    assert response.status_code == 300
    html = response.get_data(as_text=True)
    for task_id in sorted(i for i in ids if i.startswith(head)):
        assert f'href="/projects/demo/tasks/{task_id}"' in html


def test_unknown_and_malformed_task_ids_are_404s_naming_them(operator_client, project):
    new_task()
    response = operator_client.get("/projects/demo/tasks/z9zzz")
    assert response.status_code == 404 and "z9zzz" in response.get_data(as_text=True)
    response = operator_client.get("/projects/demo/tasks/%3Cscript%3E")
    assert response.status_code == 404
    assert "<script>" not in response.get_data(as_text=True)
    response = operator_client.get("/projects/ghost/tasks/k3v8h")
    assert response.status_code == 404 and "ghost" in response.get_data(as_text=True)


def status_poll_url(html: str) -> str:
    return re.search(r'hx-get="([^"]+/status\?v=\d+)"', html).group(1)


def test_status_poll_is_204_while_unchanged_and_stops_when_terminal(
    operator_client, project, run_to_end
):
    task = new_task(payload="echo done")
    page = operator_client.get(f"/projects/demo/tasks/{task.task_id}").get_data(as_text=True)
    poll = status_poll_url(page)
    assert operator_client.get(poll, headers={"HX-Request": "true"}).status_code == 204
    run_to_end("demo", task.task_id)
    response = operator_client.get(poll, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "task-changed"
    body = response.get_data(as_text=True)
    section = body[body.index('<section id="task-status"') :].split(">")[0]
    assert "hx-trigger" not in section and "hx-get" not in section
    assert "completed" in body
    assert 'id="task-counts" class="counts" hx-swap-oob="true"' in body and "1 completed" in body


def test_status_poll_of_a_deleted_task_ends_polling(admin_client, project):
    task = new_task()
    orchestration.task_delete("demo", task.task_id, actor="test")
    response = admin_client.get(f"/projects/demo/tasks/{task.task_id}/status?v=1")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "no longer exists" in body and "hx-trigger" not in body


def test_running_task_shows_live_duration_and_stops(operator_client, project, worker, wait_for):
    task = new_task(payload="sleep 30")
    wait_for(
        lambda: orchestration.get_task_meta("demo", task.task_id).status == "running",
        step=worker.run_once,
    )
    html = operator_client.get(f"/projects/demo/tasks/{task.task_id}").get_data(as_text=True)
    assert 'class="live-duration" data-since="' in html
    assert "Stop</button>" in html
    listing = operator_client.get("/projects/demo").get_data(as_text=True)
    assert "data-since=" in listing and 'icons.svg#running"' in listing
    response = operator_client.post(f"/projects/demo/tasks/{task.task_id}/stop")
    assert response.status_code == 303
    stopped = wait_for(
        lambda: (t := orchestration.get_task_meta("demo", task.task_id)).is_terminal and t,
        step=worker.run_once,
    )
    assert stopped.status == "cancelled" and stopped.stop_requested_by == "operator"


def test_query_arguments_named_like_route_arguments_are_harmless(operator_client, project):
    ids = set()
    while True:  # two tasks sharing a first letter make an ambiguous prefix
        ids.add(new_task().task_id)
        heads = [i[0] for i in ids]
        if len(set(heads)) < len(heads):
            break
    head = next(h for h in heads if heads.count(h) > 1)
    ambiguous = operator_client.get(f"/projects/demo/tasks/{head}?task_id=x&project_id=y")
    assert ambiguous.status_code == 300
    task_id = sorted(ids)[0]
    unique = operator_client.get(f"/projects/demo/tasks/{task_id[:4]}?task_id=x&project_id=y")
    assert unique.status_code in (300, 302)
