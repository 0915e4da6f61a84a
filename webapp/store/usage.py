"""SQL of prompt-run usage and LLM limits (tables ``run_usage`` and ``llm_limits``).

``llm_limits`` holds one row per project (``task_id = ''``) and per task that set a budget
or a price table of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database

from webapp.store.records import now_text

USAGE_COLUMNS = (
    "run_id", "project_id", "task_id", "run_no", "model", "prompt_tokens",
    "completion_tokens", "first_token_s", "latency_s", "cost", "estimated", "recorded_at",
)  # fmt: skip
SUM_COLUMNS = ("runs", "prompt_tokens", "completion_tokens", "cost", "latency_s")
PROJECT = ""


def record_usage(db: Database, row: dict[str, Any]) -> None:
    """Insert or replace the usage of one run (a retried call reports again)."""
    row = {**row, "recorded_at": now_text()}
    with db.conn:
        db["run_usage"].upsert(row, pk="run_id")


def usage_of_runs(db: Database, run_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    ids = list(run_ids)
    if not ids:
        return {}
    sql = (
        f"SELECT {', '.join(USAGE_COLUMNS)} FROM run_usage "
        "WHERE run_id IN (SELECT value FROM json_each(?))"
    )
    rows = db.execute(sql, [json.dumps(ids)]).fetchall()
    return {row[0]: dict(zip(USAGE_COLUMNS, row, strict=True)) for row in rows}


def _sums(values: tuple | None) -> dict[str, Any]:
    runs, prompt, completion, cost, latency = values or (0, None, None, None, None)
    return {
        "runs": runs or 0,
        "prompt_tokens": prompt or 0,
        "completion_tokens": completion or 0,
        "cost": cost,
        "latency_s": latency or 0.0,
    }


_SUM_SELECT = (
    "SELECT COUNT(*), SUM(u.prompt_tokens), SUM(u.completion_tokens), SUM(u.cost), "
    "SUM(u.latency_s) FROM run_usage u "
)


def usage_of_task(db: Database, project_id: str, task_id: str) -> dict[str, Any]:
    sql = _SUM_SELECT + "WHERE u.project_id = ? AND u.task_id = ?"
    return _sums(db.execute(sql, [project_id, task_id]).fetchone())


def usage_of_graph(db: Database, project_id: str, graph_id: str) -> dict[str, Any]:
    """Every run of every member of the workflow, summed."""
    sql = _SUM_SELECT + (
        "JOIN task_records t ON t.project_id = u.project_id AND t.task_id = u.task_id "
        "WHERE t.project_id = ? AND t.graph_id = ?"
    )
    return _sums(db.execute(sql, [project_id, graph_id]).fetchone())


def usage_by_model(db: Database) -> list[dict[str, Any]]:
    """Totals per project and model (for /metrics)."""
    sql = (
        "SELECT project_id, COALESCE(model, ''), COUNT(*), SUM(prompt_tokens), "
        "SUM(completion_tokens), SUM(cost), SUM(latency_s) FROM run_usage "
        "GROUP BY project_id, model ORDER BY project_id, model"
    )
    return [
        {"project_id": row[0], "model": row[1], **_sums(row[2:])}
        for row in db.execute(sql).fetchall()
    ]


def has_usage_or_prompts(db: Database, project_id: str) -> bool:
    """Does the project have any prompt task (so its list shows the usage columns)?"""
    sql = "SELECT 1 FROM task_records WHERE project_id = ? AND type = 'prompt' LIMIT 1"
    return db.execute(sql, [project_id]).fetchone() is not None


# -- limits --------------------------------------------------------------------------------
LIMIT_COLUMNS = ("budget_tokens", "budget_cost", "prices")


def get_limits(db: Database, project_id: str, task_id: str = PROJECT) -> dict[str, Any]:
    sql = f"SELECT {', '.join(LIMIT_COLUMNS)} FROM llm_limits WHERE project_id = ? AND task_id = ?"
    row = db.execute(sql, [project_id, task_id]).fetchone()
    if row is None:
        return {"budget_tokens": None, "budget_cost": None, "prices": None}
    tokens, cost, prices = row
    return {
        "budget_tokens": tokens,
        "budget_cost": cost,
        "prices": None if prices is None else json.loads(prices),
    }


def set_limits(db: Database, project_id: str, task_id: str, changes: dict[str, Any]) -> None:
    """Change some of a project's (``task_id=''``) or task's limits; None clears one."""
    current = get_limits(db, project_id, task_id)
    current.update(changes)
    row = {
        "project_id": project_id,
        "task_id": task_id,
        "budget_tokens": current["budget_tokens"],
        "budget_cost": current["budget_cost"],
        "prices": None if current["prices"] is None else json.dumps(current["prices"]),
    }
    with db.conn:
        db["llm_limits"].upsert(row, pk=("project_id", "task_id"))


def usage_of_project(db: Database, project_id: str) -> dict[str, Any]:
    sql = _SUM_SELECT + "WHERE u.project_id = ?"
    return _sums(db.execute(sql, [project_id]).fetchone())


USAGE_ORDER = {
    "tokens": "(u.prompt_tokens + u.completion_tokens)",
    "cost": "u.cost",
}


def task_ids_by_usage(
    db: Database,
    project_id: str,
    key: str,
    *,
    descending: bool = True,
    statuses: tuple[str, ...] = (),
    type: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[str]:
    """A page of a project's task IDs ordered by their current run's tokens or cost
    (tasks without usage last), newest first among equals."""
    where, args = ["t.project_id = ?"], [project_id]
    if statuses:
        where.append(f"t.status IN ({', '.join('?' for _ in statuses)})")
        args.extend(statuses)
    if type:
        where.append("t.type = ?")
        args.append(type)
    direction = "DESC" if descending else "ASC"
    sql = (
        "SELECT t.task_id FROM task_records t LEFT JOIN run_usage u ON u.run_id = t.run_id "
        f"WHERE {' AND '.join(where)} "
        f"ORDER BY {USAGE_ORDER[key]} IS NULL, {USAGE_ORDER[key]} {direction}, "
        "t.created_at DESC, t.task_id DESC LIMIT ? OFFSET ?"
    )
    return [row[0] for row in db.execute(sql, [*args, limit, offset]).fetchall()]
