"""Turn orchestration's lookup errors into pages: 404 naming what is missing, 300 for
ambiguous prefixes (a page listing the matches), 409 for an action that does not fit the
current state (TaskStateConflict), 400 for other bad input.

Each blueprint of the dashboard calls ``register(bp)``; the handlers only see errors raised
by that blueprint's views, so the JSON API keeps its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, render_template, request, url_for
from werkzeug.exceptions import BadRequest, Conflict, HTTPException, NotFound

from webapp.orchestration import errors
from webapp.web import sessions
from webapp.web.errors import render_error, wants_json


class MultipleChoices(HTTPException):
    code = 300
    description = "That prefix matches several items; pick one."


@dataclass(frozen=True)
class Match:
    url: str
    label: str


def _match_url(view_arg: str, value: str) -> str:
    """The same page for one of the matches (or its task page when the request was a POST)."""
    args = dict(request.view_args or {})
    if request.method == "GET" and view_arg in args:
        args[view_arg] = value
        return url_for(request.endpoint, **{**request.args.to_dict(), **args})
    if view_arg == "archive_id":
        return url_for("archive.show", project_id=args.get("project_id"), archive_id=value)
    return url_for("tasks.show", project_id=args.get("project_id"), task_id=value)


def ambiguous_page(error: errors.AmbiguousTaskId | errors.AmbiguousArchive):
    view_arg = "archive_id" if isinstance(error, errors.AmbiguousArchive) else "task_id"
    matches = [Match(_match_url(view_arg, m), m) for m in error.matches]
    exc = MultipleChoices(str(error))
    if wants_json():
        return {"error": "Ambiguous", "detail": str(error), "matches": error.matches}, 300
    html = render_template("errors/error.html", error=exc, detail=str(error), matches=matches)
    return html, 300


def orchestration_error(error: errors.OrchestrationError):
    """One handler, dispatched here: Flask would pick OrchestrationError before LookupError."""
    if isinstance(error, errors.AmbiguousTaskId | errors.AmbiguousArchive):
        return ambiguous_page(error)
    if isinstance(error, LookupError | errors.InvalidTaskId | errors.InvalidSlashForm):
        return render_error(NotFound(str(error)))
    if isinstance(error, errors.UnsafePath):
        return render_error(NotFound(str(error)))
    if isinstance(error, errors.TaskStateConflict | errors.ProjectExists):
        return render_error(Conflict(str(error)))
    if isinstance(error, ValueError):
        return render_error(BadRequest(str(error)))
    return render_error(Conflict(str(error)))


def register(bp: Blueprint) -> None:
    bp.register_error_handler(errors.OrchestrationError, orchestration_error)


def current_actor() -> str:
    """Who is acting: the signed-in user's name (the login gate guarantees one)."""
    return sessions.actor_name()


def safe_next(target: str | None, fallback: str) -> str:
    """A local redirect target from a form's ``next`` field, never another site."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    if "\\" in target:
        return fallback
    return target
