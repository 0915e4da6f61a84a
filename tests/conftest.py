"""Fixtures shared by every room: an app on a temporary data folder and its test clients.

Accounts in tests
-----------------
Every page but ``/login``, ``/healthz`` and static files needs a signed-in user, and CSRF
protection is ON in the test app, as in production. So:

- ``users`` creates one user per role, named after it: ``viewer``, ``operator``, ``admin``
  (password ``PASSWORDS[role]``).
- ``viewer_client``, ``operator_client``, ``admin_client`` are test clients already signed in
  as that user; ``login_as(role)`` makes another one.
- Every test client (``client`` too) adds this session's CSRF token to its POST, PUT, PATCH
  and DELETE requests as the ``X-CSRFToken`` header, the way htmx sends it. Pass
  ``csrf=False`` to leave it out (``client.post(url, data=..., csrf=False)``), or get the token
  with ``csrf_token(client)`` to put it in form data yourself (field ``csrf_token``).
- ``api_headers(role)`` gives ``{"Authorization": "Bearer ..."}`` for a fresh API token of that
  role's user (the API takes tokens only, never sessions).
- ``accounts_db`` is an open sqlite-utils ``Database`` on the app's database file.
- ``bound`` binds orchestration to the app's settings for the test body; ``demo_task`` adds a
  project ``demo`` with one queued task.
"""

from __future__ import annotations

import builtins
import os
from collections import Counter

import flask
import pytest
from flask.testing import FlaskClient
from flask_wtf.csrf import generate_csrf

from webapp import create_app
from webapp.accounts import tokens
from webapp.accounts import users as accounts
from webapp.store.db import open_database

ROLES = ("viewer", "operator", "admin")
PASSWORDS = {role: f"{role}-password-1" for role in ROLES}
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def csrf_token_for(client: FlaskClient) -> str:
    """A valid CSRF token for this client's session (creating the session's secret if new)."""
    app = client.application
    with client.session_transaction() as stored, app.test_request_context():
        flask.session.update(stored)
        token = generate_csrf()
        stored.update(flask.session)
    return token


class WebClient(FlaskClient):
    """A test client that sends its session's CSRF token with every state-changing request."""

    def open(self, *args, csrf: bool = True, **kwargs):
        method = str(kwargs.get("method", "GET")).upper()
        if csrf and method in UNSAFE:
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", csrf_token_for(self))
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)


@pytest.fixture
def app_config(tmp_path) -> dict:
    """Settings for a test app; a test can extend it before ``app`` is built."""
    return {
        "TESTING": True,
        "DATA_DIR": str(tmp_path / "data"),
        "WORKER_ENABLED": False,
        "SECRET_KEY": "test-secret",
        "PASSWORD_HASH_PROFILE": "CHEAPEST",  # argon2 at full cost takes ~0.1 s per hash
        "CREATE_FIRST_ADMIN": False,  # tests create the users they need (fixture ``users``)
    }


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    app.test_client_class = WebClient
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def accounts_db(app):
    db = open_database(app.config["DATABASE"])
    yield db
    db.close()


@pytest.fixture
def users(app, accounts_db) -> dict[str, accounts.User]:
    """One user per role, named after the role, with password ``PASSWORDS[role]``."""
    hasher = app.extensions["webapp.password_hasher"]
    return {
        role: accounts.create_user(
            accounts_db, role, PASSWORDS[role], role=role, actor="test", hasher=hasher
        )
        for role in ROLES
    }


@pytest.fixture
def csrf_token():
    """``csrf_token(client)``: the token to put in a form's ``csrf_token`` field."""
    return csrf_token_for


@pytest.fixture
def login_as(app, users):
    """``login_as(role)``: a new test client signed in as that role's user."""

    def sign_in(role: str) -> FlaskClient:
        signed_in = app.test_client()
        response = signed_in.post("/login", data={"username": role, "password": PASSWORDS[role]})
        assert response.status_code == 302, response.get_data(as_text=True)
        return signed_in

    return sign_in


@pytest.fixture
def viewer_client(login_as):
    return login_as("viewer")


@pytest.fixture
def operator_client(login_as):
    return login_as("operator")


@pytest.fixture
def admin_client(login_as):
    return login_as("admin")


@pytest.fixture
def api_headers(users, accounts_db):
    """``api_headers(role)``: an Authorization header with a new token of that role's user."""

    def headers(role: str) -> dict[str, str]:
        _, secret = tokens.create_token(accounts_db, users[role], f"test {role}", actor="test")
        return {"Authorization": f"Bearer {secret}"}

    return headers


@pytest.fixture
def bound(app):
    """Orchestration calls in the test body act on this app's data folder."""
    from webapp import orchestration

    with orchestration.bind(orchestration.settings_of(app)) as settings:
        yield settings


@pytest.fixture
def demo_task(bound):
    """A project ``demo`` with one queued bash task (no worker runs it); returns its TaskMeta."""
    from webapp import orchestration

    orchestration.project_create("demo", actor="test")
    return orchestration.task_new("demo", name="first", payload="echo hello", actor="test")


class _CountedFile:
    """A real file opened for reading whose ``read`` calls count the bytes they return."""

    def __init__(self, fh, counts: Counter, path: str) -> None:
        self._fh, self._counts, self._path = fh, counts, path

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self._counts[self._path] += len(data)
        return data

    def __getattr__(self, name: str):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self._fh.close()


@pytest.fixture
def bytes_read(monkeypatch):
    """``bytes_read(module)``: a Counter of the bytes that ``module``'s ``open()`` calls read,
    by path, from now until the test ends. Files are real; only reads are counted, so a test
    can say "reads at most N bytes" instead of timing a read."""

    def watch(module) -> Counter:
        counts: Counter = Counter()

        def counting_open(file, mode="r", *args, **kwargs):
            fh = builtins.open(file, mode, *args, **kwargs)  # noqa: SIM115 - returned
            if "r" in mode and "+" not in mode:
                return _CountedFile(fh, counts, os.fspath(file))
            return fh

        monkeypatch.setattr(module, "open", counting_open, raising=False)
        return counts

    return watch


@pytest.fixture(autouse=True)
def _no_run_left_behind(tmp_path):
    """Runs outlive their workers under supervisors: whatever a test left running under its
    folder is stopped when it ends (even when it failed)."""
    yield
    from webapp.worker.backends import local

    local.end_supervised_runs(tmp_path)
