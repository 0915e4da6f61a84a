"""The JSON API: each endpoint, its roles, its errors, and the OpenAPI document."""

from __future__ import annotations

import time

import pytest

from webapp import orchestration
from webapp.accounts import audit

API = "/api/v1"


@pytest.fixture
def as_role(client, api_headers):
    """``as_role(role).get(...)``: requests carrying a token of that role's user."""

    class Caller:
        def __init__(self, headers):
            self.headers = headers

        def open(self, method: str, path: str, **kwargs):
            return client.open(API + path, method=method, headers=self.headers, **kwargs)

        def get(self, path, **kwargs):
            return self.open("GET", path, **kwargs)

        def post(self, path, **kwargs):
            return self.open("POST", path, **kwargs)

        def patch(self, path, **kwargs):
            return self.open("PATCH", path, **kwargs)

        def delete(self, path, **kwargs):
            return self.open("DELETE", path, **kwargs)

    return lambda role: Caller(api_headers(role))


@pytest.fixture
def operator(as_role):
    return as_role("operator")


@pytest.fixture
def admin(as_role):
    return as_role("admin")


@pytest.fixture
def viewer(as_role):
    return as_role("viewer")


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.json
    assert set(body) >= {"error", "detail"}, body
    return body["detail"]


def latest_audit(db) -> tuple[str, str, str]:
    entry = audit.query(db, limit=1).items[0]
    return entry.actor, entry.action, entry.target


# -- identity, errors, document ----------------------------------------------------------


def test_me_names_the_tokens_user(viewer):
    assert viewer.get("/me").json == {"username": "viewer", "role": "viewer"}


@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Bearer wat_nope", "Basic dmlld2VyOng=", "wat_x"]
)
def test_missing_or_bad_tokens_get_401_json(client, users, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    detail = error_of(client.get(f"{API}/me", headers=headers), 401)
    assert "Bearer" in detail


def test_unknown_api_paths_and_methods_answer_json(admin):
    assert error_of(admin.get("/nope"), 404)
    assert error_of(admin.open("PUT", "/projects"), 405)


def test_openapi_document_lists_exactly_the_api_routes(app, viewer):
    document = viewer.get("/openapi.json").json
    assert document["openapi"].startswith("3.")
    documented = {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    routed = {
        (rule.rule.replace("<", "{").replace(">", "}"), method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    routed = {(path.replace("{int:", "{"), method) for path, method in routed}
    assert documented == routed
    for operations in document["paths"].values():
        for operation in operations.values():
            assert "role" in operation["description"] and "401" in operation["responses"]


# -- projects ------------------------------------------------------------------------------


def test_projects_list_get_create_update(admin, viewer, accounts_db, bound):
    created = admin.post("/projects", json={"id": "web", "name": "Web site"})
    assert created.status_code == 201 and created.json["name"] == "Web site"
    assert latest_audit(accounts_db) == ("admin", "project.create", "web")
    assert [p["id"] for p in viewer.get("/projects").json] == ["web"]
    assert viewer.get("/projects/web").json["counts"]["queued"] == 0
    updated = admin.patch("/projects/web", json={"shutdown_grace": 3, "max_concurrent": 2})
    assert updated.json["shutdown_grace"] == 3 and updated.json["max_concurrent"] == 2
    assert latest_audit(accounts_db) == ("admin", "project.update", "web")


def test_project_errors(admin, operator, bound):
    assert admin.post("/projects", json={"id": "a"}).status_code == 201
    assert "already exists" in error_of(admin.post("/projects", json={"id": "a"}), 409)
    assert error_of(admin.post("/projects", json={"id": "Bad ID"}), 400)
    assert "'id' is required" in error_of(admin.post("/projects", json={"name": "x"}), 400)
    assert "unknown field" in error_of(admin.post("/projects", json={"id": "b", "x": 1}), 400)
    assert "must be a number" in error_of(
        admin.post("/projects", json={"id": "b", "shutdown_grace": "soon"}), 400
    )
    assert "JSON object" in error_of(admin.post("/projects", data="id=b"), 400)
    assert "JSON object" in error_of(admin.post("/projects", json=["b"]), 400)
    assert error_of(admin.get("/projects/ghost"), 404)
    assert "admin role" in error_of(operator.post("/projects", json={"id": "c"}), 403)


# -- tasks ---------------------------------------------------------------------------------


def test_create_task_queues_it_and_records_who(operator, demo_task, accounts_db):
    response = operator.post(
        "/projects/demo/tasks",
        json={"payload": "echo made", "name": "made", "description": "d", "timeout": 30},
    )
    assert response.status_code == 201
    task = response.json
    assert task["status"] == "queued" and task["created_by"] == "operator"
    assert task["name"] == "made" and task["timeout"] == 30 and task["can_stop"] is True
    assert latest_audit(accounts_db) == ("operator", "task.create", f"demo/{task['task_id']}")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "'payload' is required"),
        ({"payload": 5}, "must be a string"),
        ({"payload": "x", "type": "cobol"}, "cobol"),
        ({"payload": "x", "timeout": -1}, "timeout"),
        ({"payload": "x", "timeout": True}, "must be a number"),
        ({"payload": "x", "colour": "red"}, "unknown field"),
        ({"payload": "echo \x00"}, "NUL"),
        ({"payload": "echo \ud800"}, "surrogate"),
    ],
)
def test_bad_task_definitions_are_400_naming_the_field(operator, demo_task, body, message):
    assert message in error_of(operator.post("/projects/demo/tasks", json=body), 400)


def test_viewer_cannot_create_and_unknown_project_is_404(viewer, operator, demo_task):
    assert error_of(viewer.post("/projects/demo/tasks", json={"payload": "x"}), 403)
    assert error_of(operator.post("/projects/ghost/tasks", json={"payload": "x"}), 404)


def test_list_tasks_with_the_dashboards_filters(viewer, operator, demo_task):
    for n in range(3):
        operator.post("/projects/demo/tasks", json={"payload": f"echo {n}", "name": f"job-{n}"})
    page = viewer.get("/projects/demo/tasks?limit=2").json
    assert page["total"] == 4 and len(page["items"]) == 2 and page["has_next"] is True
    assert page["items"][0]["name"] == "job-2"  # newest first
    assert viewer.get("/projects/demo/tasks?search=job-1").json["total"] == 1
    assert viewer.get("/projects/demo/tasks?status=queued&type=bash").json["total"] == 4
    assert viewer.get("/projects/demo/tasks?status=failed").json["total"] == 0
    assert error_of(viewer.get("/projects/demo/tasks?status=sleeping"), 400)
    assert "whole number" in error_of(viewer.get("/projects/demo/tasks?limit=ten"), 400)
    assert error_of(viewer.get("/projects/demo/tasks?limit=0"), 400)
    assert error_of(viewer.get("/projects/demo/tasks?offset=-1"), 400)


def test_get_task_by_id_or_prefix(viewer, demo_task):
    task_id = demo_task.task_id
    assert viewer.get(f"/projects/demo/tasks/{task_id}").json["name"] == "first"
    assert viewer.get(f"/projects/demo/tasks/{task_id[:3]}").json["task_id"] == task_id
    other = ("h" if task_id[0] == "g" else "g") + "0000"
    assert error_of(viewer.get(f"/projects/demo/tasks/{other}"), 404)
    assert "Crockford" in error_of(viewer.get("/projects/demo/tasks/zzzzz"), 400)


def test_ambiguous_prefix_is_409_listing_the_matches(viewer, operator, demo_task):
    ids = [demo_task.task_id]
    while True:  # IDs are random: add tasks until two share a first character
        ids.append(operator.post("/projects/demo/tasks", json={"payload": "x"}).json["task_id"])
        shared = [i for i in ids if i[0] == ids[-1][0]]
        if len(shared) > 1:
            break
    response = viewer.get(f"/projects/demo/tasks/{ids[-1][0]}")
    error_of(response, 409)
    assert sorted(response.json["matches"]) == sorted(shared)


def test_rename_stop_retry_are_for_operators_and_recorded(operator, viewer, demo_task, accounts_db):
    path = f"/projects/demo/tasks/{demo_task.task_id}"
    assert error_of(viewer.patch(path, json={"name": "x"}), 403)
    renamed = operator.patch(path, json={"name": "Renamed Task"})
    assert renamed.status_code == 200
    entry = audit.query(accounts_db, limit=1).items[0]
    assert (entry.action, entry.detail) == ("task.rename", f"'first' -> {renamed.json['name']!r}")
    stopped = operator.post(f"{path}/stop")
    assert stopped.status_code == 202 and stopped.json["status"] == "cancelled"
    assert latest_audit(accounts_db)[1] == "task.stop"
    retried = operator.post(f"{path}/retry")
    assert retried.status_code == 202 and retried.json["run_no"] == 2
    assert retried.json["status"] == "queued"
    assert latest_audit(accounts_db)[1] == "task.retry"
    assert "only finished tasks" in error_of(operator.post(f"{path}/retry"), 409)
    assert error_of(operator.patch(path, json={"name": 7}), 400)
    assert error_of(operator.patch(path, json={}), 400)


def test_history_lists_every_change_with_its_actor(viewer, operator, demo_task):
    path = f"/projects/demo/tasks/{demo_task.task_id}"
    operator.post(f"{path}/stop")
    history = viewer.get(f"{path}/history").json
    assert [(h["actor"], h["to_status"]) for h in history][-1] == ("operator", "cancelled")


def test_delete_is_for_admins_archives_and_keeps_the_audit(
    operator, admin, viewer, demo_task, accounts_db
):
    path = f"/projects/demo/tasks/{demo_task.task_id}"
    assert error_of(operator.delete(path), 403)
    deleted = admin.delete(path)
    assert deleted.status_code == 200 and deleted.json["warnings"] == []
    assert "/" not in deleted.json["archive_id"]
    assert error_of(viewer.get(path), 404)
    archived = viewer.get("/projects/demo/archive").json
    assert [a["task_id"] for a in archived] == [demo_task.task_id]
    assert "archive_dir" not in archived[0]
    one = viewer.get(f"/projects/demo/archive/{archived[0]['archive_id']}").json
    assert one["name"] == "first"
    logs = viewer.get(f"/projects/demo/archive/{archived[0]['archive_id']}/logs").json
    assert logs["offset"] == 0 and "segments" in logs
    assert error_of(viewer.get("/projects/demo/archive/nothing-like-it"), 404)
    assert latest_audit(accounts_db) == ("admin", "task.delete", f"demo/{demo_task.task_id}")


# -- logs from a real run ------------------------------------------------------------------


@pytest.fixture
def worker(app):
    from webapp.worker import Worker

    runner = Worker(orchestration.settings_of(app), threads=1, name="test")
    yield runner
    runner.stop(5.0)


def run_to_the_end(worker, project: str, task_id: str, deadline_s: float = 15.0):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        worker.run_once()
        meta = orchestration.get_task_meta(project, task_id)
        if meta.is_terminal:
            return meta
        time.sleep(0.05)  # deadline loop: the task's subprocess is still running
    raise AssertionError(f"task {task_id} did not finish within {deadline_s} s")


def test_logs_by_offset_continue_where_they_stopped(operator, viewer, bound, worker):
    orchestration.project_create("logs", actor="test")
    task = operator.post(
        "/projects/logs/tasks", json={"payload": "echo first-line; echo second-line >&2"}
    ).json
    finished = run_to_the_end(worker, "logs", task["task_id"])
    assert finished.status == "completed"
    path = f"/projects/logs/tasks/{task['task_id']}/logs"
    whole = viewer.get(path).json
    assert "first-line" in whole["text"] and "second-line" in whole["text"]
    head = viewer.get(f"{path}?max_bytes=5").json
    rest = viewer.get(f"{path}?offset={head['next_offset']}").json
    assert head["text"] + rest["text"] == whole["text"]
    assert error_of(viewer.get(f"{path}?offset=-3"), 400)
    assert error_of(viewer.get(f"{path}?max_bytes=0"), 400)


# -- audit ---------------------------------------------------------------------------------


def test_audit_endpoint_filters_and_is_for_admins(admin, operator, demo_task):
    operator.post(f"/projects/demo/tasks/{demo_task.task_id}/stop")
    page = admin.get("/audit?user=operator&action=task.").json
    assert [(e["actor"], e["action"]) for e in page["items"]] == [("operator", "task.stop")]
    assert admin.get("/audit?limit=1").json["has_next"] is True
    assert "'since' must be a date" in error_of(admin.get("/audit?since=later"), 400)
    assert error_of(admin.get("/audit?limit=501"), 400)
    assert error_of(operator.get("/audit"), 403)
