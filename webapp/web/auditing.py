"""Audit hooks: views call ``record_audit`` for what they change; a state-changing request
that succeeds without doing so is recorded under its endpoint name by the fallback hook."""

from __future__ import annotations

from flask import Flask, g, request
from flask_login import current_user

from webapp.accounts import audit
from webapp.web import audit_view
from webapp.web.sessions import accounts_db, actor_name, client_address

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
UNRECORDED_ENDPOINTS = (None, "auth.login", "auth.logout")  # sign-in records its own


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


def mark_audited() -> None:
    """Tell the fallback recorder that this request's change is already on record."""
    g.audited = True


def audit_unrecorded_change(response):
    """after_request: a successful change that the view did not record is recorded here."""
    if (
        request.method in UNSAFE_METHODS
        and response.status_code < 400
        and request.endpoint not in UNRECORDED_ENDPOINTS
        and current_user.is_authenticated
        and not g.get("audited")
    ):
        target = "/".join(str(value) for value in (request.view_args or {}).values())
        action = audit_view.fallback_action(request.endpoint)  # words, not the route name
        record_audit(action, target, f"{request.method} {request.path}")
    return response


def init_app(app: Flask) -> None:
    app.after_request(audit_unrecorded_change)
