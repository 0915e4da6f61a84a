"""API: tasks (create, list, get, rename, stop, retry, delete, history) and their logs.

``<task>`` accepts a full task ID or a unique prefix. Every change is put on the audit log
with the token's user as the actor.
"""

from __future__ import annotations

from flask import abort
from flask_login import current_user

from webapp import limits, orchestration
from webapp.web import deleting
from webapp.web.api import api
from webapp.web.api.inputs import Body, query_int, query_text, to_json
from webapp.web.api.registry import Param
from webapp.web.api.schemas import (
    MAX_OFFSET,
    PROJECT_ID,
    TASK_CREATE,
    TASK_ID,
    TASK_RENAME,
    TASK_STATUS,
    TASK_TYPES,
    ref,
    text,
)
from webapp.web.auditing import record_audit

TASK = "/projects/<project>/tasks/<task>"
PATHS = {"project": PROJECT_ID, "task": TASK_ID}
TASK_EXTRAS = ("duration", "is_terminal", "can_stop", "can_retry")
MAX_LOG_READ = 1024 * 1024
LIST_QUERY = (
    Param("status", TASK_STATUS, "Only tasks in this status."),
    Param("type", {"enum": TASK_TYPES}, "Only tasks of this type."),
    Param("search", text(limits.SEARCH_MAX_CHARS), "Text in the ID, name or payload."),
    Param(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": limits.PAGE_SIZE_MAX},
        "Page size (default 50).",
    ),
    Param("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}, "Tasks to skip."),
)
LOG_QUERY = (
    Param(
        "offset",
        {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
        "Byte offset to read from (default 0).",
    ),
    Param(
        "max_bytes",
        {"type": "integer", "minimum": 1, "maximum": MAX_LOG_READ},
        "Most bytes to return (default 256 KiB).",
    ),
    Param("run", {"type": "integer", "minimum": 1, "maximum": 10**9}, "Which run (the latest)."),
)


def task_json(task) -> dict:
    return to_json(task, tuple(name for name in TASK_EXTRAS if hasattr(type(task), name)))


def _resolve(project: str, task: str) -> str:
    return orchestration.resolve_task_id(project, task)


@api.route(
    "/projects/<project>/tasks",
    role="viewer",
    query=LIST_QUERY,
    path_params=PATHS,
    summary="A page of tasks, newest first, filtered like the dashboard.",
    response=ref("TaskPage"),
)
def list_tasks(project: str):
    page = orchestration.task_list(
        project,
        status=query_text("status", max_length=40),
        type=query_text("type", max_length=40),
        search=query_text("search", max_length=limits.SEARCH_MAX_CHARS),
        limit=query_int("limit", 50, minimum=1, maximum=limits.PAGE_SIZE_MAX),
        offset=query_int("offset", 0, maximum=MAX_OFFSET),
    )
    return {**to_json(page, ("has_next",)), "items": [task_json(task) for task in page.items]}


@api.route(
    "/projects/<project>/tasks",
    "POST",
    role="operator",
    body=TASK_CREATE,
    path_params=PATHS,
    summary="Create a task; it is queued and a worker runs it.",
    response=ref("Task"),
    status=201,
)
def create_task(project: str):
    body = Body(tuple(TASK_CREATE["properties"]))
    task = orchestration.task_new(
        project,
        name=body.text("name", max_length=limits.TASK_NAME_MAX_CHARS),
        type=body.text("type", max_length=20) or "bash",
        payload=body.text("payload", required=True, max_length=limits.PAYLOAD_MAX_CHARS),
        description=body.text("description", max_length=limits.DESCRIPTION_MAX_CHARS) or "",
        timeout=body.number("timeout", maximum=limits.TIMEOUT_MAX_SECONDS),
        actor=current_user.username,
    )
    record_audit(
        "task.create", f"{task.project_id}/{task.task_id}", f"{task.type} task {task.name!r}"
    )
    return task_json(task), 201


@api.route(
    TASK,
    role="viewer",
    path_params=PATHS,
    summary="One task (ID or unique prefix).",
    response=ref("Task"),
)
def get_task(project: str, task: str):
    return task_json(orchestration.get_task_meta(project, _resolve(project, task)))


@api.route(
    TASK,
    "PATCH",
    role="operator",
    body=TASK_RENAME,
    path_params=PATHS,
    summary="Rename a task.",
    response=ref("Task"),
)
def rename_task(project: str, task: str):
    new_name = Body(("name",)).text("name", required=True, max_length=limits.TASK_NAME_MAX_CHARS)
    task_id = _resolve(project, task)
    old = orchestration.get_task_meta(project, task_id).name
    renamed = orchestration.task_rename(project, task_id, new_name, actor=current_user.username)
    record_audit("task.rename", f"{project}/{task_id}", f"{old!r} -> {renamed.name!r}")
    return task_json(renamed)


@api.route(
    TASK,
    "DELETE",
    role="admin",
    path_params=PATHS,
    response=ref("TaskDeleted"),
    also={
        202: "A running task: it is stopped and a worker archives and removes it (status "
        '"deleting" until then).'
    },  # fmt: skip
    summary="Delete a task; its logs and metadata are archived first.",
)
def delete_task(project: str, task: str):
    task_id = _resolve(project, task)
    outcome = deleting.delete_task(project, task_id, actor=current_user.username)
    record_audit("task.delete", f"{project}/{task_id}", outcome.summary)
    body = {
        "task_id": task_id,
        "status": "deleting" if outcome.pending else "deleted",
        "warnings": outcome.warnings,
        "archive_id": outcome.archive_id,
    }
    return body, 202 if outcome.pending else 200


@api.route(
    f"{TASK}/stop",
    "POST",
    role="operator",
    path_params=PATHS,
    response=ref("Task"),
    summary="Stop a task: a queued one is cancelled now, a running one is signalled.",
    status=202,
)
def stop_task(project: str, task: str):
    task_id = _resolve(project, task)
    stopped = orchestration.task_stop(project, task_id, actor=current_user.username)
    record_audit("task.stop", f"{project}/{task_id}", f"now {stopped.status}")
    return task_json(stopped), 202


@api.route(
    f"{TASK}/retry",
    "POST",
    role="operator",
    path_params=PATHS,
    response=ref("Task"),
    summary="Run a finished task again (a new run of the same definition).",
    status=202,
)
def retry_task(project: str, task: str):
    task_id = _resolve(project, task)
    retried = orchestration.task_retry(project, task_id, actor=current_user.username)
    record_audit("task.retry", f"{project}/{task_id}", f"run {retried.run_no}")
    return task_json(retried), 202


@api.route(
    f"{TASK}/history",
    role="viewer",
    path_params=PATHS,
    summary="Every status change of the task, oldest first.",
    response={"type": "array", "items": ref("Transition")},
)
def task_history(project: str, task: str):
    return to_json(orchestration.task_history(project, _resolve(project, task)))


@api.route(
    f"{TASK}/logs",
    role="viewer",
    path_params=PATHS,
    query=LOG_QUERY,
    summary="Log text from a byte offset; pass next_offset back to continue.",
    response=ref("LogChunk"),
)
def task_logs(project: str, task: str):
    task_id = _resolve(project, task)
    run_no = query_int("run", None, minimum=1, maximum=10**9)
    if run_no is not None:
        runs = orchestration.get_task_meta(project, task_id).run_no
        if run_no > runs:
            abort(404, f"Task {task_id} has runs 1 to {runs}; there is no run {run_no}")
    chunk = orchestration.read_task_log(
        project,
        task_id,
        offset=query_int("offset", 0, maximum=MAX_OFFSET),
        max_bytes=query_int("max_bytes", 256 * 1024, minimum=1, maximum=MAX_LOG_READ),
        run_no=run_no,
    )
    return log_json(chunk)


def log_json(chunk) -> dict:
    return to_json(chunk, tuple(name for name in ("text", "at_end") if hasattr(type(chunk), name)))
