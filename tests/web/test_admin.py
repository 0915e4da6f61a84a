"""Admin pages (users, tokens, audit log) and each user's own account page."""

from __future__ import annotations

import re

import pytest

from webapp.accounts import audit, tokens


def text(response) -> str:
    return response.get_data(as_text=True)


def audit_rows(html: str) -> list[tuple[str, str, str]]:
    """(actor, action, target) of each row of the audit table, top to bottom."""
    rows = re.findall(
        r'<tr data-audit-id="\d+" data-actor="(.*?)" data-action="(.*?)" data-target="(.*?)">',
        html,
    )
    return [tuple(row) for row in rows]


def test_admin_creates_a_user_with_a_generated_password_shown_once(admin_client, client):
    response = admin_client.post("/admin/users", data={"username": "Carol", "role": "operator"})
    assert response.status_code == 200
    password = re.search(r"<pre class=\"log\" data-password>(.+?)</pre>", text(response))[1]
    assert "data-password" not in text(admin_client.get("/admin/users"))
    signed_in = client.post("/login", data={"username": "carol", "password": password})
    assert signed_in.status_code == 302
    assert client.get("/account/").status_code == 200


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"username": "bad name", "role": "viewer"}, "username must be"),
        ({"username": "viewer", "role": "viewer"}, "already exists"),
        ({"username": "dave", "role": "root"}, "role must be one of"),
        ({"username": "dave", "role": "viewer", "password": "short"}, "at least 8"),
    ],
)
def test_bad_user_input_is_a_400_naming_the_problem(admin_client, form, message):
    response = admin_client.post("/admin/users", data=form)
    assert response.status_code == 400 and message in text(response)


def test_admin_changes_roles_and_the_change_applies_at_once(admin_client, login_as):
    viewer = login_as("viewer")
    assert viewer.get("/admin/users").status_code == 403
    assert admin_client.post("/admin/users/viewer/role", data={"role": "admin"}).status_code == 302
    assert viewer.get("/admin/users").status_code == 200
    assert "viewer is now admin." in text(admin_client.get("/admin/users"))


def test_the_last_admin_cannot_demote_or_disable_itself(admin_client):
    response = admin_client.post("/admin/users/admin/role", data={"role": "viewer"})
    assert response.status_code == 400 and "last enabled admin" in text(response)
    assert admin_client.post("/admin/users/admin/disable").status_code == 400
    assert admin_client.get("/admin/users").status_code == 200


def test_reset_password_shows_the_new_one_once_and_ends_sessions(admin_client, login_as, client):
    operator = login_as("operator")
    response = admin_client.post("/admin/users/operator/password")
    password = re.search(r"data-password>(.+?)</pre>", text(response))[1]
    assert operator.get("/account/").status_code == 302
    assert (
        client.post("/login", data={"username": "operator", "password": password}).status_code
        == 302
    )


def test_disable_and_enable(admin_client, client):
    assert admin_client.post("/admin/users/viewer/disable").status_code == 302
    assert (
        client.post(
            "/login", data={"username": "viewer", "password": "viewer-password-1"}
        ).status_code
        == 401
    )
    assert admin_client.post("/admin/users/viewer/enable").status_code == 302
    assert (
        client.post(
            "/login", data={"username": "viewer", "password": "viewer-password-1"}
        ).status_code
        == 302
    )


def test_unknown_user_is_a_404(admin_client):
    response = admin_client.post("/admin/users/ghost/role", data={"role": "viewer"})
    assert response.status_code == 404 and "ghost" in text(response)


def test_any_user_creates_a_token_shown_once_and_revokes_it(viewer_client, client):
    created = viewer_client.post("/account/tokens", data={"name": "laptop"})
    secret = re.search(r"data-token-secret>(.+?)</pre>", text(created))[1]
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=headers).json["username"] == "viewer"
    page = text(viewer_client.get("/account/"))
    assert secret not in page and "laptop" in page and secret[:10] in page
    token_id = re.search(r'id="token-(\d+)"', page)[1]
    assert viewer_client.post(f"/account/tokens/{token_id}/revoke").status_code == 302
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert "revoked" in text(viewer_client.get("/account/"))


def test_users_cannot_revoke_someone_elses_token(viewer_client, users, accounts_db, client):
    token, secret = tokens.create_token(accounts_db, users["operator"], "ci", actor="operator")
    assert viewer_client.post(f"/account/tokens/{token.id}/revoke").status_code == 404
    assert viewer_client.post("/account/tokens/99999999999999999999999/revoke").status_code == 404
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    )


def test_admins_see_and_revoke_everyones_tokens(admin_client, users, accounts_db, client):
    token, secret = tokens.create_token(accounts_db, users["operator"], "ci", actor="operator")
    page = text(admin_client.get("/admin/tokens"))
    assert "ci" in page and "operator" in page and secret not in page
    assert admin_client.post(f"/admin/tokens/{token.id}/revoke").status_code == 302
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    )


def test_empty_token_name_is_refused(viewer_client):
    response = viewer_client.post("/account/tokens", data={"name": "  "})
    assert response.status_code == 400 and "token name" in text(response)


def test_audit_page_shows_a_scripted_session_in_order_with_its_users(
    login_as, api_headers, demo_task, accounts_db
):
    operator = login_as("operator")
    operator_token = api_headers("operator")
    created = operator.post(
        "/api/v1/projects/demo/tasks",
        json={"payload": "echo hi", "name": "greet"},
        headers=operator_token,
    ).json
    ref = f"demo/{created['task_id']}"
    operator.post(f"/api/v1/projects/demo/tasks/{created['task_id']}/stop", headers=operator_token)
    operator.post("/logout")
    admin = login_as("admin")
    admin.delete(f"/api/v1/projects/demo/tasks/{created['task_id']}", headers=api_headers("admin"))
    admin.post("/admin/users/operator/role", data={"role": "viewer"})
    rows = audit_rows(text(admin.get("/admin/audit")))
    newest_first = [
        ("admin", "user.role", "operator"),
        ("admin", "task.delete", ref),
        ("test", "token.create", "admin"),
        ("admin", "login", ""),
        ("operator", "logout", ""),
        ("operator", "task.stop", ref),
        ("operator", "task.create", ref),
        ("test", "token.create", "operator"),
        ("operator", "login", ""),
    ]
    assert rows[: len(newest_first)] == newest_first


def test_audit_page_filters_by_user_action_and_date(admin_client, accounts_db):
    audit.record(
        accounts_db,
        actor="operator",
        action="task.stop",
        target="demo/aaaaa",
        at="2030-01-02T10:00:00.000000",
    )
    audit.record(
        accounts_db,
        actor="viewer",
        action="task.stop",
        target="demo/bbbbb",
        at="2030-01-03T10:00:00.000000",
    )
    by_user = audit_rows(text(admin_client.get("/admin/audit?user=operator&action=task.stop")))
    assert by_user == [("operator", "task.stop", "demo/aaaaa")]
    by_date = audit_rows(text(admin_client.get("/admin/audit?since=2030-01-03&until=2030-01-03")))
    assert by_date == [("viewer", "task.stop", "demo/bbbbb")]
    bad = admin_client.get("/admin/audit?since=soon")
    assert bad.status_code == 400 and "since must be a date" in text(bad)
    assert admin_client.get("/admin/audit?offset=-5").status_code == 200


def test_audit_page_is_for_admins_only(operator_client):
    assert operator_client.get("/admin/audit").status_code == 403
