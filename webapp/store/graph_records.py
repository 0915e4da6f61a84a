"""SQL for DAG workflows: graph records, their claim, requeue after a lost worker.

A graph's members are ordinary task records (``graph_id`` set) whose runs are the engine
tasks of one stored ``TaskGraph``; plain claims skip them, a graph is claimed as a whole.
"""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from webapp.store.records import bump_project, now_text

GRAPH_COLUMNS = (
    "graph_id", "project_id", "title", "status", "created_at", "created_by", "queued_at",
    "worker_id", "started_at", "finished_at", "cancel_requested_by", "note", "attempts",
    "version", "workflow_id", "workflow_version", "definition", "member_keys",
)  # fmt: skip
_SELECT = f"SELECT {', '.join(GRAPH_COLUMNS)} FROM graph_records"


def _row(values: tuple | None) -> dict[str, Any] | None:
    return None if values is None else dict(zip(GRAPH_COLUMNS, values, strict=True))


def insert_graph(db: Database, row: dict[str, Any]) -> None:
    names = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    db.conn.execute(f"INSERT INTO graph_records ({names}) VALUES ({marks})", list(row.values()))
    bump_project(db, row["project_id"])


def get_graph(db: Database, graph_id: str) -> dict[str, Any] | None:
    return _row(db.conn.execute(f"{_SELECT} WHERE graph_id = ?", [graph_id]).fetchone())


def list_graphs(db: Database, project_id: str, limit: int = 100) -> list[dict[str, Any]]:
    sql = f"{_SELECT} WHERE project_id = ? ORDER BY created_at DESC LIMIT ?"
    return [_row(v) for v in db.conn.execute(sql, [project_id, limit]).fetchall()]


def list_workflow_runs(db: Database, workflow_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """A saved workflow's runs, newest first."""
    sql = f"{_SELECT} WHERE workflow_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?"
    return [_row(v) for v in db.conn.execute(sql, [workflow_id, limit]).fetchall()]


def update_graph(db: Database, graph_id: str, fields: dict[str, Any]) -> None:
    sets = ", ".join(f"{name} = ?" for name in fields)
    sql = f"UPDATE graph_records SET {sets}, version = version + 1 WHERE graph_id = ?"
    db.conn.execute(sql, [*fields.values(), graph_id])
    row = get_graph(db, graph_id)
    if row is not None:
        bump_project(db, row["project_id"])


def member_ids(db: Database, graph_id: str) -> list[tuple[str, str, str]]:
    """(task_id, run_id, engine_status) of every member, in creation order."""
    sql = (
        "SELECT task_id, run_id, engine_status FROM task_records WHERE graph_id = ? "
        "ORDER BY created_at, rowid"
    )
    return [tuple(r) for r in db.conn.execute(sql, [graph_id]).fetchall()]


def claim_graph(db: Database, worker_id: str) -> dict[str, Any] | None:
    """Inside the caller's claim transaction: take the oldest queued graph, if any."""
    found = db.conn.execute(
        "SELECT graph_id FROM graph_records WHERE status = 'queued' ORDER BY queued_at LIMIT 1"
    ).fetchone()
    if found is None:
        return None
    now = now_text()
    update_graph(
        db, found[0],
        {"status": "running", "worker_id": worker_id, "started_at": now, "finished_at": None},
    )  # fmt: skip
    db.conn.execute(
        "UPDATE graph_records SET attempts = attempts + 1 WHERE graph_id = ?", [found[0]]
    )
    db.conn.execute(
        "UPDATE runs SET worker_id = ?, lost = 0 WHERE run_id IN "
        "(SELECT run_id FROM task_records WHERE graph_id = ?)",
        [worker_id, found[0]],
    )
    return get_graph(db, found[0])


def requeue_graphs_of(db: Database, worker_id: str, note: str) -> list[str]:
    """Inside the caller's transaction: graphs a dead worker was running go back to the
    queue (their DONE members stay done; the next run retries the rest)."""
    graphs = [r[0] for r in db.conn.execute(
        "SELECT graph_id FROM graph_records WHERE status = 'running' AND worker_id = ?",
        [worker_id],
    ).fetchall()]  # fmt: skip
    for graph_id in graphs:
        update_graph(
            db, graph_id,
            {"status": "queued", "worker_id": None, "queued_at": now_text(), "note": note},
        )  # fmt: skip
    return graphs


def orphaned_graphs(db: Database) -> list[tuple[str, str]]:
    """(graph_id, worker_id) of running graphs whose worker is stopped, reaped or missing."""
    sql = (
        "SELECT g.graph_id, g.worker_id FROM graph_records g LEFT JOIN workers w "
        "ON w.id = g.worker_id WHERE g.status = 'running' AND (w.id IS NULL OR "
        "w.stopped_at IS NOT NULL OR w.reaped_at IS NOT NULL)"
    )
    return [tuple(r) for r in db.conn.execute(sql).fetchall()]


def graph_members(db: Database, graph_id: str) -> list[dict[str, Any]]:
    """The members' task records in the graph's stored order, with their edge flags and the
    run ID of the parent that blocked each (``blocked_by``, as the engine stored it)."""
    from webapp.store.records import TASK_COLUMNS

    columns = ", ".join(f"t.{c}" for c in TASK_COLUMNS)
    sql = (
        f"SELECT {columns}, g.is_finally, g.is_optional, e.blocked_by FROM graph_tasks g "
        "JOIN task_records t ON t.run_id = g.task_id JOIN tasks e ON e.id = g.task_id "
        "WHERE g.graph_id = ? ORDER BY g.position"
    )
    rows = db.conn.execute(sql, [graph_id]).fetchall()
    names = (*TASK_COLUMNS, "is_finally", "is_optional", "blocked_by")
    return [dict(zip(names, values, strict=True)) for values in rows]


def member_status_counts(db: Database, graph_ids: list[str]) -> dict[str, dict[str, int]]:
    """``{graph_id: {status: members}}`` for many graphs in one grouped query (members as
    ``graph_members`` reads them; a graph without any is left out)."""
    sql = (
        "SELECT g.graph_id, t.status, count(*) FROM graph_tasks g "
        "JOIN task_records t ON t.run_id = g.task_id "
        "WHERE g.graph_id IN (SELECT value FROM json_each(?)) GROUP BY g.graph_id, t.status"
    )
    counts: dict[str, dict[str, int]] = {}
    for graph_id, status, n in db.conn.execute(sql, [json.dumps(graph_ids)]).fetchall():
        counts.setdefault(graph_id, {})[status] = n
    return counts


def graph_edges(db: Database, graph_id: str) -> list[tuple[str, str]]:
    """(run_id, dependency run_id) pairs in stored order."""
    sql = (
        "SELECT task_id, dependency_id FROM graph_dependencies WHERE graph_id = ? "
        "ORDER BY task_id, position"
    )
    return [tuple(r) for r in db.conn.execute(sql, [graph_id]).fetchall()]


def has_queued_graph(db: Database) -> bool:
    sql = "SELECT 1 FROM graph_records WHERE status = 'queued' LIMIT 1"
    return db.conn.execute(sql).fetchone() is not None
