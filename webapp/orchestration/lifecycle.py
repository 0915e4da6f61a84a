"""The task lifecycle of seed 000 on SQLite: one function per operation.

Deleting (with its archive and resumable ``deleting`` mark) is in :mod:`.deletion`.

Each operation is one ``BEGIN IMMEDIATE`` transaction that writes the task record, the
engine run and the transition log together (the store's hook records transitions of
engine saves). Nothing here runs a task: workers claim queued runs on their own.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from webapp.engine.executor import TaskExecutor
from webapp.engine.task import Task, TaskType
from webapp.limits import (
    DESCRIPTION_MAX_CHARS,
    PAYLOAD_MAX_CHARS,
    STOP_GRACE_MAX_SECONDS,
    TIMEOUT_MAX_SECONDS,
)
from webapp.orchestration import context, workspace
from webapp.orchestration.errors import (
    InvalidTaskRequest,
    TaskNotFound,
    TaskStateConflict,
)
from webapp.orchestration.identity import generate_task_id
from webapp.orchestration.naming import clean_task_name, generate_task_name
from webapp.orchestration.projects import project_row
from webapp.orchestration.query import TaskMeta, get_task_meta
from webapp.store import records, workers
from webapp.store.db import immediate

log = logging.getLogger(__name__)


@contextmanager
def _transaction() -> Iterator[Any]:
    store = context.store()
    with store.lock, store.write_lock, immediate(store.db) as db:
        yield db


def _record(db: Any, project_id: str, task_id: str) -> dict[str, Any]:
    row = records.get_task_record(db, project_id, task_id)
    if row is None:
        project_row(project_id)
        raise TaskNotFound(f"Unknown task {task_id} in project {project_id}")
    return row


class _LiveIds:
    """The project's live task IDs as a Container, checked one indexed lookup at a time."""

    def __init__(self, db: Any, project_id: str) -> None:
        self.db, self.project_id = db, project_id

    def __contains__(self, task_id: object) -> bool:
        return records.task_version(self.db, self.project_id, str(task_id)) is not None


def _check_definition(type: Any, payload: Any, description: Any, timeout: Any) -> TaskType:
    try:
        kind = TaskType(getattr(type, "value", type))
    except ValueError:
        kinds = ", ".join(t.value for t in TaskType)
        raise InvalidTaskRequest(f"Unknown task type {type!r}; expected one of: {kinds}") from None
    if not isinstance(payload, str) or not payload.strip():
        raise InvalidTaskRequest("The payload must not be empty: give the command or prompt")
    if len(payload) > PAYLOAD_MAX_CHARS or "\x00" in payload:
        raise InvalidTaskRequest(
            f"The payload must be text of at most {PAYLOAD_MAX_CHARS} characters without NUL"
        )
    if not isinstance(description, str) or len(description) > DESCRIPTION_MAX_CHARS:
        raise InvalidTaskRequest(f"The description must be text of at most {DESCRIPTION_MAX_CHARS}")
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or not 0 < timeout <= TIMEOUT_MAX_SECONDS
    ):
        raise InvalidTaskRequest(
            f"timeout must be a number of seconds above 0 and at most {TIMEOUT_MAX_SECONDS:.0f} "
            f"(or empty for none), got {timeout!r}"
        )
    return kind


def _make_workspace(project_id: str, task_id: str, git_repo: str | None) -> None:
    root = context.current().tasks_root
    try:
        workspace.create_workspace(root, project_id, task_id, new_task=bool(git_repo))
    except OSError as exc:  # the worker creates it again before the first run
        log.warning("could not create the workspace of %s/%s: %s", project_id, task_id, exc)


def task_new(
    project_id: str,
    *,
    name: str | None = None,
    type: str | TaskType = "bash",
    payload: str,
    description: str = "",
    timeout: float | None = None,
    actor: str = "system",
) -> TaskMeta:
    """Queue a new task; a blank name gets a generated ``adjective-noun`` one."""
    project = project_row(project_id)
    kind = _check_definition(type, payload, description, timeout)
    if name is None or (isinstance(name, str) and not name.strip()):
        clean = generate_task_name(project_id, project["name_categories"])
    else:
        clean = clean_task_name(name)
    run = Task(clean, payload, kind, description=description, timeout=timeout)
    now = records.now_text()
    store = context.store()
    with _transaction() as db:
        task_id = generate_task_id(_LiveIds(db, project_id))
        records.insert_task_record(
            db,
            {
                "project_id": project_id, "task_id": task_id, "run_id": run.id, "run_no": 1,
                "name": clean, "type": kind.value, "payload": payload,
                "description": description, "timeout": timeout, "status": "queued",
                "engine_status": "pending", "created_at": now, "created_by": actor,
                "queued_at": now, "deleting": 0, "version": 1,
            },
        )  # fmt: skip
        _insert_run(db, project_id, task_id, run.id, 1, now, actor)
        with store.acting(actor, "created"):
            store.tasks.save(run)
    _make_workspace(project_id, task_id, project["git_repo"])
    return get_task_meta(project_id, task_id)


def _insert_run(db: Any, project_id: str, task_id: str, run_id: str, run_no: int, now, actor):
    records.insert_run(
        db,
        {
            "run_id": run_id, "project_id": project_id, "task_id": task_id, "run_no": run_no,
            "created_at": now, "created_by": actor, "status": "pending", "lost": 0,
        },
    )  # fmt: skip


def task_rename(project_id: str, task_id: str, new_name: str, *, actor: str = "system"):
    """Give a task a new (sanitized) name; allowed in any status but deleting."""
    clean = clean_task_name(new_name) if isinstance(new_name, str) else clean_task_name("")
    with _transaction() as db:
        row = _record(db, project_id, task_id)
        if row["deleting"]:
            raise TaskStateConflict(f"Task {task_id} is being deleted; it cannot be renamed")
        if clean != row["name"]:
            records.update_task_record(db, project_id, task_id, {"name": clean})
            records.add_transition(
                db,
                {
                    "project_id": project_id, "task_id": task_id, "run_id": row["run_id"],
                    "run_no": row["run_no"], "actor": actor, "from_status": row["status"],
                    "to_status": row["status"], "reason": f"renamed {row['name']} -> {clean}",
                },
            )  # fmt: skip
    return get_task_meta(project_id, task_id)


def _grace(project: dict[str, Any], timeout: float | None) -> float:
    if timeout is None:
        return float(project["shutdown_grace"])
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
        raise InvalidTaskRequest(f"timeout must be 0 or more seconds, got {timeout!r}")
    return float(min(timeout, STOP_GRACE_MAX_SECONDS))


def cancel_unstarted(run: Task) -> None:
    """Cancel a run no worker holds, the engine's way (status, result and event together).

    An executor without a store changes the in-memory run only; the caller saves it inside
    its own transaction, so the cancel and its transition record land together.
    """
    TaskExecutor.empty().cancel(run)


def _cancel_queued(db: Any, row: dict[str, Any], actor: str, reason: str) -> None:
    store = context.store()
    run = store.tasks[row["run_id"]]
    cancel_unstarted(run)
    with store.acting(actor, reason):
        store.tasks.save(run)


def _request_stop(db: Any, row: dict[str, Any], actor: str, grace: float) -> None:
    run = records.get_run(db, row["run_id"])
    workers.add_stop_request(
        db,
        {
            "run_id": row["run_id"], "project_id": row["project_id"],
            "task_id": row["task_id"], "worker_id": run["worker_id"], "actor": actor,
            "requested_at": records.now_text(), "grace": grace,
        },
    )  # fmt: skip


def task_stop(
    project_id: str, task_id: str, *, timeout: float | None = None, actor: str = "system"
) -> TaskMeta:
    """Stop a task: a queued one is cancelled now; a running one gets a stop request.

    The owning worker sends SIGTERM to the task's process group and SIGKILL after
    ``timeout`` seconds (default: the project's shutdown grace); the task ends cancelled,
    attributed to ``actor``.
    """
    grace = _grace(project_row(project_id), timeout)
    with _transaction() as db:
        row = _record(db, project_id, task_id)
        engine = row["engine_status"]
        if row["graph_id"] is not None:
            raise TaskStateConflict(f"Task {task_id} belongs to a graph; cancel the graph")
        if engine == "pending":
            records.update_task_record(db, project_id, task_id, {"stop_requested_by": actor})
            _cancel_queued(db, row, actor, f"stopped by {actor} before it started")
        elif engine == "running":
            _request_stop(db, row, actor, grace)
            records.update_task_record(db, project_id, task_id, {"stop_requested_by": actor})
        else:
            raise TaskStateConflict(
                f"Task {task_id} is {row['status']}; only queued or running tasks can be stopped"
            )
    return get_task_meta(project_id, task_id)


def task_retry(project_id: str, task_id: str, *, actor: str = "system") -> TaskMeta:
    """Queue a new run of a finished task (same definition, same workspace, local work kept)."""
    store = context.store()
    with _transaction() as db:
        row = _record(db, project_id, task_id)
        if row["deleting"] or row["engine_status"] in ("pending", "running"):
            raise TaskStateConflict(
                f"Task {task_id} is {row['status']}; only finished tasks can be retried"
            )
        if row["graph_id"] is not None:
            raise TaskStateConflict(f"Task {task_id} belongs to a graph; rerun the graph")
        run_no = row["run_no"] + 1
        run = Task(row["name"], row["payload"], TaskType(row["type"]),
                   description=row["description"], timeout=row["timeout"])  # fmt: skip
        now = records.now_text()
        _insert_run(db, project_id, task_id, run.id, run_no, now, actor)
        records.update_task_record(
            db, project_id, task_id,
            {
                "run_id": run.id, "run_no": run_no, "engine_status": "pending",
                "reason": None, "exit_code": None, "error": None, "queued_at": now,
                "started_at": None, "finished_at": None, "stop_requested_by": None,
            },
        )  # fmt: skip
        with store.acting(actor, f"retry: run {run_no}"):
            store.tasks.save(run)
    return get_task_meta(project_id, task_id)


def update_task_exit_code(project_id: str, task_id: str, exit_code: int | None) -> None:
    """Record an exit code on the task's current run; a missing task is ignored (seed 000)."""
    with _transaction() as db:
        row = records.get_task_record(db, project_id, task_id)
        if row is not None:
            records.update_task_record(db, project_id, task_id, {"exit_code": exit_code})
            records.update_run(db, row["run_id"], {"exit_code": exit_code})
