"""Worker rows, heartbeats, the claim, process records and stop requests (SQL only).

The claim is the only door through which a task starts: :func:`claim_runs` picks queued
tasks oldest first and marks them running for one worker inside ONE ``BEGIN IMMEDIATE``
transaction, honouring the global limit and each project's ``max_concurrent``. Any number
of processes may call it at once; SQLite's write lock makes the claims disjoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlite_utils import Database

from webapp.store.db import immediate
from webapp.store.records import bump_project, now_text

WORKER_COLUMNS = (
    "id", "hostname", "pid", "proc_start", "threads", "started_at", "heartbeat_at",
    "stopped_at", "reaped_at", "reaped_by",
)  # fmt: skip
CLAIM_COLUMNS = (
    "project_id", "task_id", "run_id", "run_no", "name", "type", "payload", "description",
    "timeout", "engine_title", "engine_created_at",
)  # fmt: skip
STOP_COLUMNS = ("run_id", "project_id", "task_id", "worker_id", "actor", "requested_at", "grace")

_QUEUED = "status = 'queued' AND graph_id IS NULL"
_CANDIDATES = (
    "SELECT t.project_id, t.task_id, t.run_id, t.run_no, t.name, t.type, t.payload, "
    "t.description, t.timeout, e.title, e.created_at FROM task_records t "
    f"JOIN tasks e ON e.id = t.run_id WHERE t.{_QUEUED} "
    "AND t.project_id NOT IN (SELECT value FROM json_each(?)) "
    "ORDER BY t.queued_at, t.rowid LIMIT ?"
)


def _rows(columns: tuple[str, ...], values: list[tuple]) -> list[dict[str, Any]]:
    return [dict(zip(columns, v, strict=True)) for v in values]


# -- workers --------------------------------------------------------------------------------
def register_worker(db: Database, row: dict[str, Any]) -> None:
    with immediate(db):
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        db.execute(f"INSERT INTO workers ({names}) VALUES ({marks})", list(row.values()))


def heartbeat(db: Database, worker_id: str, now: float) -> bool:
    """Record that the worker is alive; False if a reaper already declared it dead."""
    with immediate(db):
        sql = "UPDATE workers SET heartbeat_at = ? WHERE id = ? AND reaped_at IS NULL"
        return db.execute(sql, [now, worker_id]).rowcount == 1


def mark_worker_stopped(db: Database, worker_id: str, now: float) -> None:
    with immediate(db):
        db.execute("UPDATE workers SET stopped_at = ? WHERE id = ?", [now, worker_id])


def live_worker_rows(db: Database) -> list[dict[str, Any]]:
    """Workers neither stopped nor reaped (the reaper decides which of them are dead)."""
    sql = (
        f"SELECT {', '.join(WORKER_COLUMNS)} FROM workers "
        "WHERE stopped_at IS NULL AND reaped_at IS NULL"
    )
    return _rows(WORKER_COLUMNS, db.execute(sql).fetchall())


def get_worker(db: Database, worker_id: str) -> dict[str, Any] | None:
    sql = f"SELECT {', '.join(WORKER_COLUMNS)} FROM workers WHERE id = ?"
    values = db.execute(sql, [worker_id]).fetchone()
    return None if values is None else dict(zip(WORKER_COLUMNS, values, strict=True))


def take_reap(db: Database, worker_id: str, reaper: str, now: float) -> bool:
    """Inside the caller's transaction: claim the right to reap ``worker_id`` (once only)."""
    sql = "UPDATE workers SET reaped_at = ?, reaped_by = ? WHERE id = ? AND reaped_at IS NULL"
    return db.execute(sql, [now, reaper, worker_id]).rowcount == 1


def running_runs_of(db: Database, worker_id: str) -> list[dict[str, Any]]:
    """Runs a worker claimed that have not finished (its RUNNING tasks)."""
    sql = (
        "SELECT run_id, project_id, task_id, run_no, pid, pgid, proc_start FROM runs "
        "WHERE worker_id = ? AND finished_at IS NULL AND status = 'running'"
    )
    columns = ("run_id", "project_id", "task_id", "run_no", "pid", "pgid", "proc_start")
    return _rows(columns, db.execute(sql, [worker_id]).fetchall())


def orphaned_runs(db: Database) -> list[dict[str, Any]]:
    """Running runs whose worker row is missing, stopped or already reaped."""
    sql = (
        "SELECT r.run_id, r.project_id, r.task_id, r.run_no, r.pid, r.pgid, r.proc_start, "
        "r.worker_id, w.hostname FROM task_records t JOIN runs r ON r.run_id = t.run_id "
        "LEFT JOIN workers w ON w.id = r.worker_id WHERE t.engine_status = 'running' "
        "AND (w.id IS NULL OR w.stopped_at IS NOT NULL OR w.reaped_at IS NOT NULL)"
    )
    columns = ("run_id", "project_id", "task_id", "run_no", "pid", "pgid", "proc_start")
    return _rows((*columns, "worker_id", "hostname"), db.execute(sql).fetchall())


# -- the claim ------------------------------------------------------------------------------
def has_queued(db: Database) -> bool:
    """A cheap read before taking the write lock: is anything waiting at all?"""
    sql = f"SELECT 1 FROM task_records WHERE {_QUEUED} LIMIT 1"
    return db.execute(sql).fetchone() is not None


def running_counts(db: Database) -> dict[str, int]:
    sql = (
        "SELECT project_id, count(*) FROM task_records WHERE engine_status = 'running' "
        "GROUP BY project_id"
    )
    return dict(db.execute(sql).fetchall())


def claim_runs(
    db: Database,
    worker_id: str,
    limit: int,
    *,
    global_limit: int = 0,
    derive: Callable[..., str],
    spawned: list[tuple[int, int, str | None, str]] = (),
) -> list[dict[str, Any]]:
    """Mark up to ``limit`` queued tasks running for ``worker_id``, oldest queued first.

    ``global_limit`` (0 = none) caps running tasks across every process; each project's
    ``max_concurrent`` caps its own. ``derive`` is the UI-status function. ``spawned``
    process records (pid, pgid, proc_start, run_id) are written in the same transaction.
    Returns the claimed rows (task definition, run id, the engine row's title, created_at).
    """
    if limit <= 0 and not spawned:
        return []
    with immediate(db):
        if spawned:
            db.conn.executemany(_SPAWN, spawned)
        if limit <= 0:
            return []
        running = running_counts(db)
        if global_limit:
            limit = min(limit, global_limit - sum(running.values()))
            if limit <= 0:
                return []
        caps = dict(db.execute(
            "SELECT id, max_concurrent FROM projects WHERE max_concurrent IS NOT NULL"
        ).fetchall())  # fmt: skip
        full = [p for p, cap in caps.items() if running.get(p, 0) >= cap]
        values = db.execute(_CANDIDATES, [json.dumps(full), limit * 4 + 8]).fetchall()
        chosen = []
        for row in _rows(CLAIM_COLUMNS, values):
            project = row["project_id"]
            cap = caps.get(project)
            if cap is not None and running.get(project, 0) >= cap:
                continue
            running[project] = running.get(project, 0) + 1
            chosen.append(row)
            if len(chosen) == limit:
                break
        if chosen:
            _mark_claimed(db, worker_id, chosen, derive("running"))
    return chosen


_SPAWN = "UPDATE runs SET pid = ?, pgid = ?, proc_start = ? WHERE run_id = ?"
_CLAIM_ENGINE = "UPDATE tasks SET status = 'running', error = NULL WHERE id = ?"
_CLAIM_RECORD = (
    "UPDATE task_records SET status = ?, engine_status = 'running', started_at = ?, "
    "finished_at = NULL, reason = NULL, exit_code = NULL, error = NULL, "
    "stop_requested_by = NULL, version = version + 1 WHERE run_id = ?"
)
_CLAIM_RUN = (
    "UPDATE runs SET worker_id = ?, claimed_at = ?, started_at = ?, status = 'running' "
    "WHERE run_id = ?"
)
_CLAIM_TRANSITION = (
    "INSERT INTO transitions (project_id, task_id, run_id, run_no, at, actor, from_status, "
    "to_status, reason) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, 'claimed')"
)


def _mark_claimed(db: Database, worker_id: str, rows: list[dict], ui_running: str) -> None:
    """A run is always new when queued (a retry makes a new one): it has no result row."""
    now = now_text()
    conn = db.conn
    for row in rows:
        run_id = row["run_id"]
        conn.execute(_CLAIM_ENGINE, [run_id])
        conn.execute(_CLAIM_RECORD, [ui_running, now, run_id])
        conn.execute(_CLAIM_RUN, [worker_id, now, now, run_id])
        conn.execute(
            _CLAIM_TRANSITION,
            [row["project_id"], row["task_id"], run_id, row["run_no"], now, worker_id, ui_running],
        )
    for project in {row["project_id"] for row in rows}:
        bump_project(db, project)


def record_spawn(db: Database, run_id: str, pid: int, pgid: int, proc_start: str | None) -> None:
    """Remember the process group of a run (and when its leader started) for recovery."""
    with immediate(db):
        db.conn.execute(_SPAWN, [pid, pgid, proc_start, run_id])


# -- stop requests --------------------------------------------------------------------------
def add_stop_request(db: Database, row: dict[str, Any]) -> None:
    """Ask the owner of a run to stop it; a repeated request may shorten the grace."""
    names = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    db.execute(
        f"INSERT INTO stop_requests ({names}) VALUES ({marks}) ON CONFLICT(run_id) DO UPDATE "
        "SET grace = min(grace, excluded.grace), handled_at = NULL",
        list(row.values()),
    )


def pending_stop_requests(db: Database, worker_id: str) -> list[dict[str, Any]]:
    sql = (
        f"SELECT {', '.join(STOP_COLUMNS)} FROM stop_requests "
        "WHERE worker_id = ? AND handled_at IS NULL"
    )
    return _rows(STOP_COLUMNS, db.execute(sql, [worker_id]).fetchall())


def mark_stop_handled(db: Database, run_id: str) -> None:
    with immediate(db):
        sql = "UPDATE stop_requests SET handled_at = ? WHERE run_id = ?"
        db.execute(sql, [now_text(), run_id])


def get_stop_request(db: Database, run_id: str) -> dict[str, Any] | None:
    sql = f"SELECT {', '.join(STOP_COLUMNS)} FROM stop_requests WHERE run_id = ?"
    values = db.execute(sql, [run_id]).fetchone()
    return None if values is None else dict(zip(STOP_COLUMNS, values, strict=True))


def delete_stop_request(db: Database, run_id: str) -> None:
    db.execute("DELETE FROM stop_requests WHERE run_id = ?", [run_id])
