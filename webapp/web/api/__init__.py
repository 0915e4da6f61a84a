"""The JSON API under ``/api/v1``: bearer tokens, roles, JSON errors, an OpenAPI document.

Authentication is ``Authorization: Bearer <token>`` only (sessions are ignored here, which is
why the blueprint is exempt from CSRF). Every error under ``/api/`` is JSON
``{"error": ..., "detail": ...}``: orchestration and accounts lookups that fail are 404, bad
input 400, state conflicts and ambiguous prefixes 409. Routes are declared through
``api.route`` so that ``/api/v1/openapi.json`` always lists exactly the routes that exist.
"""

from __future__ import annotations

from flask import Blueprint, Flask, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect

from webapp.accounts.errors import AccountError
from webapp.orchestration import errors as orchestration_errors
from webapp.web.api.registry import ApiRegistry
from webapp.web.api.schemas import COMPONENTS, ref

PREFIX = "/api/v1"
VERSION = "1.0.0"

bp = Blueprint("api", __name__, url_prefix=PREFIX)
api = ApiRegistry(bp)

CONFLICTS = tuple(
    getattr(orchestration_errors, name)
    for name in ("TaskStateConflict", "ProjectExists", "AmbiguousTaskId", "AmbiguousArchive")
    if hasattr(orchestration_errors, name)
)


def error_json(status: int, error: str, detail: str, **extra):
    return {"error": error, "detail": detail, **extra}, status


def domain_error(exc: Exception):
    """Orchestration and accounts errors as JSON with the status that fits."""
    matches = getattr(exc, "matches", None)
    extra = {"matches": list(matches)} if matches else {}
    if isinstance(exc, CONFLICTS):
        return error_json(409, "Conflict", str(exc), **extra)
    if isinstance(exc, LookupError):
        return error_json(404, "Not Found", str(exc))
    if isinstance(exc, orchestration_errors.InvalidField):  # fits the schema, not the rules
        return error_json(422, "Unprocessable Content", str(exc), field=exc.field)
    if isinstance(exc, ValueError):
        return error_json(400, "Bad Request", str(exc))
    return error_json(500, "Internal Server Error", str(exc))


bp.register_error_handler(orchestration_errors.OrchestrationError, domain_error)
bp.register_error_handler(AccountError, domain_error)


@api.route("/openapi.json", role="viewer", summary="This document.", response={"type": "object"})
def openapi():
    return api.openapi(PREFIX, COMPONENTS, title="webapp API", version=VERSION)


@api.route("/me", role="viewer", summary="Who the token belongs to.", response=ref("Me"))
def me():
    return {"username": current_user.username, "role": current_user.role}


def docs_url() -> str:
    return url_for("api.openapi")


def init_app(app: Flask, csrf: CSRFProtect) -> None:
    csrf.exempt(bp)


# The endpoint modules register their routes on import.
from webapp.web.api import (  # noqa: E402, F401
    archive,
    automation,
    graphs,
    llm,
    projects,
    tasks,
    workflows,
)
