"""Saved workflows: a named definition, a new version on each edit, run any number of times.

Each run is a workflow run (a graph record, see ``graphs``) with its own member tasks. A run
remembers its definition and which member task each key became, so a member can be rerun
from the latest version: ``graph_rerun_from`` reruns a member and everything downstream of
it (DONE upstream kept), ``graph_retry_failed`` reruns the failed, blocked, cancelled and lost
members. Either way each rerun member gets a new run (run 2, with its own log), like a
retried task.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from webapp.engine.graph import TaskGraph
from webapp.engine.task import Task, TaskType
from webapp.limits import GRAPH_TITLE_MAX_CHARS
from webapp.orchestration import context
from webapp.orchestration.errors import InvalidTaskRequest, TaskNotFound, TaskStateConflict
from webapp.orchestration.graphs import GraphMeta, _graph_row, graph_get, graph_new
from webapp.orchestration.lifecycle import _insert_run, _transaction
from webapp.orchestration.projects import project_row
from webapp.store import graph_records, records
from webapp.store import member_keys as key_records

MAX_NAME = GRAPH_TITLE_MAX_CHARS
RERUN_STATUSES = ("failed", "completed", "cancelled")


@dataclass(frozen=True)
class WorkflowMeta:
    """A saved workflow and, when read one at a time, its versions and latest definition."""

    project_id: str
    workflow_id: str
    name: str
    created_at: datetime
    created_by: str | None
    updated_at: datetime
    latest_version: int
    definition: dict = field(default_factory=dict)
    """The latest version's checked definition."""
    versions: list[dict] = field(default_factory=list)
    """``{"version", "created_at", "created_by"}`` newest first."""


def _meta(row: Mapping, definition: dict | None = None, versions=()) -> WorkflowMeta:
    parse = records.parse_time
    return WorkflowMeta(
        project_id=row["project_id"], workflow_id=row["workflow_id"], name=row["name"],
        created_at=parse(row["created_at"]), created_by=row["created_by"],
        updated_at=parse(row["updated_at"]), latest_version=row["latest_version"],
        definition=definition or {}, versions=list(versions),
    )  # fmt: skip


def _row(db: Any, project_id: str, workflow_id: str) -> dict:
    found = db.execute(
        "SELECT * FROM workflows WHERE workflow_id = ? AND project_id = ? AND archived_at IS NULL",
        [str(workflow_id), project_id],
    ).fetchone()
    if found is None:
        project_row(project_id)
        raise TaskNotFound(f"Unknown workflow {workflow_id!r} in project {project_id}")
    columns = [c[0] for c in db.execute("SELECT * FROM workflows LIMIT 0").description]
    return dict(zip(columns, found, strict=True))


def workflow_save(
    project_id: str,
    definition: Mapping[str, Any],
    *,
    workflow_id: str | None = None,
    name: str | None = None,
    actor: str = "system",
) -> WorkflowMeta:
    """Save a checked definition: a new workflow, or a new version of ``workflow_id`` (none
    when the definition is the same as the latest one)."""
    project_row(project_id)
    text = json.dumps(dict(definition), sort_keys=True)
    now = records.now_text()
    with _transaction() as db:
        if workflow_id is None:
            workflow_id = str(uuid.uuid4())
            chosen = (name or definition.get("title") or "workflow").strip()[:MAX_NAME]
            db.execute(
                "INSERT INTO workflows (workflow_id, project_id, name, created_at, created_by, "
                "updated_at, latest_version) VALUES (?, ?, ?, ?, ?, ?, 0)",
                [workflow_id, project_id, chosen, now, actor, now],
            )
            latest = 0
        else:
            row = _row(db, project_id, workflow_id)
            latest = row["latest_version"]
            if _definition(db, workflow_id, latest) == json.loads(text):
                return workflow_get(project_id, workflow_id)
        db.execute(
            "INSERT INTO workflow_versions (workflow_id, version, definition, created_at, "
            "created_by) VALUES (?, ?, ?, ?, ?)",
            [workflow_id, latest + 1, text, now, actor],
        )
        fields = [latest + 1, now, workflow_id]
        sql = "UPDATE workflows SET latest_version = ?, updated_at = ?"
        if name and latest:
            sql, fields = (
                sql + ", name = ?",
                [latest + 1, now, name.strip()[:MAX_NAME], workflow_id],
            )
        db.execute(sql + " WHERE workflow_id = ?", fields)
        records.bump_project(db, project_id)
    return workflow_get(project_id, workflow_id)


def _definition(db: Any, workflow_id: str, version: int) -> dict | None:
    found = db.execute(
        "SELECT definition FROM workflow_versions WHERE workflow_id = ? AND version = ?",
        [workflow_id, version],
    ).fetchone()
    return None if found is None else json.loads(found[0])


def workflow_get(project_id: str, workflow_id: str, *, version: int | None = None):
    """A workflow with its versions and the definition of ``version`` (default: latest)."""
    db = context.db()
    row = _row(db, project_id, workflow_id)
    chosen = row["latest_version"] if version is None else version
    definition = _definition(db, row["workflow_id"], chosen)
    if definition is None:
        raise TaskNotFound(f"Workflow {workflow_id} has no version {version}")
    versions = [
        {"version": v, "created_at": records.parse_time(at), "created_by": by}
        for v, at, by in db.execute(
            "SELECT version, created_at, created_by FROM workflow_versions "
            "WHERE workflow_id = ? ORDER BY version DESC",
            [row["workflow_id"]],
        ).fetchall()
    ]
    return _meta(row, definition, versions)


def workflow_list(project_id: str, *, limit: int = 100) -> list[WorkflowMeta]:
    project_row(project_id)
    db = context.db()
    cursor = db.execute(
        "SELECT * FROM workflows WHERE project_id = ? AND archived_at IS NULL "
        "ORDER BY updated_at DESC LIMIT ?",
        [project_id, limit],
    )
    columns = [c[0] for c in cursor.description]
    return [_meta(dict(zip(columns, r, strict=True))) for r in cursor.fetchall()]


def workflow_run(
    project_id: str, workflow_id: str, *, version: int | None = None, actor: str = "system"
) -> GraphMeta:
    """Start a new run of a saved workflow (its latest version unless told)."""
    workflow = workflow_get(project_id, workflow_id, version=version)
    chosen = version or workflow.latest_version
    return graph_new(project_id, workflow.definition, actor=actor,
                     workflow=(workflow.workflow_id, chosen))  # fmt: skip


def workflow_runs(project_id: str, workflow_id: str, *, limit: int = 100) -> list[GraphMeta]:
    """A workflow's runs, newest first, with their member counts."""
    from webapp.orchestration.graphs import _meta as graph_meta

    db = context.db()
    _row(db, project_id, workflow_id)
    rows = graph_records.list_workflow_runs(db, workflow_id, limit)
    counts = graph_records.member_status_counts(db, [row["graph_id"] for row in rows])
    return [graph_meta(row, counts=counts.get(row["graph_id"], {})) for row in rows]


def workflow_archive(project_id: str, workflow_id: str, *, actor: str = "system") -> None:
    """Take a workflow off the lists (its runs and their tasks stay where they are)."""
    with _transaction() as db:
        _row(db, project_id, workflow_id)
        db.execute(
            "UPDATE workflows SET archived_at = ? WHERE workflow_id = ?",
            [records.now_text(), workflow_id],
        )
        records.bump_project(db, project_id)


def member_keys(project_id: str, graph_id: str) -> dict[str, str]:
    """key -> member task_id of a run ({} for runs made before keys were kept)."""
    row = _graph_row(context.db(), project_id, graph_id)
    return json.loads(row.get("member_keys") or "{}")


def downstream(graph: GraphMeta, task_id: str) -> list[str]:
    """``task_id`` and every member that runs after it, directly or not (definition order)."""
    children: dict[str, list[str]] = {}
    for child, parents in graph.dependencies.items():
        for parent in parents:
            children.setdefault(parent, []).append(child)
    seen, stack = {task_id}, [task_id]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return [m.task_id for m in graph.members if m.task_id in seen]


def graph_rerun_from(
    project_id: str, graph_id: str, task_id: str, *, actor: str = "system"
) -> GraphMeta:
    """Rerun a finished run from one member: it and everything downstream run again, the
    completed members upstream are kept. A run of a saved workflow starts a new run of its
    latest version that takes those members over as completed; any other run reruns them in
    place (each gets run 2)."""
    graph = graph_get(project_id, graph_id)
    if task_id not in graph.dependencies:
        raise TaskNotFound(f"Task {task_id!r} is not a member of workflow run {graph_id}")
    if graph.status not in RERUN_STATUSES:
        raise TaskStateConflict(f"Graph {graph_id} is {graph.status}; wait for it to end")
    if graph.workflow_id is None:
        return _rerun(project_id, graph, downstream(graph, task_id), actor, f"from {task_id}")
    keys = member_keys(project_id, graph_id)
    key_of = {member: key for key, member in keys.items()}
    workflow = workflow_get(project_id, graph.workflow_id)
    after = {spec["key"]: spec.get("after", []) for spec in workflow.definition["tasks"]}
    start = key_of.get(task_id)
    if start not in after:
        raise TaskStateConflict(
            f"The workflow's latest version has no task {start!r}; run it again instead"
        )
    rerun = _downstream_keys(after, start)
    by_task = {m.task_id: m for m in graph.members}
    kept = {
        key: by_task[keys[key]]
        for key in after
        if key not in rerun and key in keys and keys[key] in by_task
        and by_task[keys[key]].engine_status == "done"
    }  # fmt: skip
    version = (workflow.workflow_id, workflow.latest_version)
    return graph_new(project_id, workflow.definition, actor=actor, workflow=version, kept=kept)


def _downstream_keys(after: Mapping[str, list], start: str) -> set[str]:
    children: dict[str, list[str]] = {}
    for key, parents in after.items():
        for parent in parents:
            children.setdefault(parent, []).append(key)
    seen, stack = {start}, [start]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def graph_retry_failed(project_id: str, graph_id: str, *, actor: str = "system") -> GraphMeta:
    """Rerun a failed run's members that did not complete (each gets a new run)."""
    graph = graph_get(project_id, graph_id)
    if graph.status != "failed":
        raise TaskStateConflict(
            f"Graph {graph_id} is {graph.status}; only failed graphs can be rerun"
        )
    chosen = [m.task_id for m in graph.members if m.engine_status != "done"]
    return _rerun(project_id, graph, chosen, actor, "failed tasks")


def _rerun(project_id: str, graph: GraphMeta, chosen: list[str], actor: str, how: str):
    if graph.status not in RERUN_STATUSES:
        raise TaskStateConflict(f"Graph {graph.graph_id} is {graph.status}; wait for it to end")
    if not chosen:
        raise InvalidTaskRequest("Nothing to rerun: every task completed")
    specs: dict[str, dict] = {}
    store = context.store()
    with _transaction() as db:
        _graph_row(db, project_id, graph.graph_id)
        old = store.graphs[graph.graph_id]
        rows = {m.run_id: m for m in graph.members}
        by_task = {m.task_id: m for m in graph.members}
        # a member that did not complete runs again too (the engine would retry it anyway):
        # it gets its own new run rather than a second attempt inside its first one
        picked = {by_task[t].run_id for t in chosen}
        picked |= {m.run_id for m in graph.members if m.engine_status != "done"}
        rebuilt, replaced = TaskGraph(title=old.title, _id=old.id, created_at=old.created_at), {}
        now = records.now_text()
        for task in old:
            if task.id in picked:
                meta = rows[task.id]
                spec = specs.get(meta.task_id, {})
                fresh = Task(task.title, spec.get("payload", task.payload),
                             TaskType(spec.get("type", task.type.value)),
                             description=spec.get("description", task.description),
                             timeout=spec.get("timeout", task.timeout))  # fmt: skip
                replaced[task.id] = fresh
                run_no = meta.run_no + 1
                _insert_run(db, project_id, meta.task_id, fresh.id, run_no, now, actor)
                records.update_task_record(db, project_id, meta.task_id, {
                    "run_id": fresh.id, "run_no": run_no, "engine_status": "pending",
                    "status": "queued", "payload": fresh.payload, "type": fresh.type.value,
                    "description": fresh.description, "timeout": fresh.timeout,
                    "reason": None, "exit_code": None, "error": None, "queued_at": now,
                    "started_at": None, "finished_at": None, "stop_requested_by": None,
                })  # fmt: skip
        # a rerun member's new run keeps its key (prompts name upstream outputs by key)
        known = key_records.keys_of(db, list(replaced))
        key_records.remember_keys(db, graph.graph_id, {
            fresh.id: known[old_id] for old_id, fresh in replaced.items() if old_id in known
        })  # fmt: skip
        for task in old:
            after = [replaced.get(d.id, d) for d in old.dependencies(task)]
            flags = {"finally_": old.is_finally(task), "required": not old.is_optional(task)}
            rebuilt.add(replaced.get(task.id, task), after=after, **flags)
        with store.acting(actor, f"rerun {how}"):
            store.graphs.save(rebuilt)
        graph_records.update_graph(db, graph.graph_id, {
            "status": "queued", "queued_at": now, "worker_id": None, "finished_at": None,
            "cancel_requested_by": None, "note": f"rerun {how} by {actor}",
        })  # fmt: skip
    return graph_get(project_id, graph.graph_id)


def graph_run_again(project_id: str, graph_id: str, *, actor: str = "system") -> GraphMeta:
    """A new run with the same definition (and workflow version) as a finished run."""
    graph = graph_get(project_id, graph_id)
    if not graph.is_terminal:
        raise TaskStateConflict(f"Graph {graph_id} is {graph.status}; wait for it to end")
    row = _graph_row(context.db(), project_id, graph_id)
    if not row.get("definition"):
        raise TaskStateConflict(f"Graph {graph_id} was made before definitions were kept")
    workflow = (graph.workflow_id, graph.workflow_version) if graph.workflow_id else None
    return graph_new(project_id, json.loads(row["definition"]), actor=actor, workflow=workflow)


def graph_delete(project_id: str, graph_id: str, *, actor: str = "system") -> GraphMeta:
    """Delete a finished run: each member task is archived (snapshot and logs) and removed,
    then the run itself."""
    from webapp.orchestration.deletion import task_delete

    graph = graph_get(project_id, graph_id)
    if not graph.is_terminal:
        raise TaskStateConflict(f"Graph {graph_id} is {graph.status}; cancel it first")
    for member in graph.members:
        task_delete(project_id, member.task_id, actor=actor)
    with _transaction() as db:
        db.execute("DELETE FROM graph_records WHERE graph_id = ?", [graph_id])
        records.bump_project(db, project_id)
    return graph
