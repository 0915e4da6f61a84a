"""Deleting a task: mark it, stop it, archive it, remove it; resumable after a crash.

``task_delete`` always completes and reports the steps that did not as warnings (terok's
delete-with-archive protocol). The ``deleting`` mark is written first with the deleting
process's token; a delete whose process died is finished by the next worker.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from webapp.orchestration import (
    archive_index,
    artifacts,
    context,
    recovery,
    search,
    workspace,
)
from webapp.orchestration.archive import archive_task
from webapp.orchestration.errors import ArchiveIncomplete, TaskNotFound, TaskStateConflict
from webapp.orchestration.lifecycle import _record, _request_stop, _transaction
from webapp.orchestration.projects import project_row
from webapp.orchestration.status import derive_status
from webapp.store import graph_records, records

log = logging.getLogger(__name__)

STOP_WAIT_MARGIN = 5.0
STALE_DELETE_SECONDS = 3600.0


@dataclass(frozen=True)
class TaskDeleteResult:
    """Outcome of a delete: it always completes; ``warnings`` lists steps that did not."""

    task_id: str
    warnings: list[str] = field(default_factory=list)
    archive_dir: Path | None = None
    project_id: str = ""


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
        graph = row["graph_id"] and graph_records.get_graph(db, row["graph_id"])
        if graph and graph["status"] in ("queued", "running"):
            raise TaskStateConflict(
                f"Task {task_id} belongs to graph {graph['graph_id']}, which is "
                f"{graph['status']}; cancel the graph before deleting its tasks"
            )
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
        _index(project_id, task_id, Path(row["archived_to"]), warnings)
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
    _index(project_id, task_id, target, warnings)
    return target


def _index(project_id: str, task_id: str, target: Path, warnings: list[str]) -> None:
    """Put the archive in the archive list's index (``webapp archive reindex`` repairs it)."""
    try:
        archive_index.index_folder(target)
        search.on_archived(project_id, task_id, target)
    except Exception as exc:
        log.exception("indexing the archive %s failed", target)
        warnings.append(f"The archive was written but not indexed ({exc}); "
                        "run 'webapp archive reindex' to list it")  # fmt: skip


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
