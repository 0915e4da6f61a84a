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
import json
import os
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


# -- an OpenAI-compatible LLM provider on 127.0.0.1 ------------------------------------------
class LLMServer(ThreadingHTTPServer):
    """Speaks ``POST /v1/chat/completions``, streaming (server-sent events) and not.

    By default it answers ``tokens`` (or ``echo: <prompt>`` word by word) and reports
    ``usage``. ``replies`` is a queue of scripted answers ``(status, body, headers)`` served
    first. Clear ``hold`` to pause a stream after its first chunk until the test sets it
    (``first_sent`` is set once the first chunk went out); set ``stall`` to hold every answer
    before its headers until ``hold`` is set; ``refuse_stream`` answers a streaming request
    with a 400 naming "stream", as endpoints without streaming do.
    """

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _LLMHandler)
        self.requests: list[dict] = []
        self.replies: list[tuple[int, object, dict]] = []
        self.tokens: list[str] | None = None
        self.usage: dict | None = {"prompt_tokens": 7, "completion_tokens": 4}
        self.hold = threading.Event()
        self.hold.set()
        self.stall = False
        self.refuse_stream = False
        self.first_sent = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _LLMHandler(BaseHTTPRequestHandler):
    server: LLMServer

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body["_authorization"] = self.headers.get("Authorization")
        self.server.requests.append(body)
        if self.server.stall:
            self.server.hold.wait(30)
        if self.server.replies:
            status, payload, headers = self.server.replies.pop(0)
            return self._json(status, payload, headers)
        if body.get("stream") and self.server.refuse_stream:
            return self._json(400, {"error": {"message": "stream is not supported"}}, {})
        prompt = body["messages"][-1]["content"]
        tokens = self.server.tokens or ["echo:", *(f" {word}" for word in prompt.split())]
        if not body.get("stream"):
            message = {"role": "assistant", "content": "".join(tokens)}
            answer = {"model": body["model"], "choices": [{"message": message}]}
            return self._json(200, {**answer, "usage": self.server.usage}, {})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for number, token in enumerate(tokens):
            chunk = {"model": body["model"], "choices": [{"delta": {"content": token}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
            if number == 0:
                self.server.first_sent.set()
                self.server.hold.wait(30)
        if self.server.usage and (body.get("stream_options") or {}).get("include_usage"):
            final = {"model": body["model"], "choices": [], "usage": self.server.usage}
            self.wfile.write(f"data: {json.dumps(final)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def _json(self, status: int, payload: object, headers: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def llm_server():
    """A running :class:`LLMServer`; ``llm_server.url`` is its base URL (…/v1)."""
    server = LLMServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.hold.set()
    server.shutdown()
    server.server_close()
    thread.join(10)
