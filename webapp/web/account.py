"""Your own account: role, password change and your API tokens (any role may manage these).

A new token's secret appears once, in the response to the POST that created it; only its
digest is stored. Changing your password ends your other sessions and keeps this one.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user

from webapp.accounts import tokens, users
from webapp.accounts.errors import AccountError
from webapp.web.auditing import mark_audited
from webapp.web.roles import require_role
from webapp.web.sessions import CurrentUser, accounts_db, client_address, hasher

bp = Blueprint("account", __name__, url_prefix="/account")


def _page(status: int = 200, **context):
    own = tokens.list_tokens(accounts_db(), current_user.id)
    return render_template("auth/account.html", tokens=own, **context), status


@bp.get("/")
@require_role("viewer")
def index():
    return _page()[0]


@bp.post("/password")
@require_role("viewer")
def change_password():
    form = request.form
    db = accounts_db()
    if (
        users.authenticate(db, current_user.username, form.get("current", ""), hasher=hasher())
        is None
    ):
        return _page(400, password_error="Your current password is not right.")
    if form.get("new", "") != form.get("confirm", ""):
        return _page(400, password_error="The two new passwords differ.")
    try:
        user, _ = users.set_password(
            db,
            current_user.username,
            form.get("new", ""),
            actor=current_user.username,
            address=client_address(),
            hasher=hasher(),
        )
    except AccountError as error:
        return _page(400, password_error=str(error))
    mark_audited()
    login_user(CurrentUser(user), remember=False)  # this session moves to the new epoch
    flash("Password changed; your other sessions are signed out.", "info")
    return redirect(url_for("account.index"))


@bp.post("/tokens")
@require_role("viewer")
def create_token():
    user = users.get_user(accounts_db(), current_user.id)
    try:
        token, secret = tokens.create_token(
            accounts_db(),
            user,
            request.form.get("name", ""),
            actor=current_user.username,
            address=client_address(),
        )
    except AccountError as error:
        return _page(400, token_error=str(error))
    mark_audited()
    return _page(new_token=token, new_secret=secret)


@bp.post("/tokens/<int:token_id>/revoke")
@require_role("viewer")
def revoke_token(token_id: int):
    try:
        token = tokens.revoke_token(
            accounts_db(),
            token_id,
            actor=current_user.username,
            owner_id=current_user.id,
            address=client_address(),
        )
    except LookupError as error:
        abort(404, str(error))
    mark_audited()
    flash(f"Token {token.name!r} revoked.", "info")
    return redirect(url_for("account.index"))
