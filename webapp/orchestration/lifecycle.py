"""The task lifecycle of seed 000 on SQLite: one function per operation.

Each operation is one ``BEGIN IMMEDIATE`` transaction that writes the task record, the
engine run and the transition log together (the store's hook records transitions of
engine saves). Nothing here runs a task: workers claim queued runs on their own.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from webapp.engine.task import Task, TaskResult, TaskStatus, TaskType
from webapp.orchestration import artifacts, context, recovery, workspace
from webapp.orchestration.archive import archive_task
from webapp.orchestration.errors import (
    ArchiveIncomplete,
    InvalidTaskRequest,
    TaskNotFound,
    TaskStateConflict,
)
from webapp.orchestration.identity import generate_task_id
from webapp.orchestration.naming import clean_task_name, generate_task_name
from webapp.orchestration.projects import project_row
from webapp.orchestration.query import TaskMeta, get_task_meta
from webapp.orchestration.status import derive_status
from webapp.store import records, workers
from webapp.store.db import immediate

log = logging.getLogger(__name__)

MAX_PAYLOAD_CHARS = 1_000_000
MAX_DESCRIPTION_CHARS = 10_000
MAX_TIMEOUT = 7 * 24 * 3600.0
STOP_WAIT_MARGIN = 5.0
STALE_DELETE_SECONDS = 3600.0


@dataclass(frozen=True)
class TaskDeleteResult:
    """Outcome of a delete: it always completes; ``warnings`` lists steps that did not."""

    task_id: str
    warnings: list[str] = field(default_factory=list)
    archive_dir: Path | None = None
    project_id: str = ""


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
    if len(payload) > MAX_PAYLOAD_CHARS or "\x00" in payload:
        raise InvalidTaskRequest(
            f"The payload must be text of at most {MAX_PAYLOAD_CHARS} characters without NUL"
        )
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidTaskRequest(f"The description must be text of at most {MAX_DESCRIPTION_CHARS}")
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or not 0 < timeout <= MAX_TIMEOUT
    ):
        raise InvalidTaskRequest(
            f"timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT:.0f} "
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
    return float(min(timeout, 3600.0))


def _cancel_queued(db: Any, row: dict[str, Any], actor: str, reason: str) -> None:
    store = context.store()
    run = store.tasks[row["run_id"]]
    now = datetime.now()
    run.cancel()
    run._set_result(
        TaskResult(run.id, TaskStatus.CANCELLED, now, now, 0.0, error="cancelled",
                   termination_reason="cancelled")
    )  # fmt: skip
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


# -- delete ---------------------------------------------------------------------------------
def mark_task_deleting(
    project_id: str, task_id: str, *, actor: str = "system", owner: str | None = None
) -> dict[str, Any]:
    """Persist the ``deleting`` mark (a running task also gets a stop request).

    With ``owner=None`` the next worker finishes the delete; ``task_delete`` passes its own
    process token. Raises TaskStateConflict while another live process is deleting it.
    """
    grace = float(project_row(project_id)["shutdown_grace"])
    with _transaction() as db:
        row = _record(db, project_id, task_id)
        previous = row["delete_owner"]
        if row["deleting"] and previous is not None and previous != owner:
            alive = recovery.token_alive(previous)
            stale = _age(row["deleting_at"]) > STALE_DELETE_SECONDS
            if alive or (alive is None and not stale):
                raise TaskStateConflict(f"Task {task_id} is already being deleted")
        if row["deleting"] and owner is None:
            return row
        fields = {"delete_owner": owner}
        if not row["deleting"]:
            fields.update(deleting=1, deleting_by=actor, deleting_at=records.now_text())
            fields["status"] = derive_status(row["engine_status"], deleting=True)
        records.update_task_record(db, project_id, task_id, fields)
        if not row["deleting"]:
            records.add_transition(
                db,
                {
                    "project_id": project_id, "task_id": task_id, "run_id": row["run_id"],
                    "run_no": row["run_no"], "actor": actor, "from_status": row["status"],
                    "to_status": fields["status"], "reason": "delete requested",
                },
            )  # fmt: skip
        if row["engine_status"] == "running":
            _request_stop(db, row, actor, grace)
        return {**row, **fields}


def _age(text: str | None) -> float:
    moment = records.parse_time(text)
    return 0.0 if moment is None else (datetime.now(moment.tzinfo) - moment).total_seconds()


def _wait_until_stopped(project_id: str, task_id: str, limit: float) -> dict[str, Any]:
    db = context.db()
    deadline = time.monotonic() + limit
    pause = threading.Event()
    while True:
        row = _record(db, project_id, task_id)
        if row["engine_status"] != "running" or time.monotonic() >= deadline:
            return row
        pause.wait(0.05)


def _snapshot(row: dict[str, Any], actor: str) -> dict[str, Any]:
    db = context.db()
    project = project_row(row["project_id"])
    keep = ("name", "type", "payload", "description", "timeout", "engine_status", "exit_code",
            "error", "created_at", "created_by", "queued_at", "started_at", "finished_at",
            "run_no")  # fmt: skip
    snapshot = {key: row[key] for key in keep}
    snapshot["status"] = derive_status(row["engine_status"], termination_reason=row["reason"])
    snapshot["termination_reason"] = row["reason"]
    snapshot["runs"] = [
        {k: v for k, v in run.items() if k not in ("pid", "pgid", "proc_start", "lost")}
        for run in records.runs_of(db, row["project_id"], row["task_id"])
    ]
    snapshot["transitions"] = [
        {k: v for k, v in t.items() if k not in ("id", "project_id", "task_id")}
        for t in records.transitions_of(db, row["project_id"], row["task_id"])
    ]
    snapshot["project"] = {"name": project["name"], "git_repo": project["git_repo"],
                           "env_names": sorted(project["env"])}  # fmt: skip
    snapshot.update(deleted_by=actor, deleted_at=records.now_text())
    return snapshot


def _archive(row: dict[str, Any], actor: str, warnings: list[str]) -> Path | None:
    project_id, task_id = row["project_id"], row["task_id"]
    if row["archived_to"] and Path(row["archived_to"]).is_dir():
        return Path(row["archived_to"])
    settings = context.current()
    try:
        target = archive_task(
            settings.archive_root,
            project_id,
            task_id,
            row["name"],
            _snapshot(row, actor),
            artifacts.log_dir(project_id, task_id),
        )
    except ArchiveIncomplete as exc:  # fmt: skip
        warnings.append(str(exc))
        target = Path(exc.archive_dir)
    except Exception as exc:
        log.exception("archiving %s/%s failed", project_id, task_id)
        warnings.append(f"Archiving failed, the task's logs are lost: {exc}")
        return None
    with _transaction() as db:
        records.update_task_record(db, project_id, task_id, {"archived_to": str(target)},
                                   bump=False)  # fmt: skip
    return target


def task_delete(project_id: str, task_id: str, *, actor: str = "system") -> TaskDeleteResult:
    """Delete a task: mark it, stop it, archive it (snapshot + every run's log), remove it.

    Always completes; steps that fail become ``warnings``. An interrupted delete keeps the
    ``deleting`` mark and is finished by the next worker start.
    """
    warnings: list[str] = []
    token = recovery.process_token()
    row = mark_task_deleting(project_id, task_id, actor=actor, owner=token)
    if row["engine_status"] == "running":
        grace = float(project_row(project_id)["shutdown_grace"])
        row = _wait_until_stopped(project_id, task_id, grace + STOP_WAIT_MARGIN)
        if row["engine_status"] == "running":
            run = records.get_run(context.db(), row["run_id"])
            outcome = recovery.kill_process_group(run["pgid"], run["proc_start"])
            warnings.append(
                f"Task {task_id} was still running {grace + STOP_WAIT_MARGIN:g} s after the "
                f"stop request; its process group was {outcome}"
            )
    archive_dir = _archive(row, actor, warnings)
    try:
        workspace.remove_task_dir(context.current().tasks_root, project_id, task_id)
    except OSError as exc:
        warnings.append(f"Could not remove the task's workspace and logs: {exc}")
    with _transaction() as db:
        records.delete_task_rows(db, project_id, task_id)
    return TaskDeleteResult(task_id, warnings, archive_dir, project_id)


def resume_interrupted_deletes(
    actor: str = "recovery", *, skip_running: bool = False
) -> list[TaskDeleteResult]:
    """Finish deletes whose deleting process died (or that were left to a worker).

    ``skip_running`` leaves tasks that still run (a worker loop must not wait on its own
    stop requests; it finishes them on a later pass).
    """
    done = []
    for row in records.deleting_records(context.db()):
        if skip_running and row["engine_status"] == "running":
            continue
        owner = row["delete_owner"]
        alive = recovery.token_alive(owner) if owner else False
        if alive or (alive is None and _age(row["deleting_at"]) < STALE_DELETE_SECONDS):
            continue
        try:
            done.append(task_delete(row["project_id"], row["task_id"],
                                    actor=row["deleting_by"] or actor))  # fmt: skip
        except (TaskStateConflict, TaskNotFound):
            continue  # another process took it over or finished it meanwhile
    return done
