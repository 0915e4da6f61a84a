"""Deleting a task from a request without waiting on it (no request blocks on a task).

The ``deleting`` mark is written first (orchestration's quick step; a running task also gets
its stop request). A task that still runs is then left to the worker, which stops it and
finishes the delete (archive, removal); any other task is archived and removed at once, so
the answer can link to its archived page. Once marked, a queued task can no longer be
claimed, so the synchronous part never waits for a process. No Flask here.
"""

from __future__ import annotations

from dataclasses import dataclass

from webapp import orchestration
from webapp.orchestration import errors


@dataclass(frozen=True)
class DeleteOutcome:
    """What a delete did: finished now (``result``), or left to the worker (``pending``)."""

    task_id: str
    result: orchestration.TaskDeleteResult | None = None
    pending: bool = False
    """The task is still running: it shows as "deleting" until the worker finishes."""
    gone: bool = False
    """Another process (a worker) finished this delete first; the archive has it."""

    @property
    def archive_id(self) -> str | None:
        directory = self.result.archive_dir if self.result else None
        return directory.name if directory else None

    @property
    def warnings(self) -> list[str]:
        return list(self.result.warnings) if self.result else []

    @property
    def summary(self) -> str:
        """What happened, in words (the audit detail in the dashboard and the API)."""
        if self.pending:
            return "deleting: stop requested, a worker archives it"
        if self.gone:
            return "archived by a worker"
        return "; ".join(self.warnings) or "archived"


def delete_task(project_id: str, task_id: str, *, actor: str) -> DeleteOutcome:
    """Delete now, or mark for the worker if it still runs; never waits for a process.

    Raises TaskStateConflict (a member of a queued or running graph, or another process
    deleting it right now) and the usual lookup errors.
    """
    orchestration.mark_task_deleting(project_id, task_id, actor=actor)
    try:
        task = orchestration.get_task_meta(project_id, task_id)
        if task.engine_status == "running":
            return DeleteOutcome(task_id, pending=True)
        return DeleteOutcome(task_id, orchestration.task_delete(project_id, task_id, actor=actor))
    except errors.TaskStateConflict:
        return DeleteOutcome(task_id, pending=True)  # a worker took the delete over meanwhile
    except errors.TaskNotFound:
        return DeleteOutcome(task_id, gone=True)  # ... and has already finished it
