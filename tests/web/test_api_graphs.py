"""The JSON API's workflow endpoints: create, list, get, run, cancel, retry and their errors."""

from __future__ import annotations

import pytest

from webapp import orchestration
from webapp.accounts import audit

API = "/api/v1/projects/demo/graphs"
CHAIN = {
    "title": "release",
    "tasks": [
        {"key": "prepare", "payload": "echo ready"},
        {"key": "build", "payload": "exit 3", "after": ["prepare"]},
        {"key": "deploy", "payload": "echo never", "after": ["build"]},
        {"key": "cleanup", "payload": "echo tidy", "after": ["deploy"], "finally": True},
    ],
}


@pytest.fixture
def call(client, api_headers):
    """``call(role, method, path, **kwargs)`` with a token of that role's user."""
    tokens: dict[str, dict] = {}

    def request(role: str, method: str, path: str = "", **kwargs):
        headers = tokens.setdefault(role, api_headers(role))
        return client.open(API + path, method=method, headers=headers, **kwargs)

    return request


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    assert set(response.json) >= {"error", "detail"}
    return response.json["detail"]


def latest(accounts_db) -> tuple[str, str, str]:
    entry = audit.query(accounts_db, limit=1).items[0]
    return entry.actor, entry.action, entry.target


def test_create_queues_the_workflow_and_returns_its_members(call, project, accounts_db):
    response = call("operator", "POST", json=CHAIN)
    assert response.status_code == 201
    graph = response.json
    assert graph["title"] == "release" and graph["status"] == "queued"
    assert graph["is_terminal"] is False and graph["counts"] == {"queued": 4}
    names = {m["name"]: m["task_id"] for m in graph["members"]}
    assert list(names) == ["prepare", "build", "deploy", "cleanup"]
    assert graph["order"] == list(names.values())
    assert graph["dependencies"][names["deploy"]] == [names["build"]]
    assert graph["finally_tasks"] == [names["cleanup"]] and graph["blocked_by"] == {}
    assert all(m["graph_id"] == graph["graph_id"] for m in graph["members"])
    assert latest(accounts_db) == ("operator", "graph.create", f"demo/{graph['graph_id']}")


def test_a_bad_definition_is_400_or_422_listing_each_problem(call, project):
    """400: the body does not fit the published schema; 422: it fits, but its tasks do not
    fit together (unknown dependencies, cycles, duplicate keys)."""
    body = {"tasks": [{"key": "a", "payload": "x", "after": ["b"], "type": "zsh"}]}
    assert "unknown type 'zsh'" in error_of(call("operator", "POST", json=body), 400)
    body = {"tasks": [{"key": "a", "payload": "x", "after": ["b", "c"]}]}
    response = call("operator", "POST", json=body)
    detail = error_of(response, 422)
    assert 'unknown dependency "b"' in detail and 'unknown dependency "c"' in detail
    problem = {
        "where": 'tasks[0] "a" → after',
        "message": 'unknown dependency "b" (known keys: none)',
    }
    assert problem in response.json["problems"]
    cycle = [{"key": "a", "payload": "x", "after": ["b"]}, {"key": "b", "payload": "y",
                                                             "after": ["a"]}]  # fmt: skip
    assert "cycle" in error_of(call("operator", "POST", json={"tasks": cycle}), 422)
    assert "unknown field(s) 'owner'" in error_of(
        call("operator", "POST", json={"tasks": [], "owner": "me"}), 400
    )
    assert "JSON object" in error_of(call("operator", "POST", data="[1]"), 400)
    assert orchestration.graph_list("demo") == []


def test_viewers_read_but_cannot_create_run_cancel_or_retry(call, project):
    graph_id = call("operator", "POST", json=CHAIN).json["graph_id"]
    assert call("viewer", "GET").json[0]["graph_id"] == graph_id
    assert call("viewer", "GET", f"/{graph_id}").status_code == 200
    error_of(call("viewer", "POST", json=CHAIN), 403)
    for verb in ("run", "cancel", "retry"):
        error_of(call("viewer", "POST", f"/{graph_id}/{verb}"), 403)
    assert orchestration.graph_get("demo", graph_id).status == "queued"


def test_list_is_newest_first_without_members_and_takes_a_limit(call, project):
    first = call("operator", "POST", json={**CHAIN, "title": "one"}).json["graph_id"]
    second = call("operator", "POST", json={**CHAIN, "title": "two"}).json["graph_id"]
    listed = call("viewer", "GET").json
    assert [g["graph_id"] for g in listed] == [second, first]
    assert "members" not in listed[0] and listed[0]["status"] == "queued"
    assert [g["title"] for g in call("viewer", "GET", query_string={"limit": 1}).json] == ["two"]
    assert "limit" in error_of(call("viewer", "GET", query_string={"limit": 0}), 400)


def test_unknown_project_or_workflow_is_404(client, api_headers, call, project):
    assert "nope" in error_of(call("viewer", "GET", "/nope"), 404)
    for verb in ("run", "cancel", "retry"):
        assert "nope" in error_of(call("operator", "POST", f"/nope/{verb}"), 404)
    response = client.get("/api/v1/projects/ghost/graphs", headers=api_headers("viewer"))
    assert "ghost" in error_of(response, 404)
    response = client.post("/api/v1/projects/ghost/graphs", json=CHAIN,
                           headers=api_headers("operator"))  # fmt: skip
    assert "ghost" in error_of(response, 404)


def test_cancel_then_cancel_again_or_retry_is_409(call, project, accounts_db):
    graph_id = call("operator", "POST", json=CHAIN).json["graph_id"]
    cancelled = call("operator", "POST", f"/{graph_id}/cancel")
    assert cancelled.status_code == 202 and cancelled.json["status"] == "cancelled"
    assert set(cancelled.json["counts"]) == {"cancelled"}
    assert latest(accounts_db) == ("operator", "graph.cancel", f"demo/{graph_id}")
    assert "already cancelled" in error_of(call("operator", "POST", f"/{graph_id}/cancel"), 409)
    assert "only failed" in error_of(call("operator", "POST", f"/{graph_id}/retry"), 409)
    assert "only failed" in error_of(call("operator", "POST", f"/{graph_id}/run"), 409)


def test_run_leaves_a_queued_workflow_and_reruns_a_failed_one(
    call, project, worker, wait_for, accounts_db
):
    graph_id = call("operator", "POST", json=CHAIN).json["graph_id"]
    queued = call("operator", "POST", f"/{graph_id}/run")
    assert queued.status_code == 202 and queued.json["status"] == "queued"
    entry = audit.query(accounts_db, limit=1).items[0]
    assert (entry.action, entry.detail) == ("graph.run", "already queued; nothing to do")
    wait_for(lambda: orchestration.graph_get("demo", graph_id).is_terminal, step=worker.run_once)
    failed = call("viewer", "GET", f"/{graph_id}").json
    names = {m["name"]: m["task_id"] for m in failed["members"]}
    assert failed["status"] == "failed" and failed["is_terminal"] is True
    assert failed["counts"] == {"completed": 2, "failed": 1, "blocked": 1}
    assert failed["blocked_by"] == {names["deploy"]: [names["build"]]}
    rerun = call("operator", "POST", f"/{graph_id}/run")
    assert rerun.status_code == 202 and rerun.json["status"] == "queued"
    assert latest(accounts_db) == ("operator", "graph.run", f"demo/{graph_id}")
    wait_for(lambda: orchestration.graph_get("demo", graph_id).is_terminal, step=worker.run_once)
    retried = call("operator", "POST", f"/{graph_id}/retry")
    assert retried.status_code == 202 and retried.json["status"] == "queued"
    assert latest(accounts_db) == ("operator", "graph.retry", f"demo/{graph_id}")


def test_member_tasks_refuse_task_verbs_with_409(client, api_headers, call, project):
    member = call("operator", "POST", json=CHAIN).json["members"][0]["task_id"]
    headers = api_headers("admin")
    base = f"/api/v1/projects/demo/tasks/{member}"
    assert "graph" in error_of(client.post(f"{base}/stop", headers=headers), 409)
    assert "graph" in error_of(client.delete(base, headers=headers), 409)
