"""Sign-in and sign-out: the login form (throttled, audited) and logout.

The blueprint is named ``auth`` (``url_for("auth.login")``); who is signed in is
:mod:`webapp.web.sessions`' concern, what they may do :mod:`webapp.web.roles`'.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from webapp.accounts import audit, throttle, users
from webapp.web.auditing import record_audit
from webapp.web.roles import require_role
from webapp.web.sessions import CurrentUser, accounts_db, client_address, hasher

bp = Blueprint("auth", __name__)


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
