"""Signing in and out: sessions, cookies, session invalidation, throttling, first start."""

from __future__ import annotations

import pytest

from webapp import create_app
from webapp.accounts import audit, tokens
from webapp.accounts import users as accounts


def sign_in(client, username: str, password: str, **extra):
    return client.post("/login", data={"username": username, "password": password, **extra})


def last_actions(db, n: int = 1) -> list[tuple[str, str]]:
    return [(e.actor, e.action) for e in audit.query(db, limit=n).items]


def test_sign_in_returns_to_the_page_asked_for(client, users, accounts_db):
    first = client.get("/admin/users")
    assert first.status_code == 302 and first.location == "/login?next=/admin/users"
    response = sign_in(client, "admin", "admin-password-1", next="/admin/users")
    assert response.status_code == 302 and response.location == "/admin/users"
    assert client.get("/admin/users").status_code == 200
    assert last_actions(accounts_db) == [("admin", "login")]


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"]
)
def test_sign_in_never_redirects_to_another_site(client, users, target):
    response = sign_in(client, "viewer", "viewer-password-1", next=target)
    assert response.location == "/"


def test_wrong_password_is_refused_and_recorded(client, users, accounts_db):
    response = sign_in(client, "admin", "not the password")
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert last_actions(accounts_db) == [("admin", "login.failed")]


@pytest.mark.parametrize(
    ("username", "password"), [("", ""), ("x" * 5000, "y"), ("admin", "p" * 5000), ("a\x00", "b")]
)
def test_odd_sign_in_input_is_a_plain_refusal(client, users, username, password):
    assert sign_in(client, username, password).status_code == 401


def test_disabled_user_cannot_sign_in(client, users, accounts_db):
    accounts.set_disabled(accounts_db, "operator", True, actor="admin")
    assert sign_in(client, "operator", "operator-password-1").status_code == 401


def test_signed_in_user_visiting_login_goes_home(viewer_client):
    assert viewer_client.get("/login").location == "/"


def test_sign_out_ends_the_session(operator_client, accounts_db):
    response = operator_client.post("/logout")
    assert response.status_code == 302 and response.location == "/login"
    assert operator_client.get("/account/").status_code == 302
    assert last_actions(accounts_db) == [("operator", "logout")]
    assert operator_client.get("/logout").status_code == 405


def test_session_cookie_is_httponly_lax_and_not_remembered(client, users):
    response = sign_in(client, "viewer", "viewer-password-1")
    cookies = response.headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session and "SameSite=Lax" in session
    assert "Secure" not in session and "Expires" not in session
    assert not any(c.startswith("remember_token") for c in cookies)


def test_session_cookie_is_secure_over_https(app, users):
    client = app.test_client()
    response = client.post(
        "/login",
        base_url="https://localhost",
        data={"username": "viewer", "password": "viewer-password-1"},
        headers={"Referer": "https://localhost/login"},
    )
    assert response.status_code == 302
    session = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "; Secure" in session


def test_password_reset_by_an_admin_signs_the_user_out_everywhere(login_as, accounts_db):
    first, second = login_as("operator"), login_as("operator")
    accounts.set_password(accounts_db, "operator", "brand new one", actor="admin")
    for client in (first, second):
        assert client.get("/account/").status_code == 302


def test_disabling_ends_sessions_and_tokens(login_as, api_headers, accounts_db, client):
    session, headers = login_as("operator"), api_headers("operator")
    accounts.set_disabled(accounts_db, "operator", True, actor="admin")
    assert session.get("/account/").status_code == 302
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_changing_your_own_password_keeps_this_session_only(login_as, accounts_db):
    this, other = login_as("viewer"), login_as("viewer")
    response = this.post(
        "/account/password",
        data={"current": "viewer-password-1", "new": "a better one", "confirm": "a better one"},
    )
    assert response.status_code == 302
    assert this.get("/account/").status_code == 200
    assert other.get("/account/").status_code == 302
    assert last_actions(accounts_db) == [("viewer", "user.password")]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"current": "wrong", "new": "a better one", "confirm": "a better one"}, "not right"),
        ({"current": "viewer-password-1", "new": "a better one", "confirm": "other"}, "differ"),
        ({"current": "viewer-password-1", "new": "short", "confirm": "short"}, "at least 8"),
    ],
)
def test_bad_password_changes_say_why(viewer_client, form, message):
    response = viewer_client.post("/account/password", data=form)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert viewer_client.get("/account/").status_code == 200


def throttled_client(request, app_config, **settings):
    """A client of an app built with these login-throttle settings, and user bob."""
    app_config.update(settings)
    request.getfixturevalue("users")
    db = request.getfixturevalue("accounts_db")
    accounts.create_user(
        db, "bob", "long enough", actor="t", hasher=accounts.make_hasher("CHEAPEST")
    )
    return request.getfixturevalue("client"), db


def test_failures_slow_sign_in_down_and_the_page_says_so(request, app_config):
    client, db = throttled_client(request, app_config, LOGIN_FREE_ATTEMPTS=1, LOGIN_LOCK_AFTER=3)
    assert sign_in(client, "bob", "wrong one").status_code == 401
    slowed = sign_in(client, "bob", "long enough")
    assert slowed.status_code == 429 and slowed.headers["Retry-After"] == "1"
    assert "wait 1 second before trying again" in slowed.get_data(as_text=True)
    assert last_actions(db) == [("bob", "login.throttled")]
    assert client.get("/").status_code == 302


def test_enough_failures_lock_sign_in_even_for_the_right_password(request, app_config):
    client, _ = throttled_client(
        request, app_config, LOGIN_FREE_ATTEMPTS=5, LOGIN_LOCK_AFTER=1, LOGIN_LOCK_SECONDS=600
    )
    failed = sign_in(client, "bob", "wrong one")
    assert failed.status_code == 401 and "locked" in failed.get_data(as_text=True)
    right = sign_in(client, "bob", "long enough")
    assert right.status_code == 429
    assert "Try again in 10 minutes" in right.get_data(as_text=True)
    assert sign_in(client, "viewer", "viewer-password-1").status_code == 302


def test_first_start_creates_one_admin_and_says_its_password_once(request, app_config):
    app_config["CREATE_FIRST_ADMIN"] = True
    first = create_app(app_config)
    messages = first.extensions["webapp.startup_messages"]
    assert len(messages) == 1 and "'admin'" in messages[0]
    password = messages[0].split("with password ")[1].split()[0]
    again = request.getfixturevalue("app")  # a second start on the same data folder
    assert "webapp.startup_messages" not in again.extensions
    response = sign_in(request.getfixturevalue("client"), "admin", password)
    assert response.status_code == 302 and response.location == "/"


def test_tokens_of_a_user_keep_working_after_their_password_changes(client, users, accounts_db):
    _, secret = tokens.create_token(accounts_db, users["viewer"], "ci", actor="viewer")
    accounts.set_password(accounts_db, "viewer", "brand new one", actor="admin")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).json == {
        "username": "viewer",
        "role": "viewer",
    }


def test_behind_a_trusted_proxy_https_and_the_client_address_come_from_its_headers(
    request, app_config
):
    app_config["TRUSTED_PROXIES"] = 1
    client = request.getfixturevalue("client")
    request.getfixturevalue("users")
    response = client.post(
        "/login",
        data={"username": "viewer", "password": "viewer-password-1"},
        headers={
            "X-Forwarded-For": "198.51.100.9",
            "X-Forwarded-Proto": "https",
            "Referer": "https://localhost/login",
        },
    )
    assert response.status_code == 302
    session = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "; Secure" in session
    db = request.getfixturevalue("accounts_db")
    assert audit.query(db, limit=1).items[0].address == "198.51.100.9"


def test_without_trusted_proxies_forwarded_headers_are_ignored(client, users, accounts_db):
    response = client.post(
        "/login",
        data={"username": "viewer", "password": "viewer-password-1"},
        headers={"X-Forwarded-For": "198.51.100.9", "X-Forwarded-Proto": "https"},
    )
    session = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Secure" not in session
    assert audit.query(accounts_db, limit=1).items[0].address == "127.0.0.1"
