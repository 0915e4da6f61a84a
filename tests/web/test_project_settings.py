"""Editing and deleting projects from the browser and the JSON API: admins only, audited."""

from __future__ import annotations

from webapp import orchestration
from webapp.accounts import audit


def latest(db) -> tuple[str, str, str, str]:
    entry = audit.query(db, limit=1).items[0]
    return entry.actor, entry.action, entry.target, entry.detail


def finished_task(name: str):
    task = orchestration.task_new("demo", name=name, payload="true", actor="test")
    return orchestration.task_stop("demo", task.task_id, actor="test")


def test_admin_edits_settings_in_the_browser_and_it_is_audited(admin_client, project, accounts_db):
    page = admin_client.get("/projects/demo/settings").get_data(as_text=True)
    assert 'value="Demo project"' in page and "Delete project" in page
    response = admin_client.post(
        "/projects/demo/settings",
        data={"name": "Renamed", "shutdown_grace": "4", "max_concurrent": "", "env": "A=1"},
    )
    assert response.status_code == 303
    project = orchestration.project_get("demo")
    assert (project.name, project.shutdown_grace, project.env) == ("Renamed", 4.0, {"A": "1"})
    actor, action, target, detail = latest(accounts_db)
    assert (actor, action, target) == ("admin", "project.update", "demo")
    assert detail == "changed name, shutdown_grace, env"


def test_invalid_settings_are_refused_naming_the_field(admin_client, project):
    response = admin_client.post(
        "/projects/demo/settings", data={"shutdown_grace": "-3", "env": "NOEQUALS"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Line 1: expected NAME=value" in html
    assert orchestration.project_get("demo").shutdown_grace == 10.0


def test_secret_env_values_stay_when_the_form_is_saved_unchanged(admin_client, project):
    orchestration.project_update("demo", env={"API_TOKEN": "s3cret"}, actor="test")
    page = admin_client.get("/projects/demo/settings").get_data(as_text=True)
    assert "s3cret" not in page
    form_env = f"API_TOKEN={orchestration.projects.MASK}"
    admin_client.post("/projects/demo/settings", data={"shutdown_grace": "10", "env": form_env})
    from webapp.orchestration.projects import project_row

    assert project_row("demo")["env"] == {"API_TOKEN": "s3cret"}


def test_only_admins_see_and_use_settings(operator_client, project):
    assert "/projects/demo/settings" not in operator_client.get("/projects/demo").get_data(
        as_text=True
    )
    assert operator_client.get("/projects/demo/settings").status_code == 403
    assert operator_client.post("/projects/demo/settings", data={"name": "x"}).status_code == 403
    assert operator_client.post("/projects/demo/delete").status_code == 403
    assert orchestration.project_get("demo").name == "Demo project"


def test_delete_confirmation_names_how_many_tasks_are_archived(admin_client, project, accounts_db):
    finished_task("one"), finished_task("two")
    page = admin_client.get("/projects/demo/delete").get_data(as_text=True)
    assert "archives <strong>2 tasks</strong>" in page
    response = admin_client.post("/projects/demo/delete")
    assert response.status_code == 303 and response.location.endswith("/projects")
    assert orchestration.project_list() == []
    assert len(orchestration.list_archived_tasks("demo")) == 2
    assert latest(accounts_db) == ("admin", "project.delete", "demo", "2 task(s) archived")
    assert "Project demo deleted; 2 task(s) archived" in admin_client.get("/projects").get_data(
        as_text=True
    )
    # Its archived tasks stay browsable under the old ID.
    archive = admin_client.get("/projects/demo/archive")
    assert archive.status_code == 200 and "demo (deleted)" in archive.get_data(as_text=True)
    assert admin_client.get("/projects/never/archive").status_code == 404


def test_delete_of_a_busy_project_is_refused_and_says_what_to_stop(admin_client, project):
    queued = orchestration.task_new("demo", name="waiting", payload="true", actor="test")
    page = admin_client.get("/projects/demo/delete").get_data(as_text=True)
    assert queued.task_id in page and "stop or cancel them first" in page
    assert "<button" not in page.split("confirm")[1]  # no delete button to press
    response = admin_client.post("/projects/demo/delete")
    assert response.status_code == 409
    assert orchestration.project_get("demo").total == 1


def test_api_edit_preview_and_delete(client, api_headers, project, accounts_db):
    admin = api_headers("admin")
    finished_task("one")
    changed = client.patch("/api/v1/projects/demo", json={"name": "API"}, headers=admin)
    assert changed.status_code == 200 and changed.json["name"] == "API"
    assert latest(accounts_db) == ("admin", "project.update", "demo", "changed name")
    plan = client.get("/api/v1/projects/demo/deletion", headers=admin).json
    assert (plan["tasks"], plan["active_tasks"], plan["blocked"]) == (1, [], None)
    deleted = client.delete("/api/v1/projects/demo", headers=admin)
    assert deleted.status_code == 200 and deleted.json["archived"] == 1
    assert latest(accounts_db) == ("admin", "project.delete", "demo", "1 task(s) archived")
    assert client.get("/api/v1/projects/demo", headers=admin).status_code == 404


def test_api_delete_needs_admin_and_an_idle_project(client, api_headers, project):
    operator = api_headers("operator")
    assert client.delete("/api/v1/projects/demo", headers=operator).status_code == 403
    queued = orchestration.task_new("demo", name="waiting", payload="true", actor="test")
    refused = client.delete("/api/v1/projects/demo", headers=api_headers("admin"))
    assert refused.status_code == 409 and queued.task_id in refused.json["detail"]
    assert orchestration.project_get("demo").total == 1
