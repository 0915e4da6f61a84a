"""The OpenAPI document states exactly what the server accepts, because requests are checked
against the same schemas: a value the document refuses is a 400 naming it."""

from __future__ import annotations

import pytest


@pytest.fixture
def document(app, api_headers):
    response = app.test_client().get("/api/v1/openapi.json", headers=api_headers("viewer"))
    assert response.status_code == 200
    return response.json


def _param(document, path: str, method: str, name: str) -> dict:
    operation = document["paths"][f"/api/v1{path}"][method]
    return next(p["schema"] for p in operation["parameters"] if p["name"] == name)


def test_the_document_states_the_rules(document):
    tasks = "/projects/{project}/tasks"
    assert "pattern" in _param(document, tasks + "/{task}", "get", "task")
    assert "lost" in _param(document, tasks, "get", "status")["enum"]
    assert _param(document, tasks, "get", "offset")["maximum"] == 10**9
    since = _param(document, "/audit", "get", "since")
    assert {alt["format"] for alt in since["anyOf"]} == {"date", "date-time"}
    env = document["paths"]["/api/v1/projects"]["post"]["requestBody"]["content"]
    env = env["application/json"]["schema"]["properties"]["env"]
    assert env["propertyNames"]["pattern"] == "^[A-Za-z_][A-Za-z0-9_]*$"
    responses = document["paths"]["/api/v1/projects"]["post"]["responses"]
    assert {"400", "413", "503"} <= set(responses)
    assert "Retry-After" in responses["503"]["headers"]


@pytest.mark.parametrize(
    ("method", "url", "body", "named"),
    [
        ("POST", "/api/v1/projects/demo/tasks", {"payload": "x", "name": None}, "'name'"),
        ("POST", "/api/v1/projects/demo/tasks", {"payload": "   "}, "'payload'"),
        ("PATCH", "/api/v1/projects/demo", {"env": {"1BAD": "x"}}, "'env'"),
        ("PATCH", "/api/v1/projects/demo", {"shutdown_grace": None}, "'shutdown_grace'"),
        ("GET", "/api/v1/projects/demo/tasks?status=sleeping", None, "'status'"),
        ("GET", "/api/v1/projects/demo/tasks?offset=1000000001", None, "'offset'"),
        ("GET", "/api/v1/audit?since=2025-02-30", None, "'since'"),
        ("GET", "/api/v1/projects/demo/tasks/a1", None, "'task'"),
    ],
)
def test_what_the_document_refuses_is_a_400_naming_it(
    app, api_headers, demo_task, method, url, body, named
):
    response = app.test_client().open(url, method=method, json=body, headers=api_headers("admin"))
    assert response.status_code == 400, response.json
    assert named in response.json["detail"]
