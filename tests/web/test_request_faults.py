"""Bad bodies and database faults in-process: 413 naming the limit, 400 for JSON that cannot
be parsed, 405 with Allow, and 503 with Retry-After while another connection holds the
database's write lock (the real-server versions are in test_faults_server.py)."""

from __future__ import annotations

import json

import pytest

from webapp.store.db import open_database


@pytest.fixture
def app_config(app_config):
    return {**app_config, "MAX_CONTENT_LENGTH": 64 * 1024, "DATABASE_BUSY_TIMEOUT": 0.2}


def test_a_body_over_the_limit_is_413_naming_the_limit(app, api_headers, demo_task):
    big = b"x" * (65 * 1024)
    response = app.test_client().post(
        "/api/v1/projects/demo/tasks",
        data=big,
        headers={**api_headers("operator"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json["error"] == "Request body too large"
    assert "64 KiB" in response.json["detail"]
    assert "MAX_CONTENT_LENGTH" in response.json["detail"]


def test_a_form_over_the_limit_is_413_page(operator_client, demo_task):
    response = operator_client.post(
        "/projects/demo/tasks/new",
        data={"payload": "x" * (65 * 1024)},
        headers={"Accept": "text/html"},
    )
    assert response.status_code == 413
    assert "64 KiB" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "body",
    ["[" * 20_000 + "]" * 20_000, '{"payload": ' * 5000 + '"x"' + "}" * 5000, '{"payload": '],
    ids=["nested lists", "nested objects", "truncated"],
)
def test_json_that_cannot_be_parsed_is_400(app, api_headers, demo_task, body):
    for url in ("/api/v1/projects/demo/tasks", "/api/v1/projects"):
        response = app.test_client().post(
            url, data=body, headers={**api_headers("admin"), "Content-Type": "application/json"}
        )
        assert response.status_code == 400, response.get_data(as_text=True)
        assert response.json["error"] == "Bad Request"


def test_every_405_carries_allow(app, api_headers, operator_client, demo_task):
    response = app.test_client().put("/api/v1/projects/demo/tasks", headers=api_headers("admin"))
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    page = operator_client.put("/projects/demo")
    assert page.status_code == 405 and "Allow" in page.headers


def test_a_write_lock_held_too_long_is_503_with_retry_after(
    app, api_headers, operator_client, demo_task
):
    headers = api_headers("operator")
    holder = open_database(app.config["DATABASE"])
    holder.conn.execute("BEGIN IMMEDIATE")
    try:
        response = app.test_client().post(
            "/api/v1/projects/demo/tasks", json={"payload": "true"}, headers=headers
        )
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert response.json["error"] == "Database unavailable"
        assert "locked" in response.json["detail"]
        page = operator_client.post(
            "/projects/demo/tasks/new", data={"payload": "true"}, headers={"Accept": "text/html"}
        )
        assert page.status_code == 503 and page.headers["Retry-After"] == "5"
        assert "locked" in page.get_data(as_text=True)
    finally:
        holder.conn.execute("ROLLBACK")
        holder.close()
    response = app.test_client().post(
        "/api/v1/projects/demo/tasks", json={"payload": "true"}, headers=headers
    )
    assert response.status_code == 201, json.dumps(response.json)
