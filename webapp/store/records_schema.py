"""The orchestration's schema: migration set ``"webapp.orchestration"``, its triggers.

Tables: ``projects``, ``task_records`` (one per live task, pointing at its current run),
``runs``, ``transitions``, ``workers``, ``stop_requests``; ``task_counts`` (tasks per
project and UI status) and ``task_search`` (a trigram full-text index of task ID, name
and payload) are kept up to date by triggers on ``task_records``.
"""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from webapp.store.db import immediate

records_migrations = Migrations("webapp.orchestration")


@records_migrations()
def m001_orchestration_tables(db: Database) -> None:
    """projects, task_records, runs, transitions, workers and stop_requests."""
    db["projects"].create(
        {
            "id": str, "name": str, "created_at": str, "created_by": str,
            "shutdown_grace": float, "max_concurrent": int, "name_categories": str,
            "git_repo": str, "env": str, "version": int, "updated_at": str,
        },
        pk="id",
        not_null={"name", "created_at", "shutdown_grace", "env", "version"},
        defaults={"shutdown_grace": 10.0, "env": "{}", "version": 1},
        if_not_exists=True,
    )  # fmt: skip
    db["task_records"].create(
        {
            "project_id": str, "task_id": str, "run_id": str, "run_no": int, "name": str,
            "type": str, "payload": str, "description": str, "timeout": float, "status": str,
            "engine_status": str, "reason": str, "exit_code": int, "error": str,
            "created_at": str, "created_by": str, "queued_at": str, "started_at": str,
            "finished_at": str, "deleting": int, "deleting_by": str, "deleting_at": str,
            "delete_owner": str, "archived_to": str, "stop_requested_by": str,
            "graph_id": str, "version": int,
        },
        pk=("project_id", "task_id"),
        not_null={
            "run_id", "run_no", "name", "type", "payload", "description", "status",
            "engine_status", "created_at", "created_by", "queued_at", "deleting", "version",
        },
        defaults={"deleting": 0, "version": 1, "description": ""},
        if_not_exists=True,
    )  # fmt: skip
    records = db["task_records"]
    records.create_index(["run_id"], unique=True, if_not_exists=True)
    records.create_index(["project_id", "created_at", "task_id"], if_not_exists=True)
    records.create_index(["project_id", "status", "created_at", "task_id"], if_not_exists=True)
    records.create_index(["project_id", "type", "created_at", "task_id"], if_not_exists=True)
    # Partial indexes: only the few rows a claim, a running count or a resumed delete
    # looks for are in them, so most status changes touch fewer pages.
    db.execute(
        "CREATE INDEX IF NOT EXISTS task_records_queue ON task_records (queued_at) "
        "WHERE status = 'queued'"
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS task_records_running ON task_records (project_id) "
        "WHERE engine_status = 'running'"
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS task_records_deleting ON task_records (deleting_at) "
        "WHERE deleting = 1"
    )
    _counts_and_search(db)
    db["runs"].create(
        {
            "run_id": str, "project_id": str, "task_id": str, "run_no": int,
            "created_at": str, "created_by": str, "worker_id": str, "claimed_at": str,
            "pid": int, "pgid": int, "proc_start": str, "started_at": str,
            "finished_at": str, "status": str, "reason": str, "exit_code": int, "lost": int,
        },
        pk="run_id",
        not_null={"project_id", "task_id", "run_no", "created_at", "status", "lost"},
        defaults={"lost": 0},
        if_not_exists=True,
    )  # fmt: skip
    db["runs"].create_index(["project_id", "task_id", "run_no"], unique=True, if_not_exists=True)
    db.execute(
        "CREATE INDEX IF NOT EXISTS runs_unfinished ON runs (worker_id) WHERE finished_at IS NULL"
    )
    db["transitions"].create(
        {
            "id": int, "project_id": str, "task_id": str, "run_id": str, "run_no": int,
            "at": str, "actor": str, "from_status": str, "to_status": str, "reason": str,
        },
        pk="id",
        not_null={"project_id", "task_id", "at", "actor", "to_status"},
        if_not_exists=True,
    )  # fmt: skip
    db["transitions"].create_index(["project_id", "task_id", "id"], if_not_exists=True)
    db["workers"].create(
        {
            "id": str, "hostname": str, "pid": int, "proc_start": str, "threads": int,
            "started_at": float, "heartbeat_at": float, "stopped_at": float,
            "reaped_at": float, "reaped_by": str,
        },
        pk="id",
        not_null={"hostname", "pid", "started_at", "heartbeat_at"},
        if_not_exists=True,
    )  # fmt: skip
    db["workers"].create_index(["stopped_at", "reaped_at"], if_not_exists=True)
    db["stop_requests"].create(
        {
            "run_id": str, "project_id": str, "task_id": str, "worker_id": str,
            "actor": str, "requested_at": str, "grace": float, "handled_at": str,
        },
        pk="run_id",
        not_null={"project_id", "task_id", "actor", "requested_at", "grace"},
        if_not_exists=True,
    )  # fmt: skip
    db["stop_requests"].create_index(["worker_id", "handled_at"], if_not_exists=True)


_COUNT_UP = (
    "INSERT INTO task_counts (project_id, status, n) VALUES (new.project_id, new.status, 1) "
    "ON CONFLICT (project_id, status) DO UPDATE SET n = n + 1;"
)
_COUNT_DOWN = (
    "UPDATE task_counts SET n = n - 1 WHERE project_id = old.project_id AND status = old.status;"
)
_SEARCH_ADD = (
    "INSERT INTO task_search (rowid, task_id, name, payload) "
    "VALUES (new.rowid, new.task_id, new.name, new.payload);"
)
_SEARCH_REMOVE = (
    "INSERT INTO task_search (task_search, rowid, task_id, name, payload) "
    "VALUES ('delete', old.rowid, old.task_id, old.name, old.payload);"
)


def _counts_and_search(db: Database) -> None:
    """Per-status counts and a trigram full-text index, both kept up to date by triggers.

    Counting 100k records by status takes ~25 ms; reading ``task_counts`` takes 0.1 ms.
    ``task_search`` (FTS5, trigram) finds any substring of 3+ characters of a task's ID,
    name or payload without scanning every row.
    """
    db["task_counts"].create(
        {"project_id": str, "status": str, "n": int},
        pk=("project_id", "status"),
        not_null={"n"},
        if_not_exists=True,
    )
    db.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS task_search USING fts5(task_id, name, payload, "
        "content='task_records', content_rowid='rowid', tokenize='trigram', columnsize=0)"
    )
    triggers = {
        "task_records_ai": _INSERT_TRIGGER,
        "task_records_ad": f"AFTER DELETE ON task_records BEGIN {_COUNT_DOWN} {_SEARCH_REMOVE} END",
        "task_records_au_status": (
            "AFTER UPDATE OF status ON task_records WHEN old.status IS NOT new.status "
            f"BEGIN {_COUNT_DOWN} {_COUNT_UP} END"
        ),
        "task_records_au_text": (
            "AFTER UPDATE OF name, payload ON task_records "
            f"BEGIN {_SEARCH_REMOVE} {_SEARCH_ADD} END"
        ),
    }
    for name, body in triggers.items():
        db.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {body}")


_INSERT_TRIGGER = f"AFTER INSERT ON task_records BEGIN {_COUNT_UP} {_SEARCH_ADD} END"


def bulk_insert_task_records(db: Database, rows: list[dict[str, Any]]) -> None:
    """Insert many task records at once (imports, benchmarks), in one transaction.

    Row by row, the full-text index costs ~90 us per record; here it is rebuilt once at the
    end (~1 s per 100k records) and the counts are recomputed.
    """
    if not rows:
        return
    columns = list(rows[0])
    sql = (
        f"INSERT INTO task_records ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    )
    with immediate(db):
        db.execute("DROP TRIGGER task_records_ai")
        db.conn.executemany(sql, [tuple(row[c] for c in columns) for row in rows])
        db.execute(f"CREATE TRIGGER task_records_ai {_INSERT_TRIGGER}")
        db.execute("DELETE FROM task_counts")
        db.execute(
            "INSERT INTO task_counts (project_id, status, n) "
            "SELECT project_id, status, count(*) FROM task_records GROUP BY project_id, status"
        )
        db.execute("INSERT INTO task_search (task_search) VALUES ('rebuild')")


@records_migrations()
def m002_graph_records(db: Database) -> None:
    """graph_records: one row per DAG workflow (its members are task records with graph_id)."""
    db["graph_records"].create(
        {
            "graph_id": str, "project_id": str, "title": str, "status": str,
            "created_at": str, "created_by": str, "queued_at": str, "worker_id": str,
            "started_at": str, "finished_at": str, "cancel_requested_by": str, "note": str,
            "attempts": int, "version": int,
        },
        pk="graph_id",
        not_null={"project_id", "title", "status", "created_at", "queued_at", "attempts",
                  "version"},
        defaults={"attempts": 0, "version": 1},
        if_not_exists=True,
    )  # fmt: skip
    db["graph_records"].create_index(["project_id", "created_at"], if_not_exists=True)
    db.execute(
        "CREATE INDEX IF NOT EXISTS graph_records_queue ON graph_records (queued_at) "
        "WHERE status = 'queued'"
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS graph_records_running ON graph_records (worker_id) "
        "WHERE status = 'running'"
    )
    # Partial: plain tasks (graph_id NULL) stay out, so "graph_id IS NULL" never picks it.
    db.execute(
        "CREATE INDEX IF NOT EXISTS task_records_members ON task_records (graph_id) "
        "WHERE graph_id IS NOT NULL"
    )


@records_migrations()
def m003_status_type_index(db: Database) -> None:
    """Lists filtered by status AND type read their page from one index, newest first, and
    count their matches from it without touching the table."""
    db["task_records"].create_index(
        ["project_id", "status", "type", "created_at", "task_id"], if_not_exists=True
    )


@records_migrations()
def m13_llm_usage(db: Database) -> None:
    """What each prompt run used (one row per run that asked a model), and the token/cost
    budgets and model prices of projects and tasks. Tables of their own: no other row grows."""
    db["run_usage"].create(
        {
            "run_id": str, "project_id": str, "task_id": str, "run_no": int, "model": str,
            "prompt_tokens": int, "completion_tokens": int, "first_token_s": float,
            "latency_s": float, "cost": float, "estimated": int, "recorded_at": str,
        },
        pk="run_id",
        not_null={"project_id", "task_id", "run_no", "recorded_at"},
        if_not_exists=True,
    )  # fmt: skip
    db["run_usage"].create_index(["project_id", "task_id", "run_no"], if_not_exists=True)
    db["llm_limits"].create(
        {
            "project_id": str, "task_id": str, "budget_tokens": int, "budget_cost": float,
            "prices": str,
        },
        pk=("project_id", "task_id"),
        not_null={"project_id", "task_id"},
        if_not_exists=True,
    )  # fmt: skip
    # A workflow member's key in its definition: ``{{ upstream.<key>.output }}`` names it.
    db["graph_member_keys"].create(
        {"run_id": str, "graph_id": str, "key": str},
        pk="run_id",
        not_null={"graph_id", "key"},
        if_not_exists=True,
    )
