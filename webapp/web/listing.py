"""List filters, sort and keyset cursors read from (and written back to) the URL's query string."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from webapp.engine import TASK_TYPES
from webapp.limits import LIST_PAGE_MAX, SEARCH_MAX_CHARS
from webapp.orchestration import UI_STATUSES
from webapp.orchestration.llm import USAGE_SORTS

PAGE_SIZE = 50
SORTS = ("created", "id", "name", "type", "status", "started_by", "exit")
_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,2000}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_EXIT = re.compile(r"-?\d{1,9}|none")

#: URL names of the fields, where they differ (``from``/``to`` are Python keywords).
_URL_NAMES = {"since": "from", "until": "to"}
_PAGING = ("after", "before", "last")


@dataclass(frozen=True)
class TaskFilters:
    """What the user asked a list to show; every field lives in the URL."""

    status: str | None = None
    type: str | None = None
    q: str | None = None
    started_by: str | None = None
    exit: str | None = None
    workflow: str | None = None
    since: str | None = None
    until: str | None = None
    sort: str = "-created"
    after: str | None = None
    before: str | None = None
    last: bool = False
    page: int = 1
    """A page number: only the usage sort (tokens, cost) pages by number."""
    usage_sort: str | None = None
    """Order by the current run's tokens or cost (see ``llm.USAGE_SORTS``)."""

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    @property
    def active(self) -> bool:
        return bool(self.status or self.type or self.q or self.started_by or self.exit
                    or self.workflow or self.since or self.until)  # fmt: skip

    @property
    def paged(self) -> bool:
        return bool(self.after or self.before or self.last)

    def args(self, **changes) -> dict[str, str | int]:
        """Query arguments for a link to this list with ``changes`` applied; defaults left out.
        A change of filter or sort goes back to the first page unless it names a cursor."""
        if not any(k in changes for k in (*_PAGING, "page")):
            changes = {"after": None, "before": None, "last": False, "page": 1, **changes}
        chosen = replace(self, **changes)
        out: dict[str, str | int] = {}
        for field in fields(chosen):
            value = getattr(chosen, field.name)
            if field.name == "sort" and value == "-created":
                continue
            if field.name == "page" and value == 1:
                continue
            if value:
                out[_URL_NAMES.get(field.name, field.name)] = 1 if value is True else value
        return out

    def sort_args(self, column: str) -> dict[str, str | int]:
        """A column header's link: sort by it (descending first), or flip its direction."""
        current = self.sort.lstrip("-")
        descending = self.sort.startswith("-")
        new = column if current == column and descending else f"-{column}"
        return self.args(sort=new, usage_sort=None)

    def sort_state(self, column: str) -> str:
        """``aria-sort`` of a column header."""
        if self.usage_sort or self.sort.lstrip("-") != column:
            return "none"
        return "descending" if self.sort.startswith("-") else "ascending"


def parse_choice(args: MultiDict, key: str, allowed: tuple[str, ...]) -> str | None:
    value = (args.get(key) or "").strip().lower()
    if not value or value == "all":
        return None
    if value not in allowed:
        raise BadRequest(f"Unknown {key} {value!r}; choose one of: {', '.join(allowed)}.")
    return value


def _matching(args: MultiDict, key: str, pattern: re.Pattern, what: str) -> str | None:
    value = (args.get(key) or "").strip()
    if not value:
        return None
    if not pattern.fullmatch(value):
        raise BadRequest(f"{key} must be {what}, got {value[:40]!r}.")
    return value


def _text(args: MultiDict, key: str) -> str | None:
    return (args.get(key) or "").strip()[:SEARCH_MAX_CHARS] or None


def parse_page(args: MultiDict) -> int:
    raw = (args.get("page") or "1").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= LIST_PAGE_MAX:
        raise BadRequest(f"Page {raw[:20]!r} is not a page number; pages start at 1.")
    return int(raw)


def parse_sort(args: MultiDict) -> str:
    raw = (args.get("sort") or "-created").strip()
    if raw.lstrip("-") not in SORTS:
        raise BadRequest(f"Unknown sort {raw!r}; sort by one of: {', '.join(SORTS)}.")
    return raw


def parse_filters(args: MultiDict) -> TaskFilters:
    """Filters from ``request.args``; unknown values are a 400 naming the allowed ones."""
    q = (args.get("q") or "").strip()[:SEARCH_MAX_CHARS] or None
    return TaskFilters(
        status=parse_choice(args, "status", UI_STATUSES),
        type=parse_choice(args, "type", TASK_TYPES),
        q=q,
        started_by=_text(args, "started_by"),
        exit=_matching(args, "exit", _EXIT, "a whole number or 'none'"),
        workflow=_text(args, "workflow"),
        since=_matching(args, "from", _DATE, "a date like 2026-03-05"),
        until=_matching(args, "to", _DATE, "a date like 2026-03-05"),
        sort=parse_sort(args),
        after=_matching(args, "after", _CURSOR, "a page cursor from this list"),
        before=_matching(args, "before", _CURSOR, "a page cursor from this list"),
        last=(args.get("last") or "") in ("1", "true"),
        page=parse_page(args),
        usage_sort=parse_choice(args, "usage_sort", USAGE_SORTS),
    )


@dataclass(frozen=True)
class Pager:
    """What a pagination bar shows for a keyset page."""

    total: int
    capped: bool
    shown: int
    next_cursor: str | None
    prev_cursor: str | None
    at_start: bool
    numbered: bool = False
    """Cursors are page numbers (the usage sort)."""

    @classmethod
    def for_keyset(cls, page, filters) -> Pager:
        """The bar of a keyset page (task list, archive) read with ``filters``' cursor."""
        return cls(
            total=page.total,
            capped=page.total_capped,
            shown=len(page.items),
            next_cursor=page.next_cursor,
            prev_cursor=page.prev_cursor,
            at_start=not filters.paged,
        )

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_prev(self) -> bool:
        return self.prev_cursor is not None

    @property
    def total_text(self) -> str:
        return f"{self.total:,}+" if self.capped else f"{self.total:,}"
