"""Full-text index of every log, live and archived (SQLite FTS5 through sqlite-utils).

- ``log_files``: one row per log file: whose it is (project, task, run, archive), where
  it is, and how far it has been indexed (``indexed_bytes``; ``done`` once complete).
- ``log_blocks``: the indexed text in blocks of whole lines (about 64 KB each) with the
  line number and byte offset where each starts; ``log_blocks_fts`` is its FTS5 index,
  made and kept by sqlite-utils' ``enable_fts`` (ranked with bm25). Blocks rather than
  lines: a 50 MB log is ~800 rows, indexed ~10x faster than 500,000 line rows.
- ``log_index_state``: how far the indexer has looked through ``runs`` for new logs.
"""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

FILE_COLUMNS = (
    "id", "project_id", "task_id", "run_no", "archive_id", "path", "indexed_bytes",
    "indexed_lines", "done",
)  # fmt: skip


def create_tables(db: Database) -> None:
    """The migration's body (``m15_log_search``)."""
    db["log_files"].create(
        {
            "id": int, "project_id": str, "task_id": str, "run_no": int, "archive_id": str,
            "path": str, "indexed_bytes": int, "indexed_lines": int, "done": int,
        },
        pk="id",
        not_null={"project_id", "task_id", "run_no", "path", "indexed_bytes",
                  "indexed_lines", "done"},
        defaults={"indexed_bytes": 0, "indexed_lines": 0, "done": 0},
        if_not_exists=True,
    )  # fmt: skip
    db["log_files"].create_index(["path"], unique=True, if_not_exists=True)
    db["log_files"].create_index(["project_id", "task_id", "run_no"], if_not_exists=True)
    db["log_files"].create_index(["project_id", "archive_id"], if_not_exists=True)
    db.execute("CREATE INDEX IF NOT EXISTS log_files_pending ON log_files (id) WHERE done = 0")
    db["log_blocks"].create(
        {"id": int, "file_id": int, "line_no": int, "offset": int, "length": int, "text": str},
        pk="id",
        not_null={"file_id", "line_no", "offset", "length", "text"},
        if_not_exists=True,
    )
    db["log_blocks"].create_index(["file_id", "offset"], if_not_exists=True)
    db["log_blocks"].enable_fts(["text"], fts_version="FTS5", create_triggers=True, replace=True)
    db["log_index_state"].create({"key": str, "value": int}, pk="key", if_not_exists=True)


def _file(values: tuple | None) -> dict[str, Any] | None:
    return None if values is None else dict(zip(FILE_COLUMNS, values, strict=True))


def register_file(
    db: Database, project_id: str, task_id: str, run_no: int, path: str,
    archive_id: str | None = None,
) -> None:  # fmt: skip
    """Note a log to index (nothing happens if its path is known already)."""
    db.execute(
        "INSERT INTO log_files (project_id, task_id, run_no, archive_id, path) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (path) DO NOTHING",
        [project_id, task_id, run_no, archive_id, path],
    )


def files_of_task(db: Database, project_id: str, task_id: str) -> list[dict[str, Any]]:
    sql = (
        f"SELECT {', '.join(FILE_COLUMNS)} FROM log_files WHERE project_id = ? AND task_id = ? "
        "AND archive_id IS NULL"
    )
    return [_file(v) for v in db.execute(sql, [project_id, task_id]).fetchall()]


def move_file(db: Database, file_id: int, path: str, archive_id: str) -> None:
    """The live log was archived: its index now stands for the archived copy."""
    db.execute(
        "UPDATE log_files SET path = ?, archive_id = ? WHERE id = ?", [path, archive_id, file_id]
    )


def pending_files(db: Database, limit: int) -> list[dict[str, Any]]:
    sql = f"SELECT {', '.join(FILE_COLUMNS)} FROM log_files WHERE done = 0 ORDER BY id LIMIT ?"
    return [_file(v) for v in db.execute(sql, [limit]).fetchall()]


def get_file(db: Database, file_id: int) -> dict[str, Any] | None:
    sql = f"SELECT {', '.join(FILE_COLUMNS)} FROM log_files WHERE id = ?"
    return _file(db.execute(sql, [file_id]).fetchone())


def add_blocks(
    db: Database, file_id: int, blocks: list[tuple[int, int, int, str]], *,
    from_bytes: int, indexed_bytes: int, indexed_lines: int, done: bool,
) -> bool:  # fmt: skip
    """Append ``(line_no, offset, length, text)`` blocks read from ``from_bytes`` on and move
    the file's mark; False (nothing written) when another indexer moved it first."""
    moved = db.execute(
        "UPDATE log_files SET indexed_bytes = ?, indexed_lines = ?, done = ? "
        "WHERE id = ? AND indexed_bytes = ?",
        [indexed_bytes, indexed_lines, int(done), file_id, from_bytes],
    ).rowcount
    if not moved:
        return False
    db.conn.executemany(
        "INSERT INTO log_blocks (file_id, line_no, offset, length, text) VALUES (?, ?, ?, ?, ?)",
        [(file_id, *block) for block in blocks],
    )
    return True


def forget_files(db: Database, file_ids: list[int]) -> None:
    ids = json.dumps(file_ids)
    db.execute("DELETE FROM log_blocks WHERE file_id IN (SELECT value FROM json_each(?))", [ids])
    db.execute("DELETE FROM log_files WHERE id IN (SELECT value FROM json_each(?))", [ids])


def archived_file_ids(db: Database, project_id: str, archive_ids: list[str]) -> list[int]:
    sql = (
        "SELECT id FROM log_files WHERE project_id = ? "
        "AND archive_id IN (SELECT value FROM json_each(?))"
    )
    return [r[0] for r in db.execute(sql, [project_id, json.dumps(archive_ids)]).fetchall()]


def state(db: Database, key: str) -> int:
    row = db.execute("SELECT value FROM log_index_state WHERE key = ?", [key]).fetchone()
    return 0 if row is None else row[0]


def set_state(db: Database, key: str, value: int) -> None:
    db.execute(
        "INSERT INTO log_index_state (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )


def new_runs(db: Database, after_rowid: int, limit: int) -> list[tuple]:
    """``(rowid, project_id, task_id, run_no, finished)`` of runs added after ``after_rowid``."""
    sql = (
        "SELECT rowid, project_id, task_id, run_no, finished_at IS NOT NULL FROM runs "
        "WHERE rowid > ? ORDER BY rowid LIMIT ?"
    )
    return db.execute(sql, [after_rowid, limit]).fetchall()


def run_finished(db: Database, project_id: str, task_id: str, run_no: int) -> bool | None:
    """Whether the run has finished (None when it no longer exists)."""
    sql = "SELECT finished_at FROM runs WHERE project_id = ? AND task_id = ? AND run_no = ?"
    row = db.execute(sql, [project_id, task_id, run_no]).fetchone()
    return None if row is None else row[0] is not None


def search_blocks(
    db: Database, query: str, *, project_id: str | None = None, archived: bool | None = None,
    statuses: tuple[str, ...] = (), type: str | None = None, limit: int = 50,
) -> list[dict[str, Any]]:  # fmt: skip
    """Blocks matching ``query`` (every word, any order), best first (bm25), with their file.

    Filters (project, archived or live, the task's status and type) pick the files first.
    """
    where: list[str] = []
    args: dict[str, Any] = {}

    def param(value: Any) -> str:
        name = f"p{len(args)}"
        args[name] = value
        return f":{name}"

    if project_id is not None:
        where.append(f"f.project_id = {param(project_id)}")
    if archived is not None:
        where.append("f.archive_id IS NOT NULL" if archived else "f.archive_id IS NULL")
    if statuses:
        marks = ", ".join(param(s) for s in statuses)
        where.append(f"coalesce(e.status, t.status) IN ({marks})")
    if type:
        where.append(f"coalesce(e.type, t.type) = {param(type)}")
    files = (
        "SELECT f.id FROM log_files f "
        "LEFT JOIN task_records t ON f.archive_id IS NULL AND t.project_id = f.project_id "
        "AND t.task_id = f.task_id "
        "LEFT JOIN archive_entries e ON e.project_id = f.project_id "
        "AND e.archive_id = f.archive_id"
    )
    if where:
        files += " WHERE " + " AND ".join(where)
    rows = db["log_blocks"].search(
        query,
        where=f"file_id IN ({files})",
        where_args=args,
        columns=["id", "file_id", "line_no", "offset", "length", "text"],
        limit=limit,
        include_rank=True,
        quote=True,
    )
    return list(rows)
