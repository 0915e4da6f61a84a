"""The task list as users page through it: filters, any sort, keyset cursors.

A cursor is the sort key of a page's edge row, as URL-safe base64 JSON; reading the page
after (or before) it is an index range, so page 20,000 costs what page 1 does.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from webapp.engine.task import TASK_TYPES
from webapp.limits import PAGE_SIZE_MAX as MAX_PAGE
from webapp.limits import SEARCH_MAX_CHARS as MAX_SEARCH_CHARS
from webapp.orchestration import context
from webapp.orchestration.errors import InvalidTaskRequest
from webapp.orchestration.projects import project_row
from webapp.orchestration.query import TaskMeta, _statuses, task_meta_from_row
from webapp.store import task_pages
from webapp.store.task_pages import SORT_COLUMNS, ListQuery

SORTS = tuple(SORT_COLUMNS)


@dataclass(frozen=True)
class KeysetPage:
    """One page of a task list and the cursors of its neighbours."""

    items: list[TaskMeta]
    total: int
    total_capped: bool
    next_cursor: str | None
    prev_cursor: str | None

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_previous(self) -> bool:
        return self.prev_cursor is not None


def encode_cursor(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> list:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        values = None
    if not isinstance(values, list) or not all(
        v is None or isinstance(v, str | int) and not isinstance(v, bool) for v in values
    ):
        raise InvalidTaskRequest(f"Page cursor {text[:40]!r} is not one this list made")
    return values


def _day(value: date | str | None, what: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidTaskRequest(f"{what} must be a date like 2026-03-05, got {value!r}") from None


def build_query(
    project_id: str,
    *,
    status=None,
    type: str | None = None,
    started_by: str | None = None,
    exit_code: int | str | None = None,
    workflow: str | None = None,
    since: date | str | None = None,
    until: date | str | None = None,
    search: str | None = None,
    sort: str = "-created",
) -> ListQuery:
    """A validated list query; ``sort`` is a column name, ``-`` in front for descending.
    ``until`` is inclusive (the whole day); ``exit_code="none"`` means no exit code yet."""
    statuses = _statuses(status)
    if type not in (None, "") and type not in TASK_TYPES:
        raise InvalidTaskRequest(
            f"Unknown task type {type!r}; expected one of: {', '.join(TASK_TYPES)}"
        )
    descending = sort.startswith("-")
    column = sort.lstrip("-")
    if column not in SORT_COLUMNS:
        raise InvalidTaskRequest(f"Unknown sort {sort!r}; sort by one of: {', '.join(SORTS)}")
    no_exit = exit_code == "none"
    code = None
    if exit_code not in (None, "", "none"):
        try:
            code = int(exit_code)
        except (TypeError, ValueError):
            raise InvalidTaskRequest(
                f"exit code must be a whole number or 'none', got {exit_code!r}"
            ) from None
    first, last = _day(since, "from"), _day(until, "to")
    if first and last and first > last:
        raise InvalidTaskRequest(f"The date range {first} to {last} ends before it starts")
    search = (search or "").strip()
    if len(search) > MAX_SEARCH_CHARS:
        raise InvalidTaskRequest(f"search text is limited to {MAX_SEARCH_CHARS} characters")

    def stamp(day: date) -> str:
        return datetime.combine(day, time(), UTC).isoformat(timespec="microseconds")

    return ListQuery(
        project_id,
        statuses=statuses,
        type=type or None,
        created_by=(started_by or "").strip() or None,
        exit_code=code,
        no_exit_code=no_exit,
        graph_id=(workflow or "").strip() or None,
        since=stamp(first) if first else None,
        until=stamp(last + timedelta(days=1)) if last else None,
        search=search or None,
        sort=column,
        descending=descending,
    )


def task_page(
    query: ListQuery,
    *,
    after: str | None = None,
    before: str | None = None,
    last: bool = False,
    limit: int = 50,
) -> KeysetPage:
    """The page after ``after`` (or before ``before``, or the last one, or the first)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidTaskRequest(f"limit must be between 1 and {MAX_PAGE}, got {limit!r}")
    db = context.db()
    project_row(query.project_id)
    backward = bool(before) or last
    cursor = decode_cursor(before or after) if (before or after) else None
    try:
        rows, more = task_pages.page(db, query, cursor=cursor, backward=backward, limit=limit)
    except ValueError as exc:
        raise InvalidTaskRequest(f"Page cursor does not fit this sort: {exc}") from None
    total, capped = task_pages.count(db, query)
    edge_first = encode_cursor(task_pages.key_of(query, rows[0])) if rows else None
    edge_last = encode_cursor(task_pages.key_of(query, rows[-1])) if rows else None
    if backward:
        has_next, has_prev = not last and bool(rows), more
    else:
        has_next, has_prev = more, cursor is not None and bool(rows)
    return KeysetPage(
        items=[task_meta_from_row(r) for r in rows],
        total=total,
        total_capped=capped,
        next_cursor=edge_last if has_next else None,
        prev_cursor=edge_first if has_prev else None,
    )


def matching_by_status(query: ListQuery, *, plain_only: bool = False) -> dict[str, int]:
    """How many tasks of each status the query matches (what a bulk action would touch);
    ``plain_only`` leaves out workflow members (their workflow stops and retries them)."""
    project_row(query.project_id)
    return task_pages.matching_by_status(context.db(), query, plain_only=plain_only)


def matching_task_ids(
    query: ListQuery, statuses: tuple[str, ...] = (), *, plain_only: bool = False
) -> list[str]:
    """Every task ID the query matches, oldest first (optionally only in ``statuses``)."""
    project_row(query.project_id)
    return task_pages.matching_ids(context.db(), query, statuses, plain_only=plain_only)
