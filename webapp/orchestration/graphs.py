"""DAG workflows: a graph of tasks run by a worker through the engine's ``TaskGraph``.

A definition names its tasks by keys and says which run after which::

    graph_new("demo", {"title": "build", "tasks": [
        {"key": "fetch", "payload": "git fetch"},
        {"key": "test", "payload": "make test", "after": ["fetch"]},
        {"key": "report", "payload": "make report", "after": ["test"], "finally": True},
    ]})

Each member is a task record like any other (listed, logged, archived) with ``graph_id``
set; plain claims skip members, a worker claims the graph as a whole and runs it with
``TaskGraph.run``. If that worker dies, its running members become "lost" and the graph is
queued again: the engine's rerun rule keeps DONE members and retries the failed ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from webapp.engine.graph import TaskGraph
from webapp.engine.task import Task
from webapp.limits import GRAPH_MAX_TASKS, GRAPH_TITLE_MAX_CHARS
from webapp.orchestration import context, upstream
from webapp.orchestration.errors import InvalidTaskRequest, TaskNotFound, TaskStateConflict
from webapp.orchestration.identity import generate_task_id
from webapp.orchestration.lifecycle import (
    _check_definition,
    _insert_run,
    _LiveIds,
    _make_workspace,
    _transaction,
    cancel_unstarted,
)
from webapp.orchestration.naming import clean_task_name, generate_task_name
from webapp.orchestration.projects import project_row
from webapp.orchestration.query import TaskMeta, task_meta_from_row
from webapp.orchestration.status import UI_STATUSES
from webapp.store import graph_records, member_keys, records, workers

GRAPH_STATUSES = ("queued", "running", "completed", "failed", "cancelled")


@dataclass(frozen=True)
class GraphMeta:
    """A workflow as pages show it; ``members`` in definition order (empty in lists)."""

    project_id: str
    graph_id: str
    title: str
    status: str
    created_at: datetime
    created_by: str | None
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    worker_id: str | None
    cancel_requested_by: str | None
    note: str | None
    attempts: int
    version: int
    members: list[TaskMeta] = field(default_factory=list)
    dependencies: dict[str, list[str]] = field(default_factory=dict)
    """task_id -> the task_ids it runs after."""
    finally_tasks: list[str] = field(default_factory=list)
    optional_tasks: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    """Members per UI status, in the UI's status order, statuses without any left out
    (filled in lists too)."""
    blocked_by: dict[str, str] = field(default_factory=dict)
    """task_id of a blocked member -> task_id of the member whose failure blocked it (as
    the engine recorded it)."""

    @property
    def is_terminal(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")


def _ordered_counts(counts: Mapping[str, int]) -> dict[str, int]:
    ordered = {status: counts[status] for status in UI_STATUSES if counts.get(status)}
    ordered.update((status, n) for status, n in counts.items() if n and status not in ordered)
    return ordered


def _meta(
    row: dict[str, Any], members: list[dict] | None = None, edges=(), counts=None
) -> GraphMeta:
    parse = records.parse_time
    members = members or []
    by_run = {m["run_id"]: m["task_id"] for m in members}
    dependencies: dict[str, list[str]] = {m["task_id"]: [] for m in members}
    for run_id, dependency in edges:
        dependencies[by_run[run_id]].append(by_run[dependency])
    if counts is None:
        counts = Counter(m["status"] for m in members)
    blocked_by = {
        m["task_id"]: by_run[m["blocked_by"]]
        for m in members
        if m["status"] == "blocked" and m.get("blocked_by") in by_run
    }
    return GraphMeta(
        project_id=row["project_id"], graph_id=row["graph_id"], title=row["title"],
        status=row["status"], created_at=parse(row["created_at"]), created_by=row["created_by"],
        queued_at=parse(row["queued_at"]), started_at=parse(row["started_at"]),
        finished_at=parse(row["finished_at"]), worker_id=row["worker_id"],
        cancel_requested_by=row["cancel_requested_by"], note=row["note"],
        attempts=row["attempts"], version=row["version"],
        members=[task_meta_from_row(m) for m in members],
        dependencies=dependencies,
        finally_tasks=[m["task_id"] for m in members if m["is_finally"]],
        optional_tasks=[m["task_id"] for m in members if m["is_optional"]],
        counts=_ordered_counts(counts), blocked_by=blocked_by,
    )  # fmt: skip


def _graph_row(db: Any, project_id: str, graph_id: str) -> dict[str, Any]:
    row = graph_records.get_graph(db, graph_id) if isinstance(graph_id, str) else None
    if row is None or row["project_id"] != project_id:
        project_row(project_id)
        raise TaskNotFound(f"Unknown graph {graph_id!r} in project {project_id}")
    return row


def _members_of(definition: Any) -> list[Mapping[str, Any]]:
    if not isinstance(definition, Mapping) or not isinstance(definition.get("tasks"), list):
        raise InvalidTaskRequest('A graph definition is {"title": ..., "tasks": [...]}')
    tasks = definition["tasks"]
    if not 1 <= len(tasks) <= GRAPH_MAX_TASKS:
        raise InvalidTaskRequest(f"A graph has 1 to {GRAPH_MAX_TASKS} tasks, got {len(tasks)}")
    keys = [t.get("key") if isinstance(t, Mapping) else None for t in tasks]
    if not all(isinstance(k, str) and k for k in keys) or len(set(keys)) != len(keys):
        raise InvalidTaskRequest("Every graph task needs a unique, non-empty 'key'")
    for task in tasks:
        after = task.get("after", [])
        if not isinstance(after, list) or any(k not in keys for k in after):
            raise InvalidTaskRequest(
                f"Task {task['key']!r}: 'after' must list keys of this graph, got {after!r}"
            )
    return tasks


def _check_acyclic(tasks: list[Mapping[str, Any]]) -> None:
    waiting = {t["key"]: set(t.get("after", [])) for t in tasks}
    while waiting:
        ready = [key for key, deps in waiting.items() if not deps]
        if not ready:
            raise InvalidTaskRequest(f"The graph has a cycle among: {', '.join(sorted(waiting))}")
        for key in ready:
            del waiting[key]
        for deps in waiting.values():
            deps.difference_update(ready)


def graph_new(project_id: str, definition: Mapping[str, Any], *, actor: str = "system"):
    """Queue a workflow; returns its GraphMeta (members queued, run by one worker)."""
    project = project_row(project_id)
    tasks = _members_of(definition)
    _check_acyclic(tasks)
    upstream.check_definition(tasks)
    title = str(definition.get("title") or "graph")[:GRAPH_TITLE_MAX_CHARS]
    graph, built = TaskGraph(title=title), {}
    for spec in tasks:
        kind = _check_definition(spec.get("type", "bash"), spec.get("payload"),
                                 spec.get("description", ""), spec.get("timeout"))  # fmt: skip
        raw_name = spec.get("name")
        name = (clean_task_name(raw_name) if isinstance(raw_name, str) and raw_name.strip()
                else generate_task_name(project_id, project["name_categories"]))  # fmt: skip
        built[spec["key"]] = Task(name, spec["payload"], kind,
                                  description=spec.get("description", ""),
                                  timeout=spec.get("timeout"))  # fmt: skip
    for spec in tasks:
        finally_, required = spec.get("finally", False), spec.get("required", True)
        try:
            graph.add(built[spec["key"]], after=[built[k] for k in spec.get("after", [])],
                      finally_=finally_, required=required)  # fmt: skip
        except (TypeError, ValueError) as exc:
            raise InvalidTaskRequest(f"Task {spec['key']!r}: {exc}") from None
    store = context.store()
    now = records.now_text()
    with _transaction() as db:
        taken = _LiveIds(db, project_id)
        chosen: set[str] = set()
        for task in graph:
            task_id = generate_task_id(_Either(taken, chosen))
            chosen.add(task_id)
            records.insert_task_record(db, {
                "project_id": project_id, "task_id": task_id, "run_id": task.id, "run_no": 1,
                "name": task.title, "type": task.type.value, "payload": task.payload,
                "description": task.description, "timeout": task.timeout, "status": "queued",
                "engine_status": "pending", "created_at": now, "created_by": actor,
                "queued_at": now, "deleting": 0, "graph_id": graph.id, "version": 1,
            })  # fmt: skip
            _insert_run(db, project_id, task_id, task.id, 1, now, actor)
        member_keys.remember_keys(db, graph.id, {t.id: k for k, t in built.items()})
        graph_records.insert_graph(db, {
            "graph_id": graph.id, "project_id": project_id, "title": title,
            "status": "queued", "created_at": now, "created_by": actor, "queued_at": now,
            "attempts": 0, "version": 1,
        })  # fmt: skip
        with store.acting(actor, "created"):
            store.graphs.save(graph)
    for task_id in chosen:
        _make_workspace(project_id, task_id, project["git_repo"])
    return graph_get(project_id, graph.id)


class _Either:
    """IDs taken in the database or already chosen for this graph."""

    def __init__(self, *containers: Any) -> None:
        self.containers = containers

    def __contains__(self, item: object) -> bool:
        return any(item in c for c in self.containers)


def graph_get(project_id: str, graph_id: str) -> GraphMeta:
    db = context.db()
    row = _graph_row(db, project_id, graph_id)
    members = graph_records.graph_members(db, graph_id)
    return _meta(row, members, graph_records.graph_edges(db, graph_id))


def graph_list(project_id: str, *, limit: int = 100) -> list[GraphMeta]:
    """A project's workflows, newest first (without their members, with their ``counts``):
    two queries, whatever the number of workflows."""
    project_row(project_id)
    db = context.db()
    rows = graph_records.list_graphs(db, project_id, limit)
    counts = graph_records.member_status_counts(db, [row["graph_id"] for row in rows])
    return [_meta(row, counts=counts.get(row["graph_id"], {})) for row in rows]


def graph_cancel(project_id: str, graph_id: str, *, actor: str = "system") -> GraphMeta:
    """Cancel a workflow: a queued one at once; a running one's members get stop requests
    (the owning worker SIGTERMs them, SIGKILL after the project's grace)."""
    grace = float(project_row(project_id)["shutdown_grace"])
    store = context.store()
    with _transaction() as db:
        row = _graph_row(db, project_id, graph_id)
        if row["status"] in ("completed", "failed", "cancelled"):
            raise TaskStateConflict(f"Graph {graph_id} is already {row['status']}")
        changes: dict[str, Any] = {"cancel_requested_by": actor}
        members = graph_records.member_ids(db, graph_id)
        if row["status"] == "queued":
            for _, run_id, engine in members:
                if engine in ("pending", "failed", "blocked"):
                    task = store.tasks[run_id]
                    cancel_unstarted(task)
                    with store.acting(actor, f"graph cancelled by {actor}"):
                        store.tasks.save(task)
            changes.update(status="cancelled", finished_at=records.now_text())
        else:
            for task_id, run_id, engine in members:
                if engine in ("pending", "running"):
                    workers.add_stop_request(db, {
                        "run_id": run_id, "project_id": project_id, "task_id": task_id,
                        "worker_id": row["worker_id"], "actor": actor,
                        "requested_at": records.now_text(), "grace": grace,
                    })  # fmt: skip
        graph_records.update_graph(db, graph_id, changes)
    return graph_get(project_id, graph_id)


def graph_retry(project_id: str, graph_id: str, *, actor: str = "system") -> GraphMeta:
    """Queue a failed workflow again: DONE members count as satisfied, failed ones rerun."""
    with _transaction() as db:
        row = _graph_row(db, project_id, graph_id)
        if row["status"] != "failed":
            raise TaskStateConflict(
                f"Graph {graph_id} is {row['status']}; only failed graphs can be rerun"
            )
        graph_records.update_graph(db, graph_id, {
            "status": "queued", "queued_at": records.now_text(), "worker_id": None,
            "finished_at": None, "note": f"rerun by {actor}",
        })  # fmt: skip
    return graph_get(project_id, graph_id)
