"""API: projects (list, get, create, update, delete) and the audit log."""

from __future__ import annotations

from flask_login import current_user

from webapp import limits, orchestration
from webapp.accounts import audit
from webapp.orchestration.projects import changed_settings, describe_changes
from webapp.web.api import api
from webapp.web.api.inputs import Body, query_int, query_text, to_json
from webapp.web.api.registry import Param
from webapp.web.api.schemas import (
    MAX_OFFSET,
    MOMENT,
    PROJECT_CREATE,
    PROJECT_FIELDS,
    PROJECT_ID,
    PROJECT_UPDATE,
    ref,
    text,
)
from webapp.web.auditing import record_audit
from webapp.web.sessions import accounts_db

PROJECT = {"project": PROJECT_ID}


def project_json(project) -> dict:
    return to_json(project, ("total",))


def _settings(body: Body) -> dict:
    """The project settings present in the body, type-checked (orchestration checks values)."""
    readers = {
        "name": lambda: body.text("name", max_length=limits.PROJECT_NAME_MAX_CHARS),
        "shutdown_grace": lambda: body.number(
            "shutdown_grace", maximum=limits.PROJECT_GRACE_MAX_SECONDS
        ),
        "max_concurrent": lambda: body.integer(
            "max_concurrent", minimum=1, maximum=limits.PROJECT_MAX_CONCURRENT
        ),
        "name_categories": lambda: body.strings("name_categories"),
        "git_repo": lambda: body.text("git_repo", max_length=2000),
        "env": lambda: body.mapping("env"),
    }
    return {name: read() for name, read in readers.items() if body.has(name)}


@api.route(
    "/projects",
    role="viewer",
    summary="Every project with its task counts by status.",
    response={"type": "array", "items": ref("Project")},
)
def list_projects():
    return [project_json(project) for project in orchestration.project_list()]


@api.route(
    "/projects",
    "POST",
    role="admin",
    summary="Create a project.",
    body=PROJECT_CREATE,
    response=ref("Project"),
    status=201,
)
def create_project():
    body = Body(("id", *PROJECT_FIELDS))
    project_id = body.text("id", required=True, max_length=40)
    settings = {key: value for key, value in _settings(body).items() if value is not None}
    project = orchestration.project_create(project_id, actor=current_user.username, **settings)
    record_audit("project.create", project.id, f"name {project.name!r}")
    return project_json(project), 201


@api.route(
    "/projects/<project>",
    role="viewer",
    summary="One project.",
    response=ref("Project"),
    path_params=PROJECT,
)
def get_project(project: str):
    return project_json(orchestration.project_get(project))


@api.route(
    "/projects/<project>",
    "PATCH",
    role="admin",
    summary="Change project settings.",
    body=PROJECT_UPDATE,
    response=ref("Project"),
    path_params=PROJECT,
)
def update_project(project: str):
    settings = _settings(Body(tuple(PROJECT_FIELDS)))
    before = orchestration.project_get(project)
    updated = orchestration.project_update(project, actor=current_user.username, **settings)
    record_audit("project.update", project, describe_changes(changed_settings(before, updated)))
    return project_json(updated)


def plan_json(plan) -> dict:
    return to_json(plan, ("blocked",))


@api.route(
    "/projects/<project>/deletion",
    role="admin",
    summary="What deleting the project would do: how many tasks it archives, what blocks it.",
    response=ref("ProjectDeletePlan"),
    path_params=PROJECT,
)
def project_deletion_plan(project: str):
    return plan_json(orchestration.project_delete_plan(project))


@api.route(
    "/projects/<project>",
    "DELETE",
    role="admin",
    summary="Delete a project: every task is archived first (409 while any is queued or "
    "running, naming them).",
    response=ref("ProjectDeleted"),
    path_params=PROJECT,
)
def delete_project(project: str):
    result = orchestration.project_delete(project, actor=current_user.username)
    detail = f"{result.archived} task(s) archived"
    if result.warnings:
        detail += "; warnings: " + "; ".join(result.warnings)
    record_audit("project.delete", project, detail)
    return to_json(result, ())


AUDIT_QUERY = (
    Param("user", text(64), "Only this user's actions."),
    Param(
        "action",
        text(100),
        "One action (task.stop), or every action with a prefix ending in a dot (task.).",
    ),
    Param(
        "target",
        text(200),
        "A target and what lies under it (project demo also finds task demo/k3v8h).",
    ),
    Param("since", MOMENT, "From this date or RFC 3339 date-time (UTC if it has no offset)."),
    Param("until", MOMENT, "Up to this date (inclusive) or RFC 3339 date-time."),
    Param("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "Page size (default 50)."),
    Param("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}, "Entries to skip."),
)


@api.route(
    "/audit",
    role="admin",
    summary="The audit log, newest first.",
    query=AUDIT_QUERY,
    response=ref("AuditPage"),
)
def list_audit():
    page = audit.query(
        accounts_db(),
        actor=query_text("user", max_length=64),
        action=query_text("action", max_length=100),
        target=query_text("target"),
        since=query_text("since", max_length=64),
        until=query_text("until", max_length=64),
        limit=query_int("limit", 50, minimum=1, maximum=audit.MAX_LIMIT),
        offset=query_int("offset", 0, maximum=audit.MAX_OFFSET),
    )
    return to_json(page, ("has_next",))
