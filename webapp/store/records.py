"""Queries on the orchestration's tables (migration set ``"webapp.orchestration"``).

- ``projects``: one row per project (settings, a ``version`` bumped on every change inside).
- ``task_records``: one row per live task (project_id, task_id), pointing at its current
  run (an engine ``tasks`` row, ``run_id``). It copies what lists filter and sort on
  (UI ``status``, ``engine_status``, ``type``, ``name``, ``created_at``) and is updated in
  the same transaction as the engine row, so lists never join the engine tables.
- ``runs``: every run of a task (a retry adds one), with its worker, process group and the
  process start time that proves a PID still belongs to it.
- ``transitions``: who moved a task from which status to which, when, and why.
- ``workers`` and ``stop_requests``: see :mod:`webapp.store.workers`.

The schema (and the triggers keeping counts and the search index) is in
:mod:`webapp.store.records_schema`.

Timestamps are UTC ISO-8601 text with microseconds (text order is time order); worker
heartbeats are epoch seconds. Functions take the caller's ``Database`` and never open
transactions of their own unless they say so: callers group them with ``immediate(db)``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

TASK_COLUMNS = (
    "project_id", "task_id", "run_id", "run_no", "name", "type", "payload", "description",
    "timeout", "status", "engine_status", "reason", "exit_code", "error", "created_at",
    "created_by", "queued_at", "started_at", "finished_at", "deleting", "deleting_by",
    "deleting_at", "delete_owner", "archived_to", "stop_requested_by", "graph_id", "version",
)  # fmt: skip
RUN_COLUMNS = (
    "run_id", "project_id", "task_id", "run_no", "created_at", "created_by", "worker_id",
    "claimed_at", "pid", "pgid", "proc_start", "started_at", "finished_at", "status",
    "reason", "exit_code", "lost",
)  # fmt: skip
PROJECT_COLUMNS = (
    "id", "name", "created_at", "created_by", "shutdown_grace", "max_concurrent",
    "name_categories", "git_repo", "env", "version", "updated_at",
)  # fmt: skip
TRANSITION_COLUMNS = (
    "id", "project_id", "task_id", "run_id", "run_no", "at", "actor", "from_status",
    "to_status", "reason",
)  # fmt: skip


def now_text() -> str:
    """The current UTC time in the stored format."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _row(columns: tuple[str, ...], values: tuple | None) -> dict[str, Any] | None:
    return None if values is None else dict(zip(columns, values, strict=True))


def _select(table: str, columns: tuple[str, ...]) -> str:
    return f"SELECT {', '.join(columns)} FROM {table}"


def _insert(db: Database, table: str, row: dict[str, Any]) -> None:
    names = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    db.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values()))


def _assignments(fields: dict[str, Any]) -> str:
    return ", ".join(f"{name} = ?" for name in fields)


# -- projects -------------------------------------------------------------------------------
def insert_project(db: Database, row: dict[str, Any]) -> None:
    """Insert a project; ``name_categories`` (list|None) and ``env`` (dict) become JSON."""
    row = dict(row)
    row["name_categories"] = _json_or_none(row.get("name_categories"))
    row["env"] = json.dumps(row.get("env") or {}, sort_keys=True)
    _insert(db, "projects", row)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _project(values: tuple | None) -> dict[str, Any] | None:
    row = _row(PROJECT_COLUMNS, values)
    if row is not None:
        categories = row["name_categories"]
        row["name_categories"] = None if categories is None else json.loads(categories)
        row["env"] = json.loads(row["env"] or "{}")
    return row


def get_project(db: Database, project_id: str) -> dict[str, Any] | None:
    sql = _select("projects", PROJECT_COLUMNS) + " WHERE id = ?"
    return _project(db.execute(sql, [project_id]).fetchone())


def list_projects(db: Database) -> list[dict[str, Any]]:
    sql = _select("projects", PROJECT_COLUMNS) + " ORDER BY id"
    return [_project(values) for values in db.execute(sql).fetchall()]


def update_project(db: Database, project_id: str, fields: dict[str, Any]) -> int:
    """Change settings of a project and bump its version; returns the rows changed."""
    fields = dict(fields)
    if "name_categories" in fields:
        fields["name_categories"] = _json_or_none(fields["name_categories"])
    if "env" in fields:
        fields["env"] = json.dumps(fields["env"] or {}, sort_keys=True)
    fields["updated_at"] = now_text()
    sql = f"UPDATE projects SET {_assignments(fields)}, version = version + 1 WHERE id = ?"
    return db.execute(sql, [*fields.values(), project_id]).rowcount


def bump_project(db: Database, project_id: str) -> None:
    db.conn.execute("UPDATE projects SET version = version + 1 WHERE id = ?", [project_id])


def project_version(db: Database, project_id: str) -> int | None:
    row = db.execute("SELECT version FROM projects WHERE id = ?", [project_id]).fetchone()
    return None if row is None else row[0]


def status_counts(db: Database, project_id: str | None = None) -> dict[tuple[str, str], int]:
    """``{(project_id, ui_status): count}`` from the trigger-maintained counts table."""
    sql = "SELECT project_id, status, n FROM task_counts WHERE n > 0"
    args: list[Any] = []
    if project_id is not None:
        sql += " AND project_id = ?"
        args.append(project_id)
    return {(p, s): n for p, s, n in db.execute(sql, args).fetchall()}


# -- task records ---------------------------------------------------------------------------
def insert_task_record(db: Database, row: dict[str, Any]) -> None:
    _insert(db, "task_records", row)


def insert_run(db: Database, row: dict[str, Any]) -> None:
    _insert(db, "runs", row)


def task_ids(db: Database, project_id: str) -> list[str]:
    """Every live task ID of a project (for ID generation and prefix resolution)."""
    sql = "SELECT task_id FROM task_records WHERE project_id = ?"
    return [row[0] for row in db.execute(sql, [project_id]).fetchall()]


def task_ids_with_prefix(db: Database, project_id: str, prefix: str, limit: int) -> list[str]:
    """Live task IDs starting with ``prefix`` (an index range scan), at most ``limit``."""
    sql = (
        "SELECT task_id FROM task_records WHERE project_id = ? AND task_id >= ? "
        "AND task_id < ? ORDER BY task_id LIMIT ?"
    )
    return [r[0] for r in db.execute(sql, [project_id, prefix, prefix + "\uffff", limit])]


def has_tasks(db: Database, project_id: str) -> bool:
    sql = "SELECT 1 FROM task_records WHERE project_id = ? LIMIT 1"
    return db.execute(sql, [project_id]).fetchone() is not None


_TASK_SELECT = _select("task_records", TASK_COLUMNS)
_TASK_KEY = "project_id = ? AND task_id = ?"
_OUTPUT_SELECT = (
    "SELECT {}, (SELECT count(*) FROM runs r WHERE r.project_id = t.project_id "
    "AND r.task_id = t.task_id), res.output FROM task_records t "
    "LEFT JOIN task_results res ON res.task_id = t.run_id"
).format(", ".join(f"t.{c}" for c in TASK_COLUMNS))


def get_task_record(
    db: Database, project_id: str, task_id: str, *, with_output: bool = False
) -> dict[str, Any] | None:
    """A task record; ``with_output`` adds ``runs`` (count) and ``output`` (result tail)."""
    if not with_output:
        sql = _TASK_SELECT + " WHERE project_id = ? AND task_id = ?"
        return _row(TASK_COLUMNS, db.execute(sql, [project_id, task_id]).fetchone())
    sql = _OUTPUT_SELECT + " WHERE t.project_id = ? AND t.task_id = ?"
    values = db.execute(sql, [project_id, task_id]).fetchone()
    return _row((*TASK_COLUMNS, "runs", "output"), values)


def record_for_run(db: Database, run_id: str) -> dict[str, Any] | None:
    sql = _TASK_SELECT + " WHERE run_id = ?"
    return _row(TASK_COLUMNS, db.execute(sql, [run_id]).fetchone())


def update_task_record(
    db: Database, project_id: str, task_id: str, fields: dict[str, Any], *, bump: bool = True
) -> int:
    """Set ``fields`` on a task record; bumps its version and its project's version."""
    tail = ", version = version + 1" if bump else ""
    sql = (
        f"UPDATE task_records SET {_assignments(fields)}{tail} WHERE project_id = ? AND task_id = ?"
    )
    changed = db.execute(sql, [*fields.values(), project_id, task_id]).rowcount
    if changed and bump:
        bump_project(db, project_id)
    return changed


def task_version(db: Database, project_id: str, task_id: str) -> int | None:
    sql = "SELECT version FROM task_records WHERE project_id = ? AND task_id = ?"
    row = db.execute(sql, [project_id, task_id]).fetchone()
    return None if row is None else row[0]


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_ORDER = "ORDER BY created_at DESC, task_id DESC"
_LIKE_ANY = "(task_id LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\' OR payload LIKE ? ESCAPE '\\')"
SEARCH_SET_LIMIT = 20_000
SEARCH_COUNT_LIMIT = 1_000


def _search_rowids(db: Database, text: str) -> list[int] | None:
    """Rows whose ID, name or payload contain ``text`` (3+ characters), from the index.

    None when there are more than SEARCH_SET_LIMIT (then a newest-first LIKE scan finds a
    page quickly, because matches are everywhere).
    """
    phrase = '"' + text.replace('"', '""') + '"'
    sql = "SELECT rowid FROM task_search WHERE task_search MATCH ? LIMIT ?"
    rowids = [r[0] for r in db.execute(sql, [phrase, SEARCH_SET_LIMIT + 1]).fetchall()]
    return None if len(rowids) > SEARCH_SET_LIMIT else rowids


def list_task_records(
    db: Database,
    project_id: str,
    *,
    statuses: tuple[str, ...] = (),
    type: str | None = None,
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int, bool]:
    """One page of a project's tasks, newest first, the number of matches, and whether
    that number stopped at SEARCH_COUNT_LIMIT.

    Pages come from an index (only the page's rows are read). Without a search the total
    comes from ``task_counts``. A search of 3+ characters uses the trigram index; 1-2
    characters match task ID prefixes (an index range).
    """
    where, args = ["t.project_id = ?"], [project_id]
    source = "task_records t"
    if statuses:
        where.append(f"t.status IN ({', '.join('?' for _ in statuses)})")
        args.extend(statuses)
    if type:
        where.append("t.type = ?")
        args.append(type)
    if search and len(search) < 3:
        where.append("t.task_id >= ? AND t.task_id < ?")
        args.extend([search.lower(), search.lower() + "\uffff"])
    elif search:
        rowids = _search_rowids(db, search)
        if rowids is None:
            where.append(_LIKE_ANY.replace("task_id", "t.task_id").replace("name", "t.name")
                         .replace("payload", "t.payload"))  # fmt: skip
            args.extend([_like(search)] * 3)
        else:  # drive the query from the (small) set of matching rows
            source = "json_each(?) j CROSS JOIN task_records t ON t.rowid = j.value"
            args.insert(0, json.dumps(rowids))
    condition = " AND ".join(where)
    order = "ORDER BY t.created_at DESC, t.task_id DESC"
    page = (
        f"{_TASK_SELECT} WHERE rowid IN (SELECT t.rowid FROM {source} WHERE {condition} "
        f"{order} LIMIT ? OFFSET ?) {_ORDER}"
    )
    rows = [_row(TASK_COLUMNS, v) for v in db.execute(page, [*args, limit, offset]).fetchall()]
    if not type and not search:
        counts = status_counts(db, project_id)
        total = sum(n for (_, status), n in counts.items() if not statuses or status in statuses)
        return rows, total, False
    cap = SEARCH_COUNT_LIMIT if search else 100_000_000
    count = f"SELECT count(*) FROM (SELECT 1 FROM {source} WHERE {condition} LIMIT ?)"
    total = db.execute(count, [*args, cap]).fetchone()[0]
    return rows, total, total >= cap


def all_task_records(db: Database, project_id: str) -> list[dict[str, Any]]:
    sql = _TASK_SELECT + " WHERE project_id = ? ORDER BY task_id"
    return [_row(TASK_COLUMNS, v) for v in db.execute(sql, [project_id]).fetchall()]


def task_statuses(db: Database, project_id: str, task_ids: list[str]) -> dict[str, str]:
    sql = (
        "SELECT task_id, status FROM task_records WHERE project_id = ? "
        "AND task_id IN (SELECT value FROM json_each(?))"
    )
    return dict(db.execute(sql, [project_id, json.dumps(task_ids)]).fetchall())


def deleting_records(db: Database) -> list[dict[str, Any]]:
    """Tasks carrying the ``deleting`` mark (interrupted or in-flight deletes)."""
    sql = _TASK_SELECT + " WHERE deleting = 1 ORDER BY deleting_at"
    return [_row(TASK_COLUMNS, v) for v in db.execute(sql).fetchall()]


def delete_task_rows(db: Database, project_id: str, task_id: str) -> list[str]:
    """Remove a task: its record, runs, transitions, stop requests and engine rows.

    Returns the run IDs that were removed.
    """
    key = [project_id, task_id]
    runs = [r[0] for r in db.execute(
        "SELECT run_id FROM runs WHERE project_id = ? AND task_id = ?", key
    ).fetchall()]  # fmt: skip
    ids = json.dumps(runs)
    db.execute("DELETE FROM stop_requests WHERE project_id = ? AND task_id = ?", key)
    db.execute("DELETE FROM transitions WHERE project_id = ? AND task_id = ?", key)
    db.execute("DELETE FROM runs WHERE project_id = ? AND task_id = ?", key)
    db.execute("DELETE FROM task_records WHERE project_id = ? AND task_id = ?", key)
    db.execute("DELETE FROM task_results WHERE task_id IN (SELECT value FROM json_each(?))", [ids])
    db.execute("DELETE FROM tasks WHERE id IN (SELECT value FROM json_each(?))", [ids])
    bump_project(db, project_id)
    return runs


# -- runs and transitions -------------------------------------------------------------------
def runs_of(db: Database, project_id: str, task_id: str) -> list[dict[str, Any]]:
    sql = _select("runs", RUN_COLUMNS) + " WHERE project_id = ? AND task_id = ? ORDER BY run_no"
    return [_row(RUN_COLUMNS, v) for v in db.execute(sql, [project_id, task_id]).fetchall()]


def get_run(db: Database, run_id: str) -> dict[str, Any] | None:
    sql = _select("runs", RUN_COLUMNS) + " WHERE run_id = ?"
    return _row(RUN_COLUMNS, db.execute(sql, [run_id]).fetchone())


def update_run(db: Database, run_id: str, fields: dict[str, Any]) -> int:
    sql = f"UPDATE runs SET {_assignments(fields)} WHERE run_id = ?"
    return db.execute(sql, [*fields.values(), run_id]).rowcount


def add_transition(db: Database, row: dict[str, Any]) -> None:
    """Append one transition (project_id, task_id, run_id, run_no, at, actor, from, to, reason)."""
    row = {"at": now_text(), **row}
    _insert(db, "transitions", row)


def transitions_of(db: Database, project_id: str, task_id: str) -> list[dict[str, Any]]:
    sql = (
        _select("transitions", TRANSITION_COLUMNS)
        + " WHERE project_id = ? AND task_id = ? ORDER BY id"
    )
    rows = db.execute(sql, [project_id, task_id]).fetchall()
    return [_row(TRANSITION_COLUMNS, v) for v in rows]


def delete_project_rows(db: Database, project_id: str) -> None:
    """Remove a project without tasks: its workflows (engine rows too), counts and its row."""
    graphs = json.dumps([row[0] for row in db.execute(
        "SELECT graph_id FROM graph_records WHERE project_id = ?", [project_id]
    ).fetchall()])  # fmt: skip
    members = "SELECT value FROM json_each(?)"
    db.execute(f"DELETE FROM graph_dependencies WHERE graph_id IN ({members})", [graphs])
    db.execute(f"DELETE FROM graph_tasks WHERE graph_id IN ({members})", [graphs])
    db.execute(f"DELETE FROM graphs WHERE id IN ({members})", [graphs])
    db.execute("DELETE FROM graph_records WHERE project_id = ?", [project_id])
    db.execute("DELETE FROM task_counts WHERE project_id = ?", [project_id])
    db.execute("DELETE FROM projects WHERE id = ?", [project_id])
