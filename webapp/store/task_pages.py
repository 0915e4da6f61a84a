"""Keyset pages of a project's task list: any sort column, any filter combination.

A page is read with ``WHERE <filters> AND (sort key) < (cursor) ORDER BY <sort key>
LIMIT n`` on an index whose columns are ``(project_id, [one equality filter], sort column,
created_at, task_id)``, so the last page costs what the first does (no ``OFFSET``). Every
sort breaks ties by ``created_at, task_id`` in the same direction, which makes the key unique.

Indexes (see ``m15_list_indexes``): one per sort column and one per equality filter with the
default sort; a filter combined with another sort reads the sort's index in order and checks
the filter on each row (an index search, never a table scan or a sort of every match).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from webapp.store.records import TASK_COLUMNS, _row, _select, status_counts

#: What a user sorts by -> the column.
SORT_COLUMNS = {
    "created": "created_at",
    "id": "task_id",
    "name": "name",
    "type": "type",
    "status": "status",
    "started_by": "created_by",
    "exit": "exit_code",
}
NULLABLE = frozenset({"exit_code"})
COUNT_CAP = 1_000
SEARCH_COUNT_CAP = 1_000
SEARCH_SET_LIMIT = 2_000
_SELECT = _select("task_records", TASK_COLUMNS)


@dataclass(frozen=True)
class ListQuery:
    """Filters and order of a task list (every field comes from the URL)."""

    project_id: str
    statuses: tuple[str, ...] = ()
    type: str | None = None
    created_by: str | None = None
    exit_code: int | None = None
    no_exit_code: bool = False
    graph_id: str | None = None
    since: str | None = None
    """Created at or after (stored time text)."""
    until: str | None = None
    """Created before (stored time text)."""
    search: str | None = None
    sort: str = "created"
    descending: bool = True

    @property
    def key(self) -> tuple[str, ...]:
        column = SORT_COLUMNS[self.sort]
        if column == "task_id":
            return ("task_id",)
        if column == "created_at":
            return ("created_at", "task_id")
        return (column, "created_at", "task_id")


def key_of(query: ListQuery, row: dict[str, Any]) -> list[Any]:
    """The cursor of a row: its sort key values."""
    return [row[c] for c in query.key]


def _lead(query: ListQuery) -> str | None:
    """The column whose index reads the page: the sort column's, or with the default sort
    the most selective equality filter's (all end in ``created_at, task_id``)."""
    column = SORT_COLUMNS[query.sort]
    if column == "task_id":
        return None
    if column != "created_at":
        return column
    candidates = (
        ("graph_id", query.graph_id is not None),
        ("exit_code", query.exit_code is not None or query.no_exit_code),
        ("created_by", query.created_by is not None),
        ("type", query.type is not None),
        ("status", len(query.statuses) == 1),
    )
    return next((c for c, given in candidates if given), "created_at")


def _filters(
    db: Database, query: ListQuery, *, ordered: bool = True
) -> tuple[str, list[Any], list[str]]:
    """(source, args, conditions) for the query's filters. Only the lead column's condition
    may use an index (the others carry a unary ``+``), so SQLite always reads the index that
    gives the page's order and checks the other filters on the way."""
    lead = _lead(query)

    def col(name: str) -> str:
        return f"t.{name}" if name == lead or not ordered else f"+t.{name}"

    where: list[str] = ["t.project_id = ?"]
    args: list[Any] = [query.project_id]
    source = "task_records t"
    if query.statuses:
        where.append(f"{col('status')} IN ({', '.join('?' for _ in query.statuses)})")
        args.extend(query.statuses)
    equal = {"type": query.type, "created_by": query.created_by,
             "graph_id": query.graph_id, "exit_code": query.exit_code}  # fmt: skip
    for column, value in equal.items():
        if value is not None:
            where.append(f"{col(column)} = ?")
            args.append(value)
    if query.no_exit_code:
        where.append(f"{col('exit_code')} IS NULL")
    created = "t.created_at" if not ordered or lead is not None and (
        SORT_COLUMNS[query.sort] == "created_at" or _fixed(query)
    ) else "+t.created_at"  # fmt: skip
    if query.since:
        where.append(f"{created} >= ?")
        args.append(query.since)
    if query.until:
        where.append(f"{created} < ?")
        args.append(query.until)
    search = query.search
    if search and len(search) < 3:
        where.append("t.task_id >= ? AND t.task_id < ?")
        args.extend([search.lower(), search.lower() + "\uffff"])
    elif search:
        rowids = search_set(db, search)
        if rowids is None:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append("(t.task_id LIKE ? ESCAPE '\\' OR t.name LIKE ? ESCAPE '\\' "
                         "OR t.payload LIKE ? ESCAPE '\\')")  # fmt: skip
            args.extend([f"%{escaped}%"] * 3)
        else:
            source = "json_each(?) j CROSS JOIN task_records t ON t.rowid = j.value"
            args.insert(0, json.dumps(rowids))
    return source, args, where


_memo = threading.local()


def search_set(db: Database, text: str) -> list[int] | None:
    """The rows whose ID, name or command contain ``text`` (3+ characters), from the trigram
    index; None when there are more than SEARCH_SET_LIMIT (then matches are common and a
    newest-first scan fills a page after a few thousand rows). Remembered while nothing was
    written, so a page and its count run the full-text query once."""
    key = (id(db.conn), text, db.execute("PRAGMA data_version").fetchone()[0],
           db.conn.total_changes)  # fmt: skip
    if getattr(_memo, "key", None) != key:
        phrase = '"' + text.replace('"', '""') + '"'
        sql = "SELECT rowid FROM task_search WHERE task_search MATCH ? LIMIT ?"
        rowids = [r[0] for r in db.execute(sql, [phrase, SEARCH_SET_LIMIT + 1]).fetchall()]
        _memo.key = key
        _memo.rowids = None if len(rowids) > SEARCH_SET_LIMIT else rowids
    return _memo.rowids


def _fixed(query: ListQuery) -> bool:
    """Whether an equality filter holds the sort column to one value (then the order, and
    the cursor, are only the tie-breakers)."""
    column = query.key[0]
    if column == "status":
        return len(query.statuses) == 1
    if column == "exit_code":
        return query.exit_code is not None or query.no_exit_code
    value = {"type": query.type, "created_by": query.created_by}.get(column)
    return value is not None and len(query.key) > 1


def _segments(query: ListQuery, cursor: list | None, desc: bool) -> list[tuple[str, list]]:
    """Conditions (tried in order until a page is full) that select the rows past ``cursor``
    in the order ``desc``. A nullable sort column needs two: SQLite sorts NULL lowest."""
    key = query.key
    op = "<" if desc else ">"
    if cursor is None:
        return [("", [])]
    if len(cursor) != len(key):
        raise ValueError("cursor does not fit this sort")
    if _fixed(query):
        key, cursor = key[1:], cursor[1:]
    column = key[0]
    if column not in NULLABLE or column != key[0]:
        return [(f"({', '.join('t.' + c for c in key)}) {op} ({', '.join('?' for _ in key)})",
                 list(cursor))]  # fmt: skip
    rest = key[1:]
    tie = f"({', '.join('t.' + c for c in rest)}) {op} ({', '.join('?' for _ in rest)})"
    full = f"({', '.join('t.' + c for c in key)}) {op} ({', '.join('?' for _ in key)})"
    if cursor[0] is None:
        nulls = (f"t.{column} IS NULL AND {tie}", list(cursor[1:]))
        return [nulls] if desc else [nulls, (f"t.{column} IS NOT NULL", [])]
    if desc:
        return [(full, list(cursor)), (f"t.{column} IS NULL", [])]
    return [(full, list(cursor))]


def page_statements(
    db: Database, query: ListQuery, cursor: list | None, backward: bool
) -> list[tuple[str, list[Any]]]:
    """The statements (run in order, each with its row limit appended) that read a page."""
    source, args, where = _filters(db, query)
    desc = query.descending != backward
    direction = "DESC" if desc else "ASC"
    key = query.key[1:] if _fixed(query) else query.key
    order = "ORDER BY " + ", ".join(f"t.{c} {direction}" for c in key)
    statements = []
    for condition, extra in _segments(query, cursor, desc):
        conditions = " AND ".join([*where, condition] if condition else where)
        sql = (
            f"{_SELECT} WHERE rowid IN (SELECT t.rowid FROM {source} WHERE {conditions} "
            f"{order} LIMIT ?) {order.replace('t.', '')}"
        )
        statements.append((sql, [*args, *extra]))
    return statements


def page(
    db: Database, query: ListQuery, *, cursor: list | None = None, backward: bool = False,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], bool]:  # fmt: skip
    """Up to ``limit`` rows after ``cursor`` (before it when ``backward``), in the list's
    order, and whether more rows lie further in the direction read."""
    rows: list[dict[str, Any]] = []
    more = False
    for sql, args in page_statements(db, query, cursor, backward):
        found = db.execute(sql, [*args, limit + 1 - len(rows)]).fetchall()
        rows.extend(_row(TASK_COLUMNS, v) for v in found)
        if len(rows) > limit:
            more = True
            break
    rows = rows[:limit]
    if backward:
        rows.reverse()
    return rows, more


def count(db: Database, query: ListQuery, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """How many tasks match (from ``task_counts`` when only statuses filter), and whether
    counting stopped at ``cap``."""
    plain = ListQuery(query.project_id, statuses=query.statuses)
    if query == ListQuery(query.project_id, query.statuses, sort=query.sort,
                          descending=query.descending):  # fmt: skip
        counts = status_counts(db, plain.project_id)
        total = sum(n for (_, s), n in counts.items() if not query.statuses or s in query.statuses)
        return total, False
    if query.search and len(query.search) >= 3:
        rowids = search_set(db, query.search)
        if rowids is None:  # more matches than the index hands over: say "2,000+"
            return SEARCH_SET_LIMIT, True
        if query == ListQuery(query.project_id, search=query.search, sort=query.sort,
                              descending=query.descending):  # fmt: skip
            return len(rowids), False
        cap = min(cap, SEARCH_COUNT_CAP)
    source, args, where = _filters(db, query, ordered=False)
    sql = f"SELECT count(*) FROM (SELECT 1 FROM {source} WHERE {' AND '.join(where)} LIMIT ?)"
    total = db.execute(sql, [*args, cap + 1]).fetchone()[0]
    return min(total, cap), total > cap


def matching_by_status(
    db: Database, query: ListQuery, *, plain_only: bool = False
) -> dict[str, int]:
    """``{status: n}`` of every task the query matches (a bulk action's preview);
    ``plain_only`` leaves out workflow members."""
    source, args, where = _filters(db, query, ordered=False)
    if plain_only:
        where.append("t.graph_id IS NULL")
    sql = f"SELECT t.status, count(*) FROM {source} WHERE {' AND '.join(where)} GROUP BY t.status"
    return dict(db.execute(sql, args).fetchall())


def matching_ids(
    db: Database, query: ListQuery, statuses: tuple[str, ...] = (), *, plain_only: bool = False
) -> list[str]:
    """Every task ID the query matches (optionally only those in ``statuses``, only plain
    tasks), oldest first."""
    source, args, where = _filters(db, query, ordered=False)
    if plain_only:
        where.append("t.graph_id IS NULL")
    if statuses:
        where = [*where, f"t.status IN ({', '.join('?' for _ in statuses)})"]
        args = [*args, *statuses]
    sql = f"SELECT t.task_id FROM {source} WHERE {' AND '.join(where)} ORDER BY t.created_at"
    return [r[0] for r in db.execute(sql, args).fetchall()]
