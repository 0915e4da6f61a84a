"""The login gate, roles, CSRF and security headers, checked over EVERY route in the app.

The walks read ``app.url_map`` when they run, so routes that other rooms add later are held
to the same rules without touching this file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from webapp.web.security import PUBLIC_ENDPOINTS, UNSAFE_METHODS, default_role

REMOTE = {"REMOTE_ADDR": "203.0.113.7"}  # not loopback: /metrics must want a token too
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def routes(app, methods=METHODS):
    """(rule, method) for every route and method except HEAD and OPTIONS."""
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & set(methods)):
            yield rule, method


def url_for_rule(rule, values: dict) -> str:
    """The rule's URL with a plausible value for each argument."""
    arguments = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if type(converter).__name__ == "IntegerConverter":
            arguments[name] = values.get(name, 1)
        else:
            arguments[name] = values.get(name, "x")
    return rule.build(arguments)[1]


def effective_role(app, rule) -> str:
    view = app.view_functions[rule.endpoint]
    return getattr(view, "required_role", None) or default_role(rule.endpoint)


def snapshot(app) -> dict:
    """Every row of every table, and every file under the data folder but the database."""
    connection = sqlite3.connect(app.config["DATABASE"])
    try:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        rows = {
            table: connection.execute(f'SELECT * FROM "{table}"').fetchall() for table in tables
        }
    finally:
        connection.close()
    data = Path(app.config["DATA_DIR"])
    database = Path(app.config["DATABASE"]).name
    files = sorted(
        str(path.relative_to(data))
        for path in data.rglob("*")
        if path.is_file() and not path.name.startswith(database)
    )
    return {"rows": rows, "files": files}


@pytest.fixture
def values(demo_task, users, accounts_db) -> dict:
    """URL values that name real things, so a view that forgot its check would act on them."""
    from webapp.accounts import tokens

    token, _ = tokens.create_token(accounts_db, users["viewer"], "walk", actor="test")
    task_id = demo_task.task_id
    return {
        "project_id": "demo",
        "project": "demo",
        "task_id": task_id,
        "task": task_id,
        "archive_id": task_id,
        "archive": task_id,
        "username": "operator",
        "token_id": token.id,
        "filename": "app.css",
    }


def test_every_route_but_the_public_ones_needs_a_session_or_token(app, client, values):
    checked = 0
    for rule, method in routes(app):
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        url = url_for_rule(rule, values)
        response = client.open(url, method=method, environ_base=REMOTE)
        where = f"{method} {url} ({rule.endpoint})"
        if rule.rule.startswith("/api/") or rule.endpoint == "ops.metrics":
            assert response.status_code == 401, where
            assert response.is_json or rule.endpoint == "ops.metrics", where
        else:
            assert response.status_code == 302, where
            assert response.location.startswith("/login"), where
        checked += 1
    assert checked > 20


def test_public_routes_are_exactly_login_static_htmx_and_healthz(app, client):
    assert {"auth.login", "static", "htmx_js", "icons_svg", "ops.healthz"} == PUBLIC_ENDPOINTS
    with client.get("/static/icons.svg") as response:  # the login page's icons too
        assert response.status_code == 200 and b'<symbol id="stop"' in response.data
    assert client.get("/login").status_code == 200
    assert client.get("/healthz").get_data(as_text=True) == "ok\n"
    with client.get("/static/app.css") as response:
        assert response.status_code == 200


def test_htmx_requests_without_a_session_are_sent_to_login_by_header(app, client, values):
    response = client.get("/projects/demo", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


def test_a_page_route_does_not_accept_a_bearer_token(client, api_headers):
    response = client.get("/admin/users", headers=api_headers("admin"))
    assert response.status_code == 302


def test_the_api_does_not_accept_a_session(admin_client):
    response = admin_client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json["error"] == "Unauthorized"


def test_viewer_changes_nothing_anywhere(app, login_as, api_headers, values):
    viewer, token = login_as("viewer"), api_headers("viewer")
    assert viewer.get("/api/v1/me", headers=token).status_code == 200  # notes the token's use
    before = snapshot(app)
    checked = 0
    for rule, method in routes(app, UNSAFE_METHODS):
        if rule.endpoint == "auth.login" or effective_role(app, rule) == "viewer":
            continue
        url = url_for_rule(rule, values)
        headers = token if rule.rule.startswith("/api/") else {}
        response = viewer.open(url, method=method, headers=headers, json={})
        assert response.status_code == 403, f"{method} {url} ({rule.endpoint})"
        checked += 1
    assert checked >= 10
    assert snapshot(app) == before


def test_only_self_service_changes_are_open_to_viewers(app):
    open_to_viewers = {
        rule.endpoint
        for rule, _ in routes(app, UNSAFE_METHODS)
        if rule.endpoint != "auth.login" and effective_role(app, rule) == "viewer"
    }
    assert open_to_viewers == {
        "auth.logout",
        "account.change_password",
        "account.create_token",
        "account.revoke_token",
    }


def test_every_delete_needs_the_admin_role(app):
    deletes = [
        rule
        for rule, method in routes(app, UNSAFE_METHODS)
        if method == "DELETE" or "delete" in rule.endpoint
    ]
    assert len(deletes) >= 2
    for rule in deletes:
        assert effective_role(app, rule) == "admin", rule.endpoint


def test_operator_cannot_delete_or_administer(app, login_as, api_headers, values):
    operator, token = login_as("operator"), api_headers("operator")
    assert operator.get("/api/v1/me", headers=token).status_code == 200  # notes the token's use
    before = snapshot(app)
    checked = 0
    for rule, method in routes(app, UNSAFE_METHODS):
        if effective_role(app, rule) != "admin":
            continue
        url = url_for_rule(rule, values)
        headers = token if rule.rule.startswith("/api/") else {}
        response = operator.open(url, method=method, headers=headers, json={})
        assert response.status_code == 403, f"{method} {url} ({rule.endpoint})"
        checked += 1
    assert checked >= 8
    assert snapshot(app) == before


def test_every_form_action_without_a_csrf_token_is_refused(app, login_as, values):
    admin = login_as("admin")
    before = snapshot(app)
    checked = 0
    for rule, method in routes(app, UNSAFE_METHODS):
        if rule.rule.startswith("/api/"):
            continue  # bearer tokens, which a browser never sends by itself
        url = url_for_rule(rule, values)
        response = admin.open(url, method=method, data={"name": "x"}, csrf=False)
        where = f"{method} {url} ({rule.endpoint})"
        assert response.status_code == 400, where
        assert "CSRF token is missing" in response.get_data(as_text=True), where
        checked += 1
    assert checked >= 10
    assert snapshot(app) == before


def test_a_wrong_csrf_token_is_refused_with_its_reason(admin_client):
    response = admin_client.post(
        "/account/tokens", data={"name": "x"}, headers={"X-CSRFToken": "forged"}
    )
    assert response.status_code == 400
    assert "CSRF token is invalid" in response.get_data(as_text=True)


def test_a_csrf_token_in_the_form_is_accepted(admin_client, csrf_token):
    token = csrf_token(admin_client)
    response = admin_client.post(
        "/account/tokens", data={"name": "ci", "csrf_token": token}, csrf=False
    )
    assert response.status_code == 200


def test_security_headers_on_pages_and_api(app, admin_client, client, api_headers):
    for response in (
        admin_client.get("/admin/users"),
        client.get("/login"),
        client.get("/api/v1/me", headers=api_headers("viewer")),
    ):
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["Cache-Control"] == "no-store"


def test_pages_have_no_inline_script_and_htmx_keeps_its_styles_to_itself(admin_client):
    html = admin_client.get("/admin/users").get_data(as_text=True)
    assert "<script>" not in html and "onclick" not in html.lower()
    assert '<meta name="htmx-config" content=\'{"includeIndicatorStyles":false}\'>' in html
    assert '<meta name="csrf-token"' in html


def test_static_files_stay_cacheable(client):
    with client.get("/static/app.css") as response:
        assert response.headers.get("Cache-Control") != "no-store"


def test_unknown_urls_are_404_without_a_session(client):
    assert client.get("/no/such/page", environ_base=REMOTE).status_code == 404


def test_a_change_that_its_view_did_not_record_is_recorded_anyway(app, login_as, accounts_db):
    from webapp.accounts import audit

    app.add_url_rule("/probe/<name>", "probe", lambda name: ("", 204), methods=["POST"])
    operator = login_as("operator")
    assert operator.post("/probe/thing").status_code == 204
    entry = audit.query(accounts_db, limit=1).items[0]
    assert (entry.actor, entry.action, entry.target) == ("operator", "probe", "thing")
    assert entry.detail == "POST /probe/thing" and entry.address == "127.0.0.1"
