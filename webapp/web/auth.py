"""Sign-in and sign-out, who the current user is, role checks and the audit helper.

Sessions (Flask-Login, no remember-me) identify a user as ``"<id>:<session epoch>"``; a
password change or disabling bumps the epoch, so every older session stops loading. Under
``/api/`` sessions are ignored and only ``Authorization: Bearer`` tokens count, which is why
the API can be exempt from CSRF. Views call ``record_audit`` for what they change; a state-
changing request that succeeds without doing so is recorded under its endpoint name.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from webapp.accounts import audit, throttle, tokens, users
from webapp.store.accounts import accounts_migrations
from webapp.store.db import ThreadDatabases, open_database
from webapp.web import audit_view

bp = Blueprint("auth", __name__)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
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


# -- per-request helpers -------------------------------------------------------------------


ACCOUNTS_DATABASES = "webapp.accounts_databases"


def accounts_db():
    """The calling thread's accounts ``Database``, kept open for the thread's next requests."""
    return current_app.extensions[ACCOUNTS_DATABASES].get()


def hasher():
    return current_app.extensions["webapp.password_hasher"]


def client_address() -> str:
    return request.remote_addr or ""


def actor_name() -> str:
    return current_user.username if current_user.is_authenticated else "anonymous"


def record_audit(action: str, target: str = "", detail: str = "") -> None:
    """Put one action of the current user on record (call after the change succeeded)."""
    audit.record(
        accounts_db(),
        actor=actor_name(),
        action=action,
        target=target,
        detail=detail,
        address=client_address(),
    )
    g.audited = True


def user_can(role: str) -> bool:
    """Whether the signed-in user has ``role`` or above (for templates and mixed views)."""
    return current_user.is_authenticated and current_user.can(role)


def nobody_can(role: str) -> bool:
    """``user_can`` for a page rendered for nobody signed in."""
    return False


def user_can_delete() -> bool:
    return user_can("admin")


def mark_audited() -> None:
    """Tell the fallback recorder that this request's change is already on record."""
    g.audited = True


def require_role(role: str):
    """Decorator: 403 unless the signed-in user has ``role`` or above.

    The gate has already turned away anonymous requests; the role lives on the view as
    ``required_role`` so tests and the OpenAPI document can read it.
    """
    users.check_role(role)

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                abort(401)
            if not current_user.can(role):
                abort(
                    403,
                    f"This needs the {role} role; you are signed in as "
                    f"{current_user.username} ({current_user.role}).",
                )
            return view(*args, **kwargs)

        wrapper.required_role = role
        return wrapper

    return decorate


# -- loading the user ----------------------------------------------------------------------


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


def audit_unrecorded_change(response):
    """after_request: a successful change that the view did not record is recorded here."""
    if (
        request.method in UNSAFE_METHODS
        and response.status_code < 400
        and request.endpoint not in (None, "auth.login", "auth.logout")
        and current_user.is_authenticated
        and not g.get("audited")
    ):
        target = "/".join(str(value) for value in (request.view_args or {}).values())
        action = audit_view.fallback_action(request.endpoint)  # words, not the route's name
        record_audit(action, target, f"{request.method} {request.path}")
    return response


# -- views ---------------------------------------------------------------------------------


def safe_next(target: str | None) -> str:
    """A local path to return to after login, never another site."""
    if target:
        parts = urlsplit(target)
        if (
            target.startswith("/")
            and not target.startswith(("//", "/\\"))
            and not parts.scheme
            and not parts.netloc
        ):
            return target
    return url_for("home.index")


def _throttle_policy() -> throttle.ThrottlePolicy:
    config = current_app.config
    return throttle.ThrottlePolicy(
        free_attempts=int(config["LOGIN_FREE_ATTEMPTS"]),
        lock_after=int(config["LOGIN_LOCK_AFTER"]),
        lock_seconds=float(config["LOGIN_LOCK_SECONDS"]),
        window_seconds=float(config["LOGIN_LOCK_SECONDS"]),
    )


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = request.values.get("next", "")
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next(next_url))
    if request.method == "GET":
        return render_template("auth/login.html", next=next_url, username="")
    username = request.form.get("username", "")[:200]
    password = request.form.get("password", "")
    db, address, policy = accounts_db(), client_address(), _throttle_policy()
    verdict = throttle.check(db, address, username, policy)
    if not verdict.allowed:
        audit.record(
            db,
            actor=username.strip().lower() or "anonymous",
            action="login.throttled",
            detail=verdict.message,
            address=address,
        )
        return _login_page(verdict.message, username, next_url, 429, verdict.wait_seconds)
    user = users.authenticate(db, username, password, hasher=hasher())
    if user is None:
        after = throttle.record_failure(db, address, username, policy)
        audit.record(
            db,
            actor=username.strip().lower() or "anonymous",
            action="login.failed",
            detail="wrong username or password, or disabled",
            address=address,
        )
        message = "Wrong username or password."
        if not after.allowed:
            message = f"{message} {after.message}"
        return _login_page(message, username, next_url, 401)
    throttle.record_success(db, user.username)
    session.clear()  # a fresh session: nothing from before sign-in survives it
    login_user(CurrentUser(user), remember=False)
    audit.record(db, actor=user.username, action="login", address=address)
    return redirect(safe_next(next_url))


def _login_page(error: str, username: str, next_url: str, status: int, retry_after: int = 0):
    page = render_template("auth/login.html", error=error, username=username, next=next_url)
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    return page, status, headers


@bp.post("/logout")
@require_role("viewer")
def logout():
    record_audit("logout")
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


# -- wiring --------------------------------------------------------------------------------


def prepare_database(app: Flask) -> None:
    """Create the accounts tables and, on first start, the admin whose password serve prints."""
    db = open_database(app.config["DATABASE"], migrations=(accounts_migrations,))
    try:
        if not app.config["CREATE_FIRST_ADMIN"]:
            return
        password = users.ensure_first_admin(db, hasher=app.extensions["webapp.password_hasher"])
    finally:
        db.close()
    if password is not None:
        app.extensions["webapp.first_start"] = True  # web.first_start adds the default project
        app.extensions.setdefault(STARTUP_MESSAGES, []).append(
            f"webapp: first start: created the user '{users.FIRST_ADMIN}' with password "
            f"{password}\nwebapp: it is shown only this once; sign in and change it on your "
            "account page (or run `webapp user reset-password admin`)."
        )


def init_app(app: Flask) -> None:
    app.extensions["webapp.password_hasher"] = users.make_hasher(
        app.config["PASSWORD_HASH_PROFILE"]
    )
    manager = LoginManager()
    manager.session_protection = "basic"
    manager.user_loader(load_session_user)
    manager.request_loader(load_token_user)
    manager.init_app(app)
    app.after_request(audit_unrecorded_change)
    app.register_blueprint(bp)

    @app.context_processor
    def inject_user() -> dict:
        """The user this page is rendered for, resolved once (not once per use)."""
        user = current_user._get_current_object()
        return {"current_user": user, "user_can": user.can if user.is_authenticated else nobody_can}

    prepare_database(app)
    app.extensions[ACCOUNTS_DATABASES] = ThreadDatabases(app.config["DATABASE"])
