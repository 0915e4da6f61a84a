"""Who the current user is: Flask-Login sessions and bearer tokens, and the accounts database.

Sessions (Flask-Login, no remember-me) identify a user as ``"<id>:<session epoch>"``; a
password change or disabling bumps the epoch, so every older session stops loading. Under
``/api/`` sessions are ignored and only ``Authorization: Bearer`` tokens count, which is why
the API can be exempt from CSRF.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_login import LoginManager, UserMixin, current_user

from webapp.accounts import database, tokens, users
from webapp.web.roles import nobody_can

ACCOUNTS_DATABASES = "webapp.accounts_databases"
PASSWORD_HASHER = "webapp.password_hasher"
STARTUP_MESSAGES = "webapp.startup_messages"


class CurrentUser(UserMixin):
    """A ``users.User`` as Flask-Login sees it."""

    def __init__(self, user: users.User, via: str = "session"):
        self.user = user
        self.via = via

    def __getattr__(self, name):
        return getattr(self.user, name)

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.session_epoch}"

    @property
    def is_active(self) -> bool:
        return not self.user.disabled

    def can(self, role: str) -> bool:
        return self.user.can(role)


def accounts_db():
    """The calling thread's accounts ``Database``, kept open for the thread's next requests."""
    return current_app.extensions[ACCOUNTS_DATABASES].get()


def hasher():
    return current_app.extensions[PASSWORD_HASHER]


def client_address() -> str:
    return request.remote_addr or ""


def actor_name() -> str:
    return current_user.username if current_user.is_authenticated else "anonymous"


def load_session_user(session_id: str) -> CurrentUser | None:
    if request.path.startswith("/api/"):
        return None  # the API takes bearer tokens only
    user_id, _, epoch = str(session_id).partition(":")
    if not (user_id.isdigit() and epoch.isdigit()):
        return None
    user = users.get_user(accounts_db(), int(user_id))
    if user is None or user.disabled or user.session_epoch != int(epoch):
        return None
    return CurrentUser(user)


def load_token_user(req) -> CurrentUser | None:
    """Bearer tokens count under /api/ and on views marked ``token_auth``."""
    view = current_app.view_functions.get(req.endpoint)
    if not (req.path.startswith("/api/") or getattr(view, "token_auth", False)):
        return None
    scheme, _, secret = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    user = tokens.user_for_token(accounts_db(), secret.strip())
    return CurrentUser(user, via="token") if user else None


def prepare_database(app: Flask) -> None:
    """Create the accounts tables and, on first start, the admin whose password serve prints."""
    password = database.prepare(
        app.config["DATABASE"],
        create_first_admin=bool(app.config["CREATE_FIRST_ADMIN"]),
        hasher=app.extensions[PASSWORD_HASHER],
    )
    if password is not None:
        app.extensions["webapp.first_start"] = True  # web.first_start adds the default project
        app.extensions.setdefault(STARTUP_MESSAGES, []).append(
            f"webapp: first start: created the user '{users.FIRST_ADMIN}' with password "
            f"{password}\nwebapp: it is shown only this once; sign in and change it on your "
            "account page (or run `webapp user reset-password admin`)."
        )


def init_app(app: Flask) -> None:
    app.extensions[PASSWORD_HASHER] = users.make_hasher(app.config["PASSWORD_HASH_PROFILE"])
    manager = LoginManager()
    manager.session_protection = "basic"
    manager.user_loader(load_session_user)
    manager.request_loader(load_token_user)
    manager.init_app(app)

    @app.context_processor
    def inject_user() -> dict:
        """The user this page is rendered for, resolved once (not once per use)."""
        user = current_user._get_current_object()
        return {"current_user": user, "user_can": user.can if user.is_authenticated else nobody_can}

    prepare_database(app)
    app.extensions[ACCOUNTS_DATABASES] = database.thread_databases(app.config["DATABASE"])
