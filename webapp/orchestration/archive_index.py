"""The archive as lists read it: an index in SQLite, written when a task is archived.

The folders (snapshot + logs) stay the truth; the index holds what the archive list shows,
filters and counts (name, IDs, status, exit code, times, who deleted it, log sizes).
Retention removes folder and entry together; :func:`rebuild_archive_index` makes the index
again from the folders (``webapp archive reindex``).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webapp.orchestration import context, search
from webapp.orchestration.archive import (
    LOGS_DIR,
    SNAPSHOT_FILE,
    ArchivedTask,
    _load,
    apply_retention,
)
from webapp.orchestration.errors import InvalidTaskRequest
from webapp.orchestration.paths import safe_join
from webapp.orchestration.projects import check_project_id
from webapp.orchestration.task_lists import decode_cursor, encode_cursor
from webapp.store import archive_index
from webapp.store.db import immediate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchivePage:
    """One page of the archive list, newest first."""

    items: list[ArchivedTask]
    total: int
    total_capped: bool
    next_cursor: str | None
    prev_cursor: str | None


def _log_bytes(archive_dir: Path) -> int:
    total = 0
    for folder, _, names in os.walk(archive_dir / LOGS_DIR):
        for name in names:
            try:
                total += os.stat(os.path.join(folder, name), follow_symlinks=False).st_size
            except OSError:
                continue
    return total


def entry_for(archive_dir: Path) -> dict[str, Any] | None:
    """The index row of one archive folder (None while it has no readable snapshot)."""
    item = _load(archive_dir)
    if item is None:
        return None
    try:
        data = json.loads((archive_dir / SNAPSHOT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    return {
        "project_id": archive_dir.parent.name, "archive_id": item.archive_id,
        "task_id": item.task_id, "name": item.name, "type": item.type, "status": item.status,
        "exit_code": item.exit_code, "created_at": item.created_at,
        "finished_at": item.finished_at, "created_by": item.created_by,
        "deleted_by": data.get("deleted_by"), "archived_at": item.archived_at,
        "payload_excerpt": item.payload_excerpt,
        "description": str(data.get("description") or ""),
        "log_bytes": _log_bytes(archive_dir), "has_logs": int(item.has_logs),
    }  # fmt: skip


def index_folder(archive_dir: str | os.PathLike[str]) -> bool:
    """Write (or rewrite) the index entry of one archive folder; False if it has none yet."""
    row = entry_for(Path(archive_dir))
    if row is None:
        return False
    db = context.db()
    with immediate(db):
        archive_index.insert_entry(db, row)
    return True


def item_from_entry(row: dict[str, Any]) -> ArchivedTask:
    root = context.current().archive_root
    return ArchivedTask(
        archive_dir=Path(root, row["project_id"], row["archive_id"]),
        archived_at=row["archived_at"],
        task_id=row["task_id"],
        name=row["name"],
        exit_code=row["exit_code"],
        status=row["status"],
        type=row["type"],
        payload_excerpt=row["payload_excerpt"] or "",
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        created_by=row["created_by"],
        has_logs=bool(row["has_logs"]),
    )


def archive_page(
    project_id: str,
    *,
    status: str | None = None,
    type: str | None = None,
    search: str | None = None,
    after: str | None = None,
    before: str | None = None,
    last: bool = False,
    limit: int = 50,
) -> ArchivePage:
    """A page of a project's archive from the index (a keyset range, newest first); a
    deleted project's archive stays readable."""
    check_project_id(project_id)
    backward = bool(before) or last
    cursor = None
    if before or after:
        values = decode_cursor(before or after)
        if len(values) != 1 or not isinstance(values[0], str):
            raise InvalidTaskRequest("That page cursor is not one the archive list made")
        cursor = values[0]
    db = context.db()
    search = (search or "").strip() or None
    rows, more = archive_index.page(
        db, project_id, status=status, type=type, search=search, cursor=cursor,
        backward=backward, limit=limit,
    )  # fmt: skip
    total, capped = archive_index.count(db, project_id, status=status, type=type, search=search)
    first = encode_cursor([rows[0]["archive_id"]]) if rows else None
    final = encode_cursor([rows[-1]["archive_id"]]) if rows else None
    if backward:
        has_next, has_prev = not last and bool(rows), more
    else:
        has_next, has_prev = more, cursor is not None and bool(rows)
    return ArchivePage(
        items=[item_from_entry(r) for r in rows],
        total=total,
        total_capped=capped,
        next_cursor=final if has_next else None,
        prev_cursor=first if has_prev else None,
    )


def indexed_archive(project_id: str, archive_id: str) -> ArchivedTask | None:
    """One archive by its exact folder name, from the index (None when not indexed)."""
    row = archive_index.get_entry(context.db(), project_id, archive_id)
    return None if row is None else item_from_entry(row)


def apply_archive_retention(project_id: str, **limits) -> list[Path]:
    """Retention on folders and index together (see ``archive.apply_retention``)."""
    removed = apply_retention(context.current().archive_root, project_id, **limits)
    if removed:
        db = context.db()
        with immediate(db):
            archive_index.delete_entries(db, project_id, [p.name for p in removed])
        search.forget_archives(project_id, [p.name for p in removed])
    return removed


def archived_projects() -> list[str]:
    """Every project with an archive folder (deleted projects' archives included)."""
    root = Path(context.current().archive_root)
    if not root.is_dir():
        return []
    return sorted(e.name for e in os.scandir(root) if e.is_dir(follow_symlinks=False))


def rebuild_archive_index(project_id: str) -> int:
    """Index every archive folder of a project again (the folders are the truth);
    returns how many entries the index holds now."""
    check_project_id(project_id)
    project_dir = safe_join(context.current().archive_root, project_id, what="project id")
    rows = []
    if project_dir.is_dir():
        for entry in os.scandir(project_dir):
            if entry.is_dir(follow_symlinks=False):
                row = entry_for(Path(entry.path))
                if row is not None:
                    rows.append(row)
                    search.register_archive(project_id, row["task_id"], Path(entry.path))
    db = context.db()
    with immediate(db):
        archive_index.clear_project(db, project_id)
        for row in rows:
            archive_index.insert_entry(db, row)
    return len(rows)
