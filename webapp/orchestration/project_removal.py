"""Deleting a project: every task is archived (as a task delete does), then the project goes.

A project with queued or running tasks or workflows is refused with the list of what to stop
first: a delete never kills work behind the user's back, and never waits on it. Its archived
tasks stay on disk under the archive folder (a project created again with the same ID shows
them again).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from webapp.orchestration import context
from webapp.orchestration.deletion import task_delete
from webapp.orchestration.errors import TaskStateConflict
from webapp.orchestration.lifecycle import _transaction
from webapp.orchestration.projects import project_row
from webapp.store import graph_records, records

ACTIVE_TASKS = ("queued", "running", "deleting")
ACTIVE_GRAPHS = ("queued", "running")
SHOWN_IDS = 10


@dataclass(frozen=True)
class ProjectDeletePlan:
    """What deleting a project would do (the confirmation shows it)."""

    project_id: str
    tasks: int
    """Tasks that would be archived."""
    active_tasks: list[str]
    """IDs of tasks that are queued, running or being deleted (they block the delete)."""
    active_graphs: list[str]
    """IDs of workflows that are queued or running (they block the delete)."""
    graphs: int = 0

    @property
    def blocked(self) -> str | None:
        """Why the delete is refused right now, in words; None when it may go ahead."""
        parts = []
        if self.active_tasks:
            shown = ", ".join(self.active_tasks[:SHOWN_IDS])
            more = len(self.active_tasks) - SHOWN_IDS
            shown += f" and {more} more" if more > 0 else ""
            parts.append(f"{len(self.active_tasks)} queued or running task(s) ({shown})")
        if self.active_graphs:
            parts.append(
                f"{len(self.active_graphs)} queued or running workflow(s) "
                f"({', '.join(self.active_graphs[:SHOWN_IDS])})"
            )
        if not parts:
            return None
        return (
            f"Project {self.project_id} still has {' and '.join(parts)}; stop or cancel them "
            "first, then delete the project"
        )


@dataclass(frozen=True)
class ProjectDeleteResult:
    project_id: str
    archived: int
    warnings: list[str] = field(default_factory=list)


def project_delete_plan(project_id: str) -> ProjectDeletePlan:
    project_row(project_id)  # ProjectNotFound
    db = context.db()
    rows = records.all_task_records(db, project_id)
    graphs = graph_records.list_graphs(db, project_id, limit=1_000_000)
    return ProjectDeletePlan(
        project_id=project_id,
        tasks=len(rows),
        active_tasks=[r["task_id"] for r in rows if r["status"] in ACTIVE_TASKS],
        active_graphs=[g["graph_id"] for g in graphs if g["status"] in ACTIVE_GRAPHS],
        graphs=len(graphs),
    )


def project_delete(project_id: str, *, actor: str = "system") -> ProjectDeleteResult:
    """Archive every task of the project, then remove it; TaskStateConflict while busy."""
    plan = project_delete_plan(project_id)
    if plan.blocked:
        raise TaskStateConflict(plan.blocked)
    warnings: list[str] = []
    archived = 0
    for row in records.all_task_records(context.db(), project_id):
        result = task_delete(project_id, row["task_id"], actor=actor)
        warnings += [f"{row['task_id']}: {warning}" for warning in result.warnings]
        archived += 1
    with _transaction() as db:
        if records.has_tasks(db, project_id):
            raise TaskStateConflict(
                f"Tasks were added to project {project_id} while it was being deleted; "
                "it is kept: delete it again"
            )
        busy = graph_records.list_graphs(db, project_id, limit=1_000_000)
        if any(g["status"] in ACTIVE_GRAPHS for g in busy):
            raise TaskStateConflict(
                f"A workflow of project {project_id} was started while it was being deleted; "
                "it is kept: cancel the workflow, then delete it again"
            )
        records.delete_project_rows(db, project_id)
    return ProjectDeleteResult(project_id, archived, warnings)
