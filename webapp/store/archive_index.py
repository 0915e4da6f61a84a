"""The archive's index: one row per archive folder, so lists never read the folders.

``archive_entries`` is keyed by ``(project_id, archive_id)``; the archive ID is the folder
name, which starts with its UTC timestamp, so key order is time order and pages are keyset
ranges of the primary key (or of ``(project_id, status|type, archive_id)``). Per-status
counts live in ``archive_counts`` (kept by triggers), and a trigram full-text index over
ID, name, command and description is made with sqlite-utils' ``enable_fts``.
The folders stay the truth: ``rebuild`` makes the index again from them.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from sqlite_utils import Database

ENTRY_COLUMNS = (
    "project_id", "archive_id", "task_id", "name", "type", "status", "exit_code",
    "created_at", "finished_at", "created_by", "deleted_by", "archived_at",
    "payload_excerpt", "description", "log_bytes", "has_logs",
)  # fmt: skip
FTS_COLUMNS = ["archive_id", "task_id", "name", "payload_excerpt", "description"]
SEARCH_SET_LIMIT = 2_000
COUNT_CAP = 1_000


def create_tables(db: Database) -> None:
    """The migration's body (``m15_archive_index``)."""
    db["archive_entries"].create(
        {
            "project_id": str, "archive_id": str, "task_id": str, "name": str, "type": str,
            "status": str, "exit_code": int, "created_at": str, "finished_at": str,
            "created_by": str, "deleted_by": str, "archived_at": str, "payload_excerpt": str,
            "description": str, "log_bytes": int, "has_logs": int,
        },
        pk=("project_id", "archive_id"),
        not_null={"task_id", "archived_at", "log_bytes", "has_logs"},
        defaults={"log_bytes": 0, "has_logs": 0},
        if_not_exists=True,
    )  # fmt: skip
    entries = db["archive_entries"]
    for column in ("status", "type", "task_id"):
        entries.create_index(["project_id", column, "archive_id"], if_not_exists=True)
    entries.create_index(["project_id", "status", "type", "archive_id"], if_not_exists=True)
    db["archive_counts"].create(
        {"project_id": str, "status": str, "n": int},
        pk=("project_id", "status"),
        not_null={"n"},
        if_not_exists=True,
    )
    up = (
        "INSERT INTO archive_counts (project_id, status, n) "
        "VALUES (new.project_id, coalesce(new.status, ''), 1) "
        "ON CONFLICT (project_id, status) DO UPDATE SET n = n + 1;"
    )
    down = (
        "UPDATE archive_counts SET n = n - 1 "
        "WHERE project_id = old.project_id AND status = coalesce(old.status, '');"
    )
    db.execute(f"CREATE TRIGGER IF NOT EXISTS archive_entries_count_ai AFTER INSERT ON "
               f"archive_entries BEGIN {up} END")  # fmt: skip
    db.execute(f"CREATE TRIGGER IF NOT EXISTS archive_entries_count_ad AFTER DELETE ON "
               f"archive_entries BEGIN {down} END")  # fmt: skip
    entries.enable_fts(
        FTS_COLUMNS, fts_version="FTS5", create_triggers=True, tokenize="trigram", replace=True
    )


def insert_entry(db: Database, row: dict[str, Any]) -> None:
    """Add (or replace) the entry of one archive folder."""
    values = [row.get(c) for c in ENTRY_COLUMNS]
    db.execute(
        "DELETE FROM archive_entries WHERE project_id = ? AND archive_id = ?",
        [row["project_id"], row["archive_id"]],
    )
    marks = ", ".join("?" for _ in ENTRY_COLUMNS)
    db.execute(f"INSERT INTO archive_entries ({', '.join(ENTRY_COLUMNS)}) VALUES ({marks})",
               values)  # fmt: skip


def delete_entries(db: Database, project_id: str, archive_ids: list[str]) -> int:
    sql = (
        "DELETE FROM archive_entries WHERE project_id = ? "
        "AND archive_id IN (SELECT value FROM json_each(?))"
    )
    return db.execute(sql, [project_id, json.dumps(archive_ids)]).rowcount


def clear_project(db: Database, project_id: str) -> None:
    db.execute("DELETE FROM archive_entries WHERE project_id = ?", [project_id])


def get_entry(db: Database, project_id: str, archive_id: str) -> dict[str, Any] | None:
    sql = (
        f"SELECT {', '.join(ENTRY_COLUMNS)} FROM archive_entries "
        "WHERE project_id = ? AND archive_id = ?"
    )
    values = db.execute(sql, [project_id, archive_id]).fetchone()
    return None if values is None else dict(zip(ENTRY_COLUMNS, values, strict=True))


def _filters(
    db: Database, project_id: str, status: str | None, type: str | None, search: str | None
) -> tuple[str, list[Any], list[str]]:
    source, args, where = "archive_entries e", [project_id], ["e.project_id = ?"]
    if status:
        where.append("e.status = ?")
        args.append(status)
    if type:
        where.append("e.type = ?")
        args.append(type)
    if search and len(search) < 3:  # too short for trigrams: archive or task ID prefix
        where.append("(e.archive_id >= ? AND e.archive_id < ? "
                     "OR e.task_id >= ? AND e.task_id < ?)")  # fmt: skip
        args.extend([search.upper(), search.upper() + "\uffff",
                     search.lower(), search.lower() + "\uffff"])  # fmt: skip
    elif search:
        rowids = search_set(db, search)
        if rowids is None:  # common words: a newest-first scan fills a page quickly
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append("(" + " OR ".join(f"e.{c} LIKE ? ESCAPE '\\'" for c in FTS_COLUMNS) + ")")
            args.extend([f"%{escaped}%"] * len(FTS_COLUMNS))
        else:
            source = "json_each(?) j CROSS JOIN archive_entries e ON e.rowid = j.value"
            args.insert(0, json.dumps(rowids))
    return source, args, where


def search_set(db: Database, text: str) -> list[int] | None:
    """Entries whose indexed text contains ``text``, from the trigram index; None when more
    than SEARCH_SET_LIMIT match."""
    key = (id(db.conn), text, SEARCH_SET_LIMIT, db.execute("PRAGMA data_version").fetchone()[0],
           db.conn.total_changes)  # fmt: skip
    if getattr(_memo, "key", None) != key:  # a page and its count run the query once
        phrase = '"' + text.replace('"', '""') + '"'
        sql = "SELECT rowid FROM archive_entries_fts WHERE archive_entries_fts MATCH ? LIMIT ?"
        rowids = [r[0] for r in db.execute(sql, [phrase, SEARCH_SET_LIMIT + 1]).fetchall()]
        _memo.key, _memo.rowids = key, None if len(rowids) > SEARCH_SET_LIMIT else rowids
    return _memo.rowids


_memo = threading.local()


def page(
    db: Database, project_id: str, *, status: str | None = None, type: str | None = None,
    search: str | None = None, cursor: str | None = None, backward: bool = False,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], bool]:  # fmt: skip
    """Entries newest first after ``cursor`` (an archive ID; before it when ``backward``),
    and whether more lie further that way."""
    source, args, where = _filters(db, project_id, status, type, search)
    if cursor is not None:
        where.append("e.archive_id > ?" if backward else "e.archive_id < ?")
        args.append(cursor)
    order = "ASC" if backward else "DESC"
    sql = (
        f"SELECT {', '.join('e.' + c for c in ENTRY_COLUMNS)} FROM {source} "
        f"WHERE {' AND '.join(where)} ORDER BY e.archive_id {order} LIMIT ?"
    )
    rows = [dict(zip(ENTRY_COLUMNS, v, strict=True))
            for v in db.execute(sql, [*args, limit + 1]).fetchall()]  # fmt: skip
    more = len(rows) > limit
    rows = rows[:limit]
    if backward:
        rows.reverse()
    return rows, more


def count(
    db: Database, project_id: str, *, status: str | None = None, type: str | None = None,
    search: str | None = None,
) -> tuple[int, bool]:  # fmt: skip
    """How many entries match, and whether counting stopped at COUNT_CAP."""
    if not type and not search:
        sql = "SELECT coalesce(sum(n), 0) FROM archive_counts WHERE project_id = ?"
        args = [project_id]
        if status:
            sql += " AND status = ?"
            args.append(status)
        return db.execute(sql, args).fetchone()[0], False
    if search and len(search) >= 3 and search_set(db, search) is None:
        return SEARCH_SET_LIMIT, True
    source, args, where = _filters(db, project_id, status, type, search)
    sql = f"SELECT count(*) FROM (SELECT 1 FROM {source} WHERE {' AND '.join(where)} LIMIT ?)"
    total = db.execute(sql, [*args, COUNT_CAP + 1]).fetchone()[0]
    return min(total, COUNT_CAP), total > COUNT_CAP


def matching_prefix(db: Database, project_id: str, prefix: str, task_prefix: str) -> list[str]:
    """Archive IDs starting with ``prefix`` or whose task ID starts with ``task_prefix``
    (at most 2: enough to tell one from several)."""
    sql = (
        "SELECT archive_id FROM archive_entries WHERE project_id = ? AND archive_id >= ? "
        "AND archive_id < ? UNION SELECT archive_id FROM archive_entries WHERE project_id = ? "
        "AND task_id >= ? AND task_id < ? LIMIT 2"
    )
    args = [project_id, prefix, prefix + "\uffff", project_id, task_prefix or "\uffff",
            (task_prefix or "\uffff") + "\uffff"]  # fmt: skip
    return [r[0] for r in db.execute(sql, args).fetchall()]
