"""Admin pages: users and their roles, everyone's API tokens, and the audit log.

Every view here needs the admin role. The user actions write their own audit entries (in the
accounts layer), so they mark the request as audited.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.accounts import audit, tokens, users
from webapp.accounts.errors import AccountError
from webapp.web import audit_view
from webapp.web.auditing import mark_audited
from webapp.web.roles import require_role
from webapp.web.sessions import accounts_db, client_address, hasher

bp = Blueprint("admin", __name__, url_prefix="/admin")
AUDIT_PAGE = 50


def _users_page(status: int = 200, **context):
    listing = users.list_users(accounts_db())
    page = render_template("admin/users.html", users=listing, roles=users.ROLES, **context)
    return page, status


@bp.get("/users", endpoint="users")
@require_role("admin")
def users_index():
    return _users_page()[0]


@bp.post("/users")
@require_role("admin")
def create_user():
    form = request.form
    password = form.get("password") or users.generate_password()
    try:
        user = users.create_user(
            accounts_db(),
            form.get("username", ""),
            password,
            role=form.get("role", "viewer"),
            actor=current_user.username,
            address=client_address(),
            hasher=hasher(),
        )
    except AccountError as error:
        return _users_page(400, error=str(error), form=form)
    mark_audited()
    shown = None if form.get("password") else password
    return _users_page(created=user, password=shown)


def _change(action):
    """Run one user change; a bad request re-renders the list with the reason (400)."""
    try:
        result = action()
    except LookupError as error:
        abort(404, str(error))
    except AccountError as error:
        return _users_page(400, error=str(error))
    mark_audited()
    return result


@bp.post("/users/<username>/role")
@require_role("admin")
def set_role(username: str):
    def change():
        user = users.set_role(
            accounts_db(),
            username,
            request.form.get("role", ""),
            actor=current_user.username,
            address=client_address(),
        )
        flash(f"{user.username} is now {user.role}.", "info")
        return redirect(url_for("admin.users"))

    return _change(change)


@bp.post("/users/<username>/password")
@require_role("admin")
def reset_password(username: str):
    def change():
        user, password = users.set_password(
            accounts_db(),
            username,
            None,
            actor=current_user.username,
            address=client_address(),
            hasher=hasher(),
        )
        return _users_page(reset=user, password=password)

    return _change(change)


@bp.post("/users/<username>/disable")
@require_role("admin")
def disable_user(username: str):
    return _set_disabled(username, True)


@bp.post("/users/<username>/enable")
@require_role("admin")
def enable_user(username: str):
    return _set_disabled(username, False)


def _set_disabled(username: str, disabled: bool):
    def change():
        user = users.set_disabled(
            accounts_db(), username, disabled, actor=current_user.username, address=client_address()
        )
        flash(f"{user.username} is {'disabled' if user.disabled else 'enabled'}.", "info")
        return redirect(url_for("admin.users"))

    return _change(change)


@bp.get("/tokens")
@require_role("admin")
def all_tokens():
    listing = tokens.list_tokens(accounts_db())
    return render_template(
        "admin/tokens.html", tokens=listing, show_owner=True, revoke_endpoint="admin.revoke_token"
    )


@bp.post("/tokens/<int:token_id>/revoke")
@require_role("admin")
def revoke_token(token_id: int):
    def change():
        token = tokens.revoke_token(
            accounts_db(), token_id, actor=current_user.username, address=client_address()
        )
        flash(f"Token {token.name!r} of {token.username} revoked.", "info")
        return redirect(url_for("admin.all_tokens"))

    return _change(change)


@bp.get("/audit", endpoint="audit")
@require_role("admin")
def audit_index():
    args = request.args
    keys = ("user", "action", "target", "since", "until")
    filters = {key: args.get(key, "").strip()[:200] for key in keys}
    offset = args.get("offset", "0")
    offset = int(offset) if offset.isdigit() and len(offset) < 10 else 0
    db = accounts_db()
    error, page = None, None
    try:
        page = audit.query(
            db,
            actor=filters["user"],
            action=filters["action"],
            target=filters["target"],
            since=filters["since"],
            until=filters["until"],
            limit=AUDIT_PAGE,
            offset=offset,
        )
    except AccountError as exc:
        error = str(exc)
    page_html = render_template(
        "admin/audit.html",
        page=page,
        filters=filters,
        error=error,
        actions=audit.actions(db),
        usernames=[user.username for user in users.list_users(db)],
        action_label=audit_view.label,
        audit_target=audit_view.target,
        filter_url=audit_view.filter_url,
    )
    return page_html, 400 if error else 200
